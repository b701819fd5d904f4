// Stream controller of the accelerator top (docs/rtl.md, "Beat order").
//   in : per step I beats of x (x.bits, sign-extended in tdata); s_axis_tlast on the last beat of
//        a sequence's last step.
//   out: per step HID beats of the last layer's h; after the last step NCLS head beats
//        (m_axis_tuser = 1); m_axis_tlast on the sequence's last beat. Then the state is cleared.
// States: IN (tready) -> RUN (layers) -> OUT (h beats) -> [HEAD -> HOUT after the last step].
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
    localparam MAXN = (I > HID) ? ((I > NC) ? I : NC) : ((HID > NC) ? HID : NC);
    localparam IW  = ((MAXN) > 2 ? $clog2(MAXN) : 1);
    localparam NP  = 1 << IW;
    localparam integer I_M1_I = I - 1, H_M1_I = HID - 1, C_M1_I = NC - 1;
    localparam [IW-1:0] I_M1 = I_M1_I[IW-1:0];
    localparam [IW-1:0] H_M1 = H_M1_I[IW-1:0];
    localparam [IW-1:0] C_M1 = C_M1_I[IW-1:0];
    localparam [2:0] S_IN = 3'd0, S_RUN = 3'd1, S_OUT = 3'd2, S_HEAD = 3'd3, S_HOUT = 3'd4;

    reg [2:0]    state;
    reg [IW-1:0] idx;
    reg          last_q;
    reg [X_BITS-1:0] x_mem [0:NP-1];

    // sign-extended output words, padded to a power of two
    wire [M_W-1:0] h_words [0:NP-1];
    wire [M_W-1:0] y_words [0:NP-1];
    genvar gi;
    generate
        for (gi = 0; gi < I; gi = gi + 1) begin : g_x
            assign x_flat[gi*X_BITS +: X_BITS] = x_mem[gi];
        end
        for (gi = 0; gi < NP; gi = gi + 1) begin : g_w
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

    assign s_axis_tready = (state == S_IN);
    assign m_axis_tvalid = (state == S_OUT) || (state == S_HOUT);
    assign m_axis_tuser  = (state == S_HOUT);
    assign m_axis_tdata  = (state == S_HOUT) ? y_words[idx] : h_words[idx];
    assign m_axis_tlast  = (state == S_HOUT) ? (idx == C_M1)
                         : (state == S_OUT) & last_q & (NCLS == 0) & (idx == H_M1);
    wire s_fire = s_axis_tvalid & s_axis_tready;
    wire m_fire = m_axis_tvalid & m_axis_tready;

    always @(posedge clk) begin
        if (s_fire) x_mem[idx] <= s_axis_tdata[X_BITS-1:0];
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
                S_OUT: if (m_fire) begin
                    if (idx == H_M1) begin
                        idx <= {IW{1'b0}};
                        if (last_q && NCLS > 0) begin
                            state <= S_HEAD;
                            head_start <= 1'b1;
                        end else begin
                            state <= S_IN;
                            clear <= last_q;
                        end
                    end else begin
                        idx <= idx + 1'b1;
                    end
                end
                S_HEAD: begin
                    head_cycles <= head_cycles + 32'd1;
                    if (head_done) state <= S_HOUT;
                end
                S_HOUT: if (m_fire) begin
                    if (idx == C_M1) begin
                        idx <= {IW{1'b0}};
                        state <= S_IN;
                        clear <= 1'b1;
                    end else begin
                        idx <= idx + 1'b1;
                    end
                end
                default: state <= S_IN;
            endcase
        end
    end
endmodule
`default_nettype wire
