// One pointwise unit (docs/datapath.md, "Cell equations in integers"): a row's pre-activations and
// old state in, its new h (and LSTM c) out, fully pipelined: a new row every cycle. Every product,
// sum, requant and activation lookup sits between registers; an activation takes two cycles
// (table read, output register), a product MUL_STAGES (hwsim_mul: 1, a product register; 2, an
// operand register too; inside the DSP block where the flow names the family). Inputs at cycle 0;
// c_new at cycle LAT_C (LSTM), h_new and the row's out-of-range flags (oor, one per requant node
// after the matvec) at cycle LAT_H; with M = MUL_STAGES - 1:
//   rnn_tanh / rnn_relu  LAT_H 3     gru  LAT_H 10 + 2M     lstm  LAT_C 5 + M, LAT_H 10 + 2M
// CELL: 0 rnn_tanh, 1 rnn_relu, 2 gru, 3 lstm.
// The activations are read through ports (the layer's shared tables, hwsim_act): sig_x / tanh_x
// carry the inputs at a stage's cycle, sig_y / tanh_y return the results two cycles later.
// Slots: rnn_tanh tanh 0 = tanh(p0); gru sig 0, 1 = sig(p_r), sig(p_z), tanh 0 = tanh(p_n);
// lstm sig 0, 1, 2 = sig(p_i), sig(p_f), sig(p_o), tanh 0, 1 = tanh(p_g), tanh(pre_c).
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
    parameter ROUND_MODE    = 1,
    parameter OVERFLOW_MODE = 0,
    parameter MUL_STAGES    = 1
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
    output wire [2:0]                 oor,
    output wire [3*PRE_BITS-1:0]      sig_x,
    input  wire [3*ACT_BITS-1:0]      sig_y,
    output wire [2*PRE_BITS-1:0]      tanh_x,
    input  wire [2*ACT_BITS-1:0]      tanh_y
);
    localparam ONE_W = ACT_BITS + 1;
    localparam M = MUL_STAGES - 1;   // a product's cycles beyond one
    wire signed [ONE_W-1:0] one = {{(ONE_W - 1){1'b0}}, 1'b1} <<< ACT_FRAC;

    generate
        if (CELL == 0 || CELL == 1) begin : g_rnn
            // 0-1: tanh(p) (or max(p, 0) and a register) -> 2: requant -> 3: h'
            wire signed [H_BITS-1:0] hq;
            wire                     h_oor;
            reg                      oor_q;
            if (CELL == 0) begin : g_tanh
                wire signed [ACT_BITS-1:0] t;
                assign tanh_x[0*PRE_BITS +: PRE_BITS] = p0;   // tanh(p0)
                assign t = tanh_y[0*ACT_BITS +: ACT_BITS];
                hwsim_requant #(.IN_W(ACT_BITS), .FROM_FRAC(ACT_FRAC), .OUT_BITS(H_BITS), .OUT_FRAC(H_FRAC),
                    .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_h (.din(t), .dout(hq), .oor(h_oor));
            end else begin : g_relu
                reg signed [PRE_BITS-1:0] pr1, pr;   // two registers: the tanh's latency
                always @(posedge clk) begin
                    pr1 <= p0[PRE_BITS-1] ? {PRE_BITS{1'b0}} : p0;
                    pr  <= pr1;
                end
                hwsim_requant #(.IN_W(PRE_BITS), .FROM_FRAC(PRE_FRAC), .OUT_BITS(H_BITS), .OUT_FRAC(H_FRAC),
                    .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_h (.din(pr), .dout(hq), .oor(h_oor));
                assign tanh_x[0 +: PRE_BITS] = {PRE_BITS{1'b0}};   // no table
                wire unused_t = ^tanh_y[0 +: ACT_BITS];
            end
            always @(posedge clk) begin
                h_new <= hq;
                oor_q <= h_oor;
            end
            assign oor = {2'b00, oor_q};
            assign c_new = {C_BITS{1'b0}};
            assign sig_x = {(3 * PRE_BITS){1'b0}};
            assign tanh_x[PRE_BITS +: PRE_BITS] = {PRE_BITS{1'b0}};
            wire unused_ok = ^{p1, p2, p3, h_old, c_old, one, sig_y, tanh_y[ACT_BITS +: ACT_BITS]};
        end else if (CELL == 2) begin : g_gru
            // 0-1: sig(p_r), sig(p_z)   2: r * p_nh (M + 1 cycles), 1 - z   3+M: p_nx << act.frac + r p_nh
            // 4+M: requant -> p_n   5+M..6+M: tanh(p_n)   7+M: (1 - z) n, z h (M + 1 cycles)   8+2M: sum
            // 9+2M: requant -> h'
            wire signed [ACT_BITS-1:0] r, z, n;
            assign sig_x[0*PRE_BITS +: PRE_BITS] = p0;   // sigmoid(p_r)
            assign r = sig_y[0*ACT_BITS +: ACT_BITS];
            assign sig_x[1*PRE_BITS +: PRE_BITS] = p1;   // sigmoid(p_z)
            assign z = sig_y[1*ACT_BITS +: ACT_BITS];
            localparam WN = PRE_BITS + ACT_BITS + 3;   // one bit more than the sum: + half fits
            // half_up's half goes into sns (its low ACT_FRAC bits are zero before rns is added, so it is
            // an OR there, not a third adder input), not into an incrementer in the requant behind it
            localparam [WN-1:0] HALF_N = (ROUND_MODE == 1 && ACT_FRAC > 0) ? ({{(WN - 1){1'b0}}, 1'b1} << (ACT_FRAC > 0 ? ACT_FRAC - 1 : 0)) : {WN{1'b0}};
            wire signed [PRE_BITS-1:0] nxs, nh2;   // p_nx at 3+M, p_nh at 2
            reg signed [WN-1:0]        sns;
            hwsim_delay #(.W(PRE_BITS), .N(3 + M)) u_dnx (.clk(clk), .rst(1'b0), .d(p2), .q(nxs));
            hwsim_delay #(.W(PRE_BITS), .N(2)) u_dnh (.clk(clk), .rst(1'b0), .d(p3), .q(nh2));
            // 1 - z in [0, one] (a sigmoid is in [0, one]): ACT_BITS bits hold it unless one itself
            // needs the sign bit (act.frac = ACT_BITS - 1), so (1 - z) * n is a 16 x 16 product at the
            // default widths (one SB_MAC16 with its registers inside, not a 17 x 16 split)
            localparam OMZ_W = (ACT_FRAC <= ACT_BITS - 2) ? ACT_BITS : ONE_W;
            wire signed [ONE_W-1:0]   omz = one - z;
            reg signed [OMZ_W-1:0]    omz3;
            reg signed [ACT_BITS-1:0] z3;
            wire signed [ACT_BITS+PRE_BITS-1:0] rns;   // at 3+M
            hwsim_mul #(.AW(ACT_BITS), .BW(PRE_BITS), .STAGES(MUL_STAGES)) u_rn (.clk(clk), .a(r), .b(nh2), .p(rns));
            always @(posedge clk) begin
                omz3 <= omz[OMZ_W-1:0];
                z3 <= z;
                sns <= (({{(ACT_BITS + 3){nxs[PRE_BITS-1]}}, nxs} <<< ACT_FRAC) | $signed(HALF_N))   // its low bits are 0: | is +
                     + {{3{rns[ACT_BITS+PRE_BITS-1]}}, rns};
            end
            wire signed [PRE_BITS-1:0] pn;
            wire                       pn_oor;
            hwsim_requant #(.IN_W(WN), .FROM_FRAC(PRE_FRAC + ACT_FRAC), .OUT_BITS(PRE_BITS), .OUT_FRAC(PRE_FRAC),
                .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE), .HALF_IN(1)) u_pn (.din(sns), .dout(pn), .oor(pn_oor));
            reg signed [PRE_BITS-1:0] pnq;   // at 5+M
            reg                       pn_oorq;
            always @(posedge clk) begin
                pnq <= pn;
                pn_oorq <= pn_oor;
            end
            assign tanh_x[0*PRE_BITS +: PRE_BITS] = pnq;   // tanh(p_n)
            assign n = tanh_y[0*ACT_BITS +: ACT_BITS];
            // (1 - z), z and h wait for n (stage 7+M)
            wire signed [OMZ_W-1:0]    omzn;
            wire signed [ACT_BITS-1:0] zn;
            wire signed [H_BITS-1:0]   hn;
            hwsim_delay #(.W(OMZ_W + ACT_BITS), .N(4 + M)) u_dz (.clk(clk), .rst(1'b0), .d({omz3, z3}), .q({omzn, zn}));
            hwsim_delay #(.W(H_BITS), .N(7 + M)) u_dh (.clk(clk), .rst(1'b0), .d(h_old), .q(hn));
            // h' = requant((ONE - z) * n + z * h, aligned to act.frac + max(act.frac, h.frac) -> h)
            localparam S1 = (H_FRAC > ACT_FRAC) ? H_FRAC - ACT_FRAC : 0;   // on (1-z)*n
            localparam S2 = (ACT_FRAC > H_FRAC) ? ACT_FRAC - H_FRAC : 0;   // on z*h
            localparam FM = ACT_FRAC + ((ACT_FRAC > H_FRAC) ? ACT_FRAC : H_FRAC);
            localparam W1 = 2 * ACT_BITS + 2 + S1;
            localparam W2 = ACT_BITS + H_BITS + 1 + S2;
            localparam WH = ((W1 > W2) ? W1 : W2) + 1;
            wire signed [OMZ_W+ACT_BITS-1:0] t1;
            wire signed [ACT_BITS+H_BITS-1:0] t2;
            hwsim_mul #(.AW(OMZ_W), .BW(ACT_BITS), .STAGES(MUL_STAGES)) u_t1 (.clk(clk), .a(omzn), .b(n), .p(t1));
            hwsim_mul #(.AW(ACT_BITS), .BW(H_BITS), .STAGES(MUL_STAGES)) u_t2 (.clk(clk), .a(zn), .b(hn), .p(t2));
            reg signed [WH-1:0] sh;
            always @(posedge clk) sh <= ($signed({{(WH - OMZ_W - ACT_BITS){t1[OMZ_W+ACT_BITS-1]}}, t1}) <<< S1)
                                      + ($signed({{(WH - ACT_BITS - H_BITS){t2[ACT_BITS+H_BITS-1]}}, t2}) <<< S2);
            wire signed [H_BITS-1:0] hq;
            wire                     h_oor;
            hwsim_requant #(.IN_W(WH), .FROM_FRAC(FM), .OUT_BITS(H_BITS), .OUT_FRAC(H_FRAC),
                .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_h (.din(sh), .dout(hq), .oor(h_oor));
            wire pn_oorh;
            hwsim_delay #(.W(1), .N(5 + M)) u_do (.clk(clk), .rst(1'b0), .d(pn_oorq), .q(pn_oorh));
            reg h_oorq;
            always @(posedge clk) begin
                h_new <= hq;
                h_oorq <= h_oor;
            end
            assign oor = {1'b0, pn_oorh, h_oorq};
            assign c_new = {C_BITS{1'b0}};
            assign sig_x[2*PRE_BITS +: PRE_BITS] = {PRE_BITS{1'b0}};
            assign tanh_x[PRE_BITS +: PRE_BITS] = {PRE_BITS{1'b0}};
            wire unused_ok = ^{c_old, omz, sig_y[2*ACT_BITS +: ACT_BITS], tanh_y[ACT_BITS +: ACT_BITS]};
        end else begin : g_lstm
            // 0-1: sig(p_i), sig(p_f), tanh(p_g), sig(p_o)   2: f c, i g (M + 1 cycles)   3+M: sum
            // 4+M: requant -> c'   5+M: requant c' -> pre   6+M..7+M: tanh(pre_c)   8+M: o tanh (M + 1)
            // 9+2M: requant -> h'
            wire signed [ACT_BITS-1:0] gi, gf, gg, go, tc;
            assign sig_x[0*PRE_BITS +: PRE_BITS] = p0;   // sigmoid(p_i)
            assign gi = sig_y[0*ACT_BITS +: ACT_BITS];
            assign sig_x[1*PRE_BITS +: PRE_BITS] = p1;   // sigmoid(p_f)
            assign gf = sig_y[1*ACT_BITS +: ACT_BITS];
            assign tanh_x[0*PRE_BITS +: PRE_BITS] = p2;   // tanh(p_g)
            assign gg = tanh_y[0*ACT_BITS +: ACT_BITS];
            assign sig_x[2*PRE_BITS +: PRE_BITS] = p3;   // sigmoid(p_o)
            assign go = sig_y[2*ACT_BITS +: ACT_BITS];
            reg signed [C_BITS-1:0] c1, c2;
            always @(posedge clk) begin
                c1 <= c_old;
                c2 <= c1;
            end
            // c' = requant(f * c + i * g, aligned to act.frac + max(c.frac, act.frac) -> c)
            localparam S1 = (ACT_FRAC > C_FRAC) ? ACT_FRAC - C_FRAC : 0;   // on f*c
            localparam S2 = (C_FRAC > ACT_FRAC) ? C_FRAC - ACT_FRAC : 0;   // on i*g
            localparam FM = ACT_FRAC + ((C_FRAC > ACT_FRAC) ? C_FRAC : ACT_FRAC);
            localparam W1 = ACT_BITS + C_BITS + 1 + S1;
            localparam W2 = 2 * ACT_BITS + 1 + S2;
            localparam WC = ((W1 > W2) ? W1 : W2) + 1;
            wire signed [ACT_BITS+C_BITS-1:0] t1;
            wire signed [2*ACT_BITS-1:0]      t2;
            hwsim_mul #(.AW(ACT_BITS), .BW(C_BITS), .STAGES(MUL_STAGES)) u_t1 (.clk(clk), .a(gf), .b(c2), .p(t1));
            hwsim_mul #(.AW(ACT_BITS), .BW(ACT_BITS), .STAGES(MUL_STAGES)) u_t2 (.clk(clk), .a(gi), .b(gg), .p(t2));
            reg signed [WC-1:0] sc;
            always @(posedge clk) sc <= ($signed({{(WC - ACT_BITS - C_BITS){t1[ACT_BITS+C_BITS-1]}}, t1}) <<< S1)
                                      + ($signed({{(WC - 2 * ACT_BITS){t2[2*ACT_BITS-1]}}, t2}) <<< S2);
            wire signed [C_BITS-1:0] cq;
            wire                     c_oor;
            hwsim_requant #(.IN_W(WC), .FROM_FRAC(FM), .OUT_BITS(C_BITS), .OUT_FRAC(C_FRAC),
                .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_c (.din(sc), .dout(cq), .oor(c_oor));
            reg signed [C_BITS-1:0] cq_r;   // at 5+M = LAT_C
            reg                     c_oorq;
            always @(posedge clk) begin
                cq_r <= cq;
                c_oorq <= c_oor;
            end
            assign c_new = cq_r;
            // pre_c = requant(c', c.frac -> pre); h' = requant(o * tanh(pre_c), 2 act.frac -> h)
            wire signed [PRE_BITS-1:0] pc;
            wire                       pc_oor;
            hwsim_requant #(.IN_W(C_BITS), .FROM_FRAC(C_FRAC), .OUT_BITS(PRE_BITS), .OUT_FRAC(PRE_FRAC),
                .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_pc (.din(cq_r), .dout(pc), .oor(pc_oor));
            reg signed [PRE_BITS-1:0] pcq;   // at 6+M
            reg                       pc_oorq;
            always @(posedge clk) begin
                pcq <= pc;
                pc_oorq <= pc_oor;
            end
            assign tanh_x[1*PRE_BITS +: PRE_BITS] = pcq;   // tanh(pre_c)
            assign tc = tanh_y[1*ACT_BITS +: ACT_BITS];
            wire signed [ACT_BITS-1:0] gon;   // o at 8+M, beside tanh(pre_c)
            hwsim_delay #(.W(ACT_BITS), .N(6 + M)) u_dgo (.clk(clk), .rst(1'b0), .d(go), .q(gon));
            // exactly the product's width (|o tanh| <= 2^(2 ACT_BITS - 2)): a register one bit wider
            // than the SB_MAC16's 32-bit output is absorbed into the MAC by yosys 0.23's ice40_dsp and
            // left undriven, and synthesis then folds h' to a constant (found by the iCE40 DSP/table
            // test when the requant behind it changed)
            localparam WO = 2 * ACT_BITS;
            wire signed [WO-1:0] oh;
            hwsim_mul #(.AW(ACT_BITS), .BW(ACT_BITS), .STAGES(MUL_STAGES)) u_oh (.clk(clk), .a(gon), .b(tc), .p(oh));
            wire signed [H_BITS-1:0] hq;
            wire                     h_oor;
            hwsim_requant #(.IN_W(WO), .FROM_FRAC(2 * ACT_FRAC), .OUT_BITS(H_BITS), .OUT_FRAC(H_FRAC),
                .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_h (.din(oh), .dout(hq), .oor(h_oor));
            wire c_oorh, pc_oorh;
            hwsim_delay #(.W(1), .N(5 + M)) u_dc (.clk(clk), .rst(1'b0), .d(c_oorq), .q(c_oorh));
            hwsim_delay #(.W(1), .N(4 + M)) u_dp (.clk(clk), .rst(1'b0), .d(pc_oorq), .q(pc_oorh));
            reg h_oorq;
            always @(posedge clk) begin
                h_new <= hq;
                h_oorq <= h_oor;
            end
            assign oor = {c_oorh, pc_oorh, h_oorq};
            wire unused_ok = ^{h_old, one};
        end
    endgenerate
endmodule
`default_nettype wire
