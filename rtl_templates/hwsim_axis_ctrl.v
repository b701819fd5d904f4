// Stream controller of the accelerator top (docs/rtl.md, "Beat order", "Timing").
//   in : per step I beats of x (x.bits, sign-extended in tdata); s_axis_tlast on the last beat of
//        a sequence's last step.
//   out: per step HID beats of the last layer's h; after the last step NCLS head beats
//        (m_axis_tuser = 1); m_axis_tlast on the sequence's last beat. Then the state is cleared.
// I/O overlaps compute. Inputs go into two x buffers (s_axis_tready whenever one is free); a step
// starts when its buffer is full and the previous step's h has been copied into the output shift
// register, which streams it out through a skid buffer while the next step computes.
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
    parameter S_W    = 16,
    parameter M_W    = 16,
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
    localparam IW  = ((I) > 2 ? $clog2(I) : 1);
    localparam integer I_M1_I = I - 1;
    localparam [IW-1:0] I_M1 = I_M1_I[IW-1:0];
    localparam [1:0] S_IDLE = 2'd0, S_RUN = 2'd1, S_WAIT = 2'd2, S_HEAD = 2'd3;
    localparam NW  = (HID > NC) ? HID : NC;

    reg [1:0]    state;
    reg          cur_last;      // the running step is its sequence's last
    reg          ypend;         // the head's y waits for the output shift register

    // Input path: two x buffers. The stream fills buffer `wb` (s_axis_tready while it is free),
    // the layers read buffer `rb`; a buffer is freed when its step's h is copied out.
    reg [X_BITS-1:0] xb0 [0:I-1];
    reg [X_BITS-1:0] xb1 [0:I-1];
    reg [1:0]        full, lastb;
    reg              wb, rb;
    reg [IW-1:0]     fidx;

    // sign-extended output words (zero beyond HID / NC)
    wire [M_W-1:0] h_words [0:NW-1];
    wire [M_W-1:0] y_words [0:NW-1];
    genvar gi;
    generate
        for (gi = 0; gi < I; gi = gi + 1) begin : g_x
            assign x_flat[gi*X_BITS +: X_BITS] = rb ? xb1[gi] : xb0[gi];
        end
        for (gi = 0; gi < NW; gi = gi + 1) begin : g_w
            if (gi < HID) begin : g_h
                wire [H_BITS-1:0] hv = h_flat[gi*H_BITS +: H_BITS];
                if (M_W > H_BITS) begin : g_ext
                    assign h_words[gi] = {{(M_W - H_BITS){hv[H_BITS-1]}}, hv};
                end else begin : g_same
                    assign h_words[gi] = hv;
                end
            end else begin : g_h0
                assign h_words[gi] = {M_W{1'b0}};
            end
            if (gi < NC) begin : g_y
                wire [Y_BITS-1:0] yv = y_flat[gi*Y_BITS +: Y_BITS];
                if (M_W > Y_BITS) begin : g_ext
                    assign y_words[gi] = {{(M_W - Y_BITS){yv[Y_BITS-1]}}, yv};
                end else begin : g_same
                    assign y_words[gi] = yv;
                end
            end else begin : g_y0
                assign y_words[gi] = {M_W{1'b0}};
            end
        end
    endgenerate

    // Output path: the step's h (or the head's y) is copied in one cycle into the output shift
    // register osr (NW words, word 0 next), which hands one word a cycle to a two-register skid
    // buffer (AXI register slice): m_axis_* come from its output register, and m_axis_tready only
    // reaches that register and the skid register, never the shift register.
    localparam OCW = $clog2(NW + 1);
    localparam integer HID_I = HID, NC_I = NC;
    localparam [OCW-1:0] OC_H = HID_I[OCW-1:0];
    localparam [OCW-1:0] OC_C = NC_I[OCW-1:0];
    localparam [OCW-1:0] OC_1 = 1;
    reg  [M_W-1:0] osr [0:NW-1];
    reg  [OCW-1:0] ocount;       // words left in osr
    reg            o_user, o_last;  // of the job in osr: head words; its last word ends the packet
    reg  [M_W-1:0] m_data, k_data;  // output register, skid register
    reg            m_valid, m_last, m_user, k_valid, k_last, k_user;
    wire           pop = ~k_valid & (ocount != {OCW{1'b0}});  // skid ready: a registered condition
    wire           pop_last = o_last & (ocount == OC_1);
    wire           o_free = (ocount == {OCW{1'b0}}) | (pop & (ocount == OC_1));  // can load at this edge
    reg            load_h, load_y;  // load osr at this edge (set by the state machine below)

    integer oj;
    always @(posedge clk) begin
        if (load_h | load_y) begin
            for (oj = 0; oj < NW; oj = oj + 1) osr[oj] <= load_y ? y_words[oj] : h_words[oj];
        end else if (pop) begin
            for (oj = 0; oj < NW - 1; oj = oj + 1) osr[oj] <= osr[oj + 1];
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

    assign s_axis_tready = ~full[wb];
    wire s_fire = s_axis_tvalid & s_axis_tready;
    always @(posedge clk) begin
        if (s_fire & ~wb) xb0[fidx] <= s_axis_tdata[X_BITS-1:0];
        if (s_fire & wb) xb1[fidx] <= s_axis_tdata[X_BITS-1:0];
    end

    // a finished step (RUN seeing done, or WAIT) copies h out when the shift register is free and
    // holds no older y; the head's y is copied when the head is done (or as soon as it is free)
    wire fin = ((state == S_RUN) & step_done) | (state == S_WAIT);
    wire y_req = ypend | ((state == S_HEAD) & head_done);
    always @(*) begin
        load_y = y_req & o_free;
        load_h = fin & o_free & ~y_req;
    end
    // a buffer counts as complete from the edge of its last beat on, so a step can start then
    wire fill_done = s_fire & (fidx == I_M1);
    wire cur_full  = full[rb] | (fill_done & (wb == rb));     // this step's x (IDLE)
    wire cur_lastv = full[rb] ? lastb[rb] : s_axis_tlast;
    wire nb_full   = rb ? full[0] : full[1];
    wire next_full = nb_full | (fill_done & (wb != rb));      // the next step's x (after a copy)
    wire next_last = nb_full ? (rb ? lastb[0] : lastb[1]) : s_axis_tlast;

    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            cur_last <= 1'b0;
            ypend <= 1'b0;
            full <= 2'b00;
            lastb <= 2'b00;
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
                    full[wb] <= 1'b1;
                    lastb[wb] <= s_axis_tlast;
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
                    if (load_h) begin
                        full[rb] <= 1'b0;   // this step's x is no longer read
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
