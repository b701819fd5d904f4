// Stream controller of the accelerator top (docs/rtl.md, "Beat order").
//   in : per step I beats of x (x.bits, sign-extended in tdata); s_axis_tlast on the last beat of
//        a sequence's last step.
//   out: per step HID beats of the last layer's h; after the last step NCLS head beats
//        (m_axis_tuser = 1); m_axis_tlast on the sequence's last beat. Then the state is cleared.
// States: IN (tready) -> RUN (layers) -> OUT (h beats) -> [HEAD -> HOUT after the last step].
// The h (y) words are copied into an output shift register at the end of RUN (HEAD) and leave
// through a skid buffer: m_axis_* are register outputs; OUT (HOUT) ends when the last word has left
// the shift register, so the next step's inputs are taken while the last beats are still going out.
// step_cycles / head_cycles count the cycles spent in RUN and HEAD since reset: the compute time,
// independent of stream stalls (hwsim._schedule predicts it).
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
    localparam [2:0] S_IN = 3'd0, S_RUN = 3'd1, S_OUT = 3'd2, S_HEAD = 3'd3, S_HOUT = 3'd4;
    localparam NW  = (HID > NC) ? HID : NC;

    reg [2:0]    state;
    reg [IW-1:0] idx;
    reg          last_q;
    reg [X_BITS-1:0] x_mem [0:I-1];

    // sign-extended output words (zero beyond HID / NC)
    wire [M_W-1:0] h_words [0:NW-1];
    wire [M_W-1:0] y_words [0:NW-1];
    genvar gi;
    generate
        for (gi = 0; gi < I; gi = gi + 1) begin : g_x
            assign x_flat[gi*X_BITS +: X_BITS] = x_mem[gi];
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
                o_last <= load_y | (last_q & (NCLS == 0));
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

    assign s_axis_tready = (state == S_IN);
    wire s_fire = s_axis_tvalid & s_axis_tready;

    always @(posedge clk) begin
        if (s_fire) x_mem[idx] <= s_axis_tdata[X_BITS-1:0];
    end

    always @(*) begin
        load_h = (state == S_RUN) & step_done;
        load_y = (state == S_HEAD) & head_done;
    end

    always @(posedge clk) begin
        if (rst) begin
            state <= S_IN;
            idx <= {IW{1'b0}};
            last_q <= 1'b0;
            step_start <= 1'b0;
            head_start <= 1'b0;
            clear <= 1'b0;
            step_cycles <= 32'd0;
            head_cycles <= 32'd0;
        end else begin
            step_start <= 1'b0;
            head_start <= 1'b0;
            clear <= 1'b0;
            case (state)
                S_IN: if (s_fire) begin
                    if (idx == I_M1) begin
                        idx <= {IW{1'b0}};
                        last_q <= s_axis_tlast;
                        state <= S_RUN;
                        step_start <= 1'b1;
                    end else begin
                        idx <= idx + 1'b1;
                    end
                end
                S_RUN: begin
                    step_cycles <= step_cycles + 32'd1;
                    if (step_done) state <= S_OUT;
                end
                S_OUT: if (pop & (ocount == OC_1)) begin
                    if (last_q && NCLS > 0) begin
                        state <= S_HEAD;
                        head_start <= 1'b1;
                    end else begin
                        state <= S_IN;
                        clear <= last_q;
                    end
                end
                S_HEAD: begin
                    head_cycles <= head_cycles + 32'd1;
                    if (head_done) state <= S_HOUT;
                end
                S_HOUT: if (pop & (ocount == OC_1)) begin
                    state <= S_IN;
                    clear <= 1'b1;
                end
                default: state <= S_IN;
            endcase
        end
    end
endmodule
`default_nettype wire
