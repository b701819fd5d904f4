// One pointwise unit (docs/datapath.md, "Cell equations in integers"): a row's pre-activations and
// old state in, its new h (and LSTM c) out, fully pipelined: a new row every cycle. Every product,
// sum, requant and activation lookup sits between registers. Inputs at cycle 0; c_new at cycle
// LAT_C (LSTM), h_new and the row's out-of-range flags (oor, one per requant node after the
// matvec) at cycle LAT_H:
//   rnn_tanh / rnn_relu  LAT_H 2     gru  LAT_H 8     lstm  LAT_C 4, LAT_H 8
// CELL: 0 rnn_tanh, 1 rnn_relu, 2 gru, 3 lstm.
`default_nettype none
module hwsim_pointwise #(
    parameter CELL          = 2,
    parameter H_BITS        = 16,
    parameter H_FRAC        = 14,
    parameter C_BITS        = 20,
    parameter C_FRAC        = 14,
    parameter PRE_BITS      = 16,
    parameter PRE_FRAC      = 11,
    parameter ACT_BITS      = 16,
    parameter ACT_FRAC      = 14,
    parameter ACT_KIND      = 0,
    parameter LUT_BITS      = 10,
    parameter SIG_RANGE     = 3,
    parameter TANH_RANGE    = 2,
    parameter ROUND_MODE    = 1,
    parameter OVERFLOW_MODE = 0,
    parameter SIG_FILE      = "",
    parameter TANH_FILE     = ""
) (
    input  wire                       clk,
    input  wire signed [PRE_BITS-1:0] p0,
    input  wire signed [PRE_BITS-1:0] p1,
    input  wire signed [PRE_BITS-1:0] p2,
    input  wire signed [PRE_BITS-1:0] p3,
    input  wire signed [H_BITS-1:0]   h_old,
    input  wire signed [C_BITS-1:0]   c_old,
    output reg  signed [H_BITS-1:0]   h_new,
    output wire signed [C_BITS-1:0]   c_new,
    output wire [2:0]                 oor
);
    localparam ONE_W = ACT_BITS + 1;
    wire signed [ONE_W-1:0] one = {{(ONE_W - 1){1'b0}}, 1'b1} <<< ACT_FRAC;

    generate
        if (CELL == 0 || CELL == 1) begin : g_rnn
            // 0: tanh(p) (or max(p, 0)) -> 1: requant -> 2: h'
            wire signed [H_BITS-1:0] hq;
            wire                     h_oor;
            reg                      oor_q;
            if (CELL == 0) begin : g_tanh
                wire signed [ACT_BITS-1:0] t;
                hwsim_act #(
                    .FUNC(1), .ACT_KIND(ACT_KIND), .PRE_BITS(PRE_BITS), .PRE_FRAC(PRE_FRAC), .ACT_BITS(ACT_BITS),
                    .ACT_FRAC(ACT_FRAC), .LUT_BITS(LUT_BITS), .RANGE_LOG2(TANH_RANGE), .LUT_FILE(TANH_FILE)
                ) u_tanh (.clk(clk), .x(p0), .y(t));
                hwsim_requant #(.IN_W(ACT_BITS), .FROM_FRAC(ACT_FRAC), .OUT_BITS(H_BITS), .OUT_FRAC(H_FRAC),
                    .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_h (.din(t), .dout(hq), .oor(h_oor));
            end else begin : g_relu
                reg signed [PRE_BITS-1:0] pr;
                always @(posedge clk) pr <= p0[PRE_BITS-1] ? {PRE_BITS{1'b0}} : p0;
                hwsim_requant #(.IN_W(PRE_BITS), .FROM_FRAC(PRE_FRAC), .OUT_BITS(H_BITS), .OUT_FRAC(H_FRAC),
                    .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_h (.din(pr), .dout(hq), .oor(h_oor));
            end
            always @(posedge clk) begin
                h_new <= hq;
                oor_q <= h_oor;
            end
            assign oor = {2'b00, oor_q};
            assign c_new = {C_BITS{1'b0}};
            wire unused_ok = ^{p1, p2, p3, h_old, c_old, one};
        end else if (CELL == 2) begin : g_gru
            // 0: sig(p_r), sig(p_z)   1: r * p_nh, 1 - z   2: p_nx << act.frac + r p_nh   3: requant -> p_n
            // 4: tanh(p_n)   5: (1 - z) n, z h   6: sum   7: requant -> h'
            wire signed [ACT_BITS-1:0] r, z, n;
            hwsim_act #(
                .FUNC(0), .ACT_KIND(ACT_KIND), .PRE_BITS(PRE_BITS), .PRE_FRAC(PRE_FRAC), .ACT_BITS(ACT_BITS),
                .ACT_FRAC(ACT_FRAC), .LUT_BITS(LUT_BITS), .RANGE_LOG2(SIG_RANGE), .LUT_FILE(SIG_FILE)
            ) u_sr (.clk(clk), .x(p0), .y(r));
            hwsim_act #(
                .FUNC(0), .ACT_KIND(ACT_KIND), .PRE_BITS(PRE_BITS), .PRE_FRAC(PRE_FRAC), .ACT_BITS(ACT_BITS),
                .ACT_FRAC(ACT_FRAC), .LUT_BITS(LUT_BITS), .RANGE_LOG2(SIG_RANGE), .LUT_FILE(SIG_FILE)
            ) u_sz (.clk(clk), .x(p1), .y(z));
            localparam WN = PRE_BITS + ACT_BITS + 2;
            reg signed [PRE_BITS-1:0] nx1, nh1, nx2;
            reg signed [WN-1:0]       rn2, sn3;
            reg signed [ONE_W-1:0]    omz2;
            reg signed [ACT_BITS-1:0] z2;
            always @(posedge clk) begin
                nx1 <= p2;
                nh1 <= p3;
                nx2 <= nx1;
                rn2 <= r * nh1;
                omz2 <= one - z;
                z2 <= z;
                sn3 <= ({{(ACT_BITS + 2){nx2[PRE_BITS-1]}}, nx2} <<< ACT_FRAC) + rn2;
            end
            wire signed [PRE_BITS-1:0] pn;
            wire                       pn_oor;
            hwsim_requant #(.IN_W(WN), .FROM_FRAC(PRE_FRAC + ACT_FRAC), .OUT_BITS(PRE_BITS), .OUT_FRAC(PRE_FRAC),
                .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_pn (.din(sn3), .dout(pn), .oor(pn_oor));
            reg signed [PRE_BITS-1:0] pn4;
            reg                       pn_oor4;
            always @(posedge clk) begin
                pn4 <= pn;
                pn_oor4 <= pn_oor;
            end
            hwsim_act #(
                .FUNC(1), .ACT_KIND(ACT_KIND), .PRE_BITS(PRE_BITS), .PRE_FRAC(PRE_FRAC), .ACT_BITS(ACT_BITS),
                .ACT_FRAC(ACT_FRAC), .LUT_BITS(LUT_BITS), .RANGE_LOG2(TANH_RANGE), .LUT_FILE(TANH_FILE)
            ) u_tn (.clk(clk), .x(pn4), .y(n));
            // (1 - z), z and h wait for n (stage 5)
            wire signed [ONE_W-1:0]    omz5;
            wire signed [ACT_BITS-1:0] z5;
            wire signed [H_BITS-1:0]   h5;
            hwsim_delay #(.W(ONE_W + ACT_BITS), .N(3)) u_dz (.clk(clk), .rst(1'b0), .d({omz2, z2}), .q({omz5, z5}));
            hwsim_delay #(.W(H_BITS), .N(5)) u_dh (.clk(clk), .rst(1'b0), .d(h_old), .q(h5));
            // h' = requant((ONE - z) * n + z * h, aligned to act.frac + max(act.frac, h.frac) -> h)
            localparam S1 = (H_FRAC > ACT_FRAC) ? H_FRAC - ACT_FRAC : 0;   // on (1-z)*n
            localparam S2 = (ACT_FRAC > H_FRAC) ? ACT_FRAC - H_FRAC : 0;   // on z*h
            localparam FM = ACT_FRAC + ((ACT_FRAC > H_FRAC) ? ACT_FRAC : H_FRAC);
            localparam W1 = 2 * ACT_BITS + 2 + S1;
            localparam W2 = ACT_BITS + H_BITS + 1 + S2;
            localparam WH = ((W1 > W2) ? W1 : W2) + 1;
            reg signed [WH-1:0] t1, t2, sh;
            always @(posedge clk) begin
                t1 <= omz5 * n;
                t2 <= z5 * h5;
                sh <= (t1 <<< S1) + (t2 <<< S2);
            end
            wire signed [H_BITS-1:0] hq;
            wire                     h_oor;
            hwsim_requant #(.IN_W(WH), .FROM_FRAC(FM), .OUT_BITS(H_BITS), .OUT_FRAC(H_FRAC),
                .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_h (.din(sh), .dout(hq), .oor(h_oor));
            wire pn_oor8;
            hwsim_delay #(.W(1), .N(4)) u_do (.clk(clk), .rst(1'b0), .d(pn_oor4), .q(pn_oor8));
            reg h_oor8;
            always @(posedge clk) begin
                h_new <= hq;
                h_oor8 <= h_oor;
            end
            assign oor = {1'b0, pn_oor8, h_oor8};
            assign c_new = {C_BITS{1'b0}};
            wire unused_ok = ^{c_old};
        end else begin : g_lstm
            // 0: sig(p_i), sig(p_f), tanh(p_g), sig(p_o)   1: f c, i g   2: sum   3: requant -> c'
            // 4: requant c' -> pre   5: tanh(pre_c)   6: o tanh   7: requant -> h'
            wire signed [ACT_BITS-1:0] gi, gf, gg, go, tc;
            hwsim_act #(
                .FUNC(0), .ACT_KIND(ACT_KIND), .PRE_BITS(PRE_BITS), .PRE_FRAC(PRE_FRAC), .ACT_BITS(ACT_BITS),
                .ACT_FRAC(ACT_FRAC), .LUT_BITS(LUT_BITS), .RANGE_LOG2(SIG_RANGE), .LUT_FILE(SIG_FILE)
            ) u_si (.clk(clk), .x(p0), .y(gi));
            hwsim_act #(
                .FUNC(0), .ACT_KIND(ACT_KIND), .PRE_BITS(PRE_BITS), .PRE_FRAC(PRE_FRAC), .ACT_BITS(ACT_BITS),
                .ACT_FRAC(ACT_FRAC), .LUT_BITS(LUT_BITS), .RANGE_LOG2(SIG_RANGE), .LUT_FILE(SIG_FILE)
            ) u_sf (.clk(clk), .x(p1), .y(gf));
            hwsim_act #(
                .FUNC(1), .ACT_KIND(ACT_KIND), .PRE_BITS(PRE_BITS), .PRE_FRAC(PRE_FRAC), .ACT_BITS(ACT_BITS),
                .ACT_FRAC(ACT_FRAC), .LUT_BITS(LUT_BITS), .RANGE_LOG2(TANH_RANGE), .LUT_FILE(TANH_FILE)
            ) u_tg (.clk(clk), .x(p2), .y(gg));
            hwsim_act #(
                .FUNC(0), .ACT_KIND(ACT_KIND), .PRE_BITS(PRE_BITS), .PRE_FRAC(PRE_FRAC), .ACT_BITS(ACT_BITS),
                .ACT_FRAC(ACT_FRAC), .LUT_BITS(LUT_BITS), .RANGE_LOG2(SIG_RANGE), .LUT_FILE(SIG_FILE)
            ) u_so (.clk(clk), .x(p3), .y(go));
            reg signed [C_BITS-1:0] c1;
            always @(posedge clk) c1 <= c_old;
            // c' = requant(f * c + i * g, aligned to act.frac + max(c.frac, act.frac) -> c)
            localparam S1 = (ACT_FRAC > C_FRAC) ? ACT_FRAC - C_FRAC : 0;   // on f*c
            localparam S2 = (C_FRAC > ACT_FRAC) ? C_FRAC - ACT_FRAC : 0;   // on i*g
            localparam FM = ACT_FRAC + ((C_FRAC > ACT_FRAC) ? C_FRAC : ACT_FRAC);
            localparam W1 = ACT_BITS + C_BITS + 1 + S1;
            localparam W2 = 2 * ACT_BITS + 1 + S2;
            localparam WC = ((W1 > W2) ? W1 : W2) + 1;
            reg signed [WC-1:0] t1, t2, sc;
            always @(posedge clk) begin
                t1 <= gf * c1;
                t2 <= gi * gg;
                sc <= (t1 <<< S1) + (t2 <<< S2);
            end
            wire signed [C_BITS-1:0] cq;
            wire                     c_oor;
            hwsim_requant #(.IN_W(WC), .FROM_FRAC(FM), .OUT_BITS(C_BITS), .OUT_FRAC(C_FRAC),
                .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_c (.din(sc), .dout(cq), .oor(c_oor));
            reg signed [C_BITS-1:0] c4;
            reg                     c_oor4;
            always @(posedge clk) begin
                c4 <= cq;
                c_oor4 <= c_oor;
            end
            assign c_new = c4;
            // pre_c = requant(c', c.frac -> pre); h' = requant(o * tanh(pre_c), 2 act.frac -> h)
            wire signed [PRE_BITS-1:0] pc;
            wire                       pc_oor;
            hwsim_requant #(.IN_W(C_BITS), .FROM_FRAC(C_FRAC), .OUT_BITS(PRE_BITS), .OUT_FRAC(PRE_FRAC),
                .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_pc (.din(c4), .dout(pc), .oor(pc_oor));
            reg signed [PRE_BITS-1:0] pc5;
            reg                       pc_oor5;
            always @(posedge clk) begin
                pc5 <= pc;
                pc_oor5 <= pc_oor;
            end
            hwsim_act #(
                .FUNC(1), .ACT_KIND(ACT_KIND), .PRE_BITS(PRE_BITS), .PRE_FRAC(PRE_FRAC), .ACT_BITS(ACT_BITS),
                .ACT_FRAC(ACT_FRAC), .LUT_BITS(LUT_BITS), .RANGE_LOG2(TANH_RANGE), .LUT_FILE(TANH_FILE)
            ) u_tc (.clk(clk), .x(pc5), .y(tc));
            wire signed [ACT_BITS-1:0] go6;
            hwsim_delay #(.W(ACT_BITS), .N(5)) u_dgo (.clk(clk), .rst(1'b0), .d(go), .q(go6));
            localparam WO = 2 * ACT_BITS + 1;
            reg signed [WO-1:0] oh;
            always @(posedge clk) oh <= go6 * tc;
            wire signed [H_BITS-1:0] hq;
            wire                     h_oor;
            hwsim_requant #(.IN_W(WO), .FROM_FRAC(2 * ACT_FRAC), .OUT_BITS(H_BITS), .OUT_FRAC(H_FRAC),
                .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_h (.din(oh), .dout(hq), .oor(h_oor));
            wire c_oor8, pc_oor8;
            hwsim_delay #(.W(1), .N(4)) u_dc (.clk(clk), .rst(1'b0), .d(c_oor4), .q(c_oor8));
            hwsim_delay #(.W(1), .N(3)) u_dp (.clk(clk), .rst(1'b0), .d(pc_oor5), .q(pc_oor8));
            reg h_oor8;
            always @(posedge clk) begin
                h_new <= hq;
                h_oor8 <= h_oor;
            end
            assign oor = {c_oor8, pc_oor8, h_oor8};
            wire unused_ok = ^{h_old, one};
        end
    endgenerate
endmodule
`default_nettype wire
