// Stream controller of the accelerator top (docs/rtl.md, "Beat order", "Timing").
//   in : per step ceil(I / IN_ELEMS) beats of x, IN_ELEMS elements a beat (element j of a beat in
//        tdata[j*S_EW +: S_EW], x.bits sign-extended; lanes past I ignored); s_axis_tlast on the
//        last beat of a sequence's last step.
//   out: OUT_ELEMS words a beat (word j in tdata[j*M_EW +: M_EW], sign-extended; lanes past the
//        job's end zero). OUT_MODE 0 ("steps"): per step ceil(HID / OUT_ELEMS) beats of the last
//        layer's h; 1 ("last"): only the sequence's last step's h; 2 ("head"): no h. After the last
//        step ceil(NCLS / OUT_ELEMS) head beats (m_axis_tuser = 1); m_axis_tlast on the sequence's
//        last beat. Then the state is cleared.
// I/O overlaps compute. Inputs go into two x buffers (s_axis_tready whenever one is free); a step
// starts when its buffer is full and the previous step has ended: its h copied into the output
// shift register (which streams it out through a skid buffer while the next step computes), or,
// for a step whose h is not sent, its done seen.
// States: IDLE -> RUN (layers) -> [WAIT (h not yet copied)] -> RUN (next step) | HEAD | IDLE.
// step_cycles / head_cycles count the cycles spent in RUN and HEAD since reset: the compute time,
// independent of stream stalls (hwsim.datapath._schedule predicts it, and the end-to-end cycles).
`default_nettype none
module hwsim_axis_ctrl #(
    parameter I      = 3,
    parameter HID    = 4,
    parameter NCLS   = 0,      // 0: no head
    parameter X_BITS = 16,
    parameter H_BITS = 16,
    parameter Y_BITS = 16,
    parameter S_W    = 16,     // IN_ELEMS lanes of S_W / IN_ELEMS bits
    parameter M_W    = 16,     // OUT_ELEMS lanes of M_W / OUT_ELEMS bits
    parameter IN_ELEMS  = 1,
    parameter OUT_ELEMS = 1,
    parameter OUT_MODE  = 0,   // 0 steps, 1 last, 2 head
    parameter YW     = ((NCLS > 0) ? NCLS : 1) * Y_BITS
) (
    input  wire                  clk,
    input  wire                  rst,
    input  wire [S_W-1:0]        s_axis_tdata,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    input  wire                  s_axis_tlast,
    output wire [M_W-1:0]        m_axis_tdata,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output wire                  m_axis_tlast,
    output wire                  m_axis_tuser,
    output wire [I*X_BITS-1:0]   x_flat,
    output reg                   step_start,
    input  wire                  step_done,
    input  wire [HID*H_BITS-1:0] h_flat,
    output reg                   head_start,
    input  wire                  head_done,
    input  wire [YW-1:0]         y_flat,
    output reg                   clear,
    output reg  [31:0]           step_cycles,
    output reg  [31:0]           head_cycles
);
    localparam NC  = (NCLS > 0) ? NCLS : 1;
    localparam S_EW = S_W / IN_ELEMS;                        // bits of an input lane
    localparam M_EW = M_W / OUT_ELEMS;                       // bits of an output lane
    localparam NBI = (I + IN_ELEMS - 1) / IN_ELEMS;          // input beats a step
    localparam NBH = (HID + OUT_ELEMS - 1) / OUT_ELEMS;      // output beats of h
    localparam NBC = (NC + OUT_ELEMS - 1) / OUT_ELEMS;       // output beats of the head's y
    localparam NB  = (NBH > NBC) ? NBH : NBC;                // beats the output shift register holds
    localparam NW  = NB * OUT_ELEMS;                         // words, padding included
    localparam IW  = ((NBI) > 2 ? $clog2(NBI) : 1);
    localparam integer I_M1_I = NBI - 1;
    localparam [IW-1:0] I_M1 = I_M1_I[IW-1:0];
    localparam [1:0] S_IDLE = 2'd0, S_RUN = 2'd1, S_WAIT = 2'd2, S_HEAD = 2'd3;

    reg [1:0]    state;
    reg          cur_last;      // the running step is its sequence's last
    reg          ypend;         // the head's y waits for the output shift register

    // Input path: two x buffers. The stream fills buffer `wb` (s_axis_tready while it is free),
    // the layers read buffer `rb`; a buffer is freed when its step ends (h copied out, or done).
    // Element gi arrives on lane gi % IN_ELEMS of the buffer's beat gi / IN_ELEMS.
    reg              full0, full1, last0, last1;   // buffer 0 / 1 holds a step's x; and the step is its sequence's last
    reg              wb, rb;
    reg [IW-1:0]     fidx;
    wire             s_fire;

    // sign-extended output words (zero beyond HID / NC), OUT_ELEMS to a beat
    wire [NW*M_EW-1:0] h_words;
    wire [NW*M_EW-1:0] y_words;
    genvar gi;
    generate
        for (gi = 0; gi < I; gi = gi + 1) begin : g_x
            localparam integer BI_I = gi / IN_ELEMS;
            localparam [IW-1:0] BI = BI_I[IW-1:0];
            localparam integer LANE = gi % IN_ELEMS;
            reg [X_BITS-1:0] b0, b1;
            wire hit = s_fire & (fidx == BI);
            always @(posedge clk) begin
                if (hit & ~wb) b0 <= s_axis_tdata[LANE*S_EW +: X_BITS];
                if (hit & wb) b1 <= s_axis_tdata[LANE*S_EW +: X_BITS];
            end
            assign x_flat[gi*X_BITS +: X_BITS] = rb ? b1 : b0;
        end
        for (gi = 0; gi < NW; gi = gi + 1) begin : g_w
            if (gi < HID) begin : g_h
                wire [H_BITS-1:0] hv = h_flat[gi*H_BITS +: H_BITS];
                if (M_EW > H_BITS) begin : g_ext
                    assign h_words[gi*M_EW +: M_EW] = {{(M_EW - H_BITS){hv[H_BITS-1]}}, hv};
                end else begin : g_same
                    assign h_words[gi*M_EW +: M_EW] = hv;
                end
            end else begin : g_h0
                assign h_words[gi*M_EW +: M_EW] = {M_EW{1'b0}};
            end
            if (gi < NC) begin : g_y
                wire [Y_BITS-1:0] yv = y_flat[gi*Y_BITS +: Y_BITS];
                if (M_EW > Y_BITS) begin : g_ext
                    assign y_words[gi*M_EW +: M_EW] = {{(M_EW - Y_BITS){yv[Y_BITS-1]}}, yv};
                end else begin : g_same
                    assign y_words[gi*M_EW +: M_EW] = yv;
                end
            end else begin : g_y0
                assign y_words[gi*M_EW +: M_EW] = {M_EW{1'b0}};
            end
        end
    endgenerate
    wire unused_s = ^s_axis_tdata;  // lanes wider than x.bits, lanes past I

    // Output path: the step's h (or the head's y) is copied in one cycle into the output shift
    // register osr (NB beats of OUT_ELEMS words, beat 0 next), which hands one beat a cycle to a two-register skid
    // buffer (AXI register slice): m_axis_* come from its output register, and m_axis_tready only
    // reaches that register and the skid register, never the shift register.
    localparam OCW = $clog2(NB + 1);
    localparam integer NBH_I = NBH, NBC_I = NBC;
    localparam [OCW-1:0] OC_H = NBH_I[OCW-1:0];
    localparam [OCW-1:0] OC_C = NBC_I[OCW-1:0];
    localparam [OCW-1:0] OC_1 = 1;
    reg  [M_W-1:0] osr [0:NB-1];
    reg  [OCW-1:0] ocount;       // beats left in osr
    reg            o_user, o_last;  // of the job in osr: head words; its last word ends the packet
    reg  [M_W-1:0] m_data, k_data;  // output register, skid register
    reg            m_valid, m_last, m_user, k_valid, k_last, k_user;
    wire           pop = ~k_valid & (ocount != {OCW{1'b0}});  // skid ready: a registered condition
    wire           pop_last = o_last & (ocount == OC_1);
    wire           o_free = (ocount == {OCW{1'b0}}) | (pop & (ocount == OC_1));  // can load at this edge
    reg            load_h, load_y;  // load osr at this edge (set by the state machine below)
    // pop again, as a register of its own: the shift enable of every osr word (NB x M_W flip-flops)
    // comes from it, not through the skid's k_valid and the ocount compare (that was the worst path of
    // the larger foldings on ECP5). Its input is pop's from the next values of k_valid and ocount.
    wire [OCW-1:0] ocount_n = (load_h | load_y) ? (load_y ? OC_C : OC_H) : (pop ? ocount - OC_1 : ocount);
    wire           k_valid_n = (m_axis_tready | ~m_valid) ? 1'b0 : (pop | k_valid);
    reg            pop_q;
    always @(posedge clk) pop_q <= ~rst & ~k_valid_n & (ocount_n != {OCW{1'b0}});

    integer oj;
    always @(posedge clk) begin
        if (load_h | load_y) begin
            for (oj = 0; oj < NB; oj = oj + 1) osr[oj] <= load_y ? y_words[oj*M_W +: M_W] : h_words[oj*M_W +: M_W];
        end else if (pop_q) begin  // = pop
            for (oj = 0; oj < NB - 1; oj = oj + 1) osr[oj] <= osr[oj + 1];
        end
    end
    always @(posedge clk) begin
        if (rst) begin
            ocount <= {OCW{1'b0}};
            o_user <= 1'b0;
            o_last <= 1'b0;
            m_valid <= 1'b0;
            k_valid <= 1'b0;
        end else begin
            if (load_h | load_y) begin
                ocount <= load_y ? OC_C : OC_H;
                o_user <= load_y;
                o_last <= load_y | (cur_last & (NCLS == 0));
            end else if (pop) begin
                ocount <= ocount - OC_1;
            end
            if (m_axis_tready | ~m_valid) begin
                m_valid <= k_valid | pop;
                k_valid <= 1'b0;
            end else if (pop) begin
                k_valid <= 1'b1;
            end
        end
    end
    always @(posedge clk) begin
        if (m_axis_tready | ~m_valid) begin
            m_data <= k_valid ? k_data : osr[0];
            m_last <= k_valid ? k_last : pop_last;
            m_user <= k_valid ? k_user : o_user;
        end
        if (pop) begin
            k_data <= osr[0];
            k_last <= pop_last;
            k_user <= o_user;
        end
    end
    assign m_axis_tvalid = m_valid;
    assign m_axis_tdata  = m_data;
    assign m_axis_tlast  = m_last;
    assign m_axis_tuser  = m_user;

    // one register per buffer flag, selected explicitly: a dynamic bit write (full[wb] <= ...) became
    // 32-bit index arithmetic in yosys 0.23, a carry chain that was the R1 x L1 critical path
    assign s_axis_tready = ~(wb ? full1 : full0);
    assign s_fire = s_axis_tvalid & s_axis_tready;

    // a finished step (RUN seeing done, or WAIT) whose h is sent copies h out when the shift
    // register is free and holds no older y, and ends then; one whose h is not sent (OUT_MODE) ends
    // at once, unless it is a sequence's last and the previous head's y still waits to be copied
    // (its head would overwrite that y). The head's y is copied when the head is done (or as soon
    // as the register is free).
    wire fin = ((state == S_RUN) & step_done) | (state == S_WAIT);
    wire y_req = ypend | ((state == S_HEAD) & head_done);
    wire emit_h = (OUT_MODE == 0) | ((OUT_MODE == 1) & cur_last);
    wire adv = fin & (emit_h ? (o_free & ~y_req) : ~(cur_last & y_req));   // the step ends at this edge
    always @(*) begin
        load_y = y_req & o_free;
        load_h = adv & emit_h;
    end
    // a buffer counts as complete from the edge of its last beat on, so a step can start then
    wire fill_done = s_fire & (fidx == I_M1);
    wire rb_full   = rb ? full1 : full0;
    wire cur_full  = rb_full | (fill_done & (wb == rb));     // this step's x (IDLE)
    wire cur_lastv = rb_full ? (rb ? last1 : last0) : s_axis_tlast;
    wire nb_full   = rb ? full0 : full1;
    wire next_full = nb_full | (fill_done & (wb != rb));      // the next step's x (after a copy)
    wire next_last = nb_full ? (rb ? last0 : last1) : s_axis_tlast;

    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            cur_last <= 1'b0;
            ypend <= 1'b0;
            full0 <= 1'b0;
            full1 <= 1'b0;
            last0 <= 1'b0;
            last1 <= 1'b0;
            wb <= 1'b0;
            rb <= 1'b0;
            fidx <= {IW{1'b0}};
            step_start <= 1'b0;
            head_start <= 1'b0;
            clear <= 1'b0;
            step_cycles <= 32'd0;
            head_cycles <= 32'd0;
        end else begin
            step_start <= 1'b0;
            head_start <= 1'b0;
            clear <= 1'b0;
            if (s_fire) begin
                if (fill_done) begin
                    fidx <= {IW{1'b0}};
                    if (wb) begin
                        full1 <= 1'b1;
                        last1 <= s_axis_tlast;
                    end else begin
                        full0 <= 1'b1;
                        last0 <= s_axis_tlast;
                    end
                    wb <= ~wb;
                end else begin
                    fidx <= fidx + 1'b1;
                end
            end
            ypend <= y_req & ~o_free;
            case (state)
                S_IDLE: if (cur_full) begin
                    state <= S_RUN;
                    step_start <= 1'b1;
                    cur_last <= cur_lastv;
                end
                S_RUN, S_WAIT: begin
                    if (state == S_RUN) step_cycles <= step_cycles + 32'd1;
                    if (adv) begin
                        if (rb) full1 <= 1'b0;   // this step's x is no longer read
                        else full0 <= 1'b0;
                        rb <= ~rb;
                        if (cur_last && NCLS > 0) begin
                            state <= S_HEAD;
                            head_start <= 1'b1;
                        end else if (cur_last) begin
                            state <= S_IDLE;
                            clear <= 1'b1;
                        end else if (next_full) begin
                            state <= S_RUN;
                            step_start <= 1'b1;
                            cur_last <= next_last;
                        end else begin
                            state <= S_IDLE;
                        end
                    end else if (fin) begin
                        state <= S_WAIT;
                    end
                end
                S_HEAD: begin
                    head_cycles <= head_cycles + 32'd1;
                    if (head_done) begin
                        state <= S_IDLE;
                        clear <= 1'b1;
                    end
                end
                default: state <= S_IDLE;
            endcase
        end
    end
endmodule
`default_nettype wire
