// One recurrent layer (docs/datapath.md, "Cell equations in integers"): the accumulations by
// hwsim_matvec into a buffer of pre-activations, then a pointwise pass over the H rows that updates
// h (and the LSTM's c) in place. CELL: 0 rnn_tanh, 1 rnn_relu, 2 gru, 3 lstm.
//
// Timing: `start` at cycle 0; the matvec writes its last result at cycle BEATS + 2; the pointwise
// pass runs rows 0..H-1 for PW_CYCLES cycles each (2 RNN, 4 GRU, 5 LSTM) in cycles
// BEATS + 3 .. BEATS + 2 + H * PW_CYCLES; `done` pulses one cycle later, at
// BEATS + 3 + H * PW_CYCLES. `clear` zeroes h and c (a new sequence).
`default_nettype none
module hwsim_layer #(
    parameter CELL          = 2,
    parameter HID           = 4,
    parameter N_IN          = 3,
    parameter U_BITS        = 16,
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
    parameter KIND          = 1,
    parameter CODE_BITS     = 2,
    parameter WORD_BITS     = 32,
    parameter LANES         = 1,
    parameter SHIFT_IN      = 0,
    parameter SHIFT_REC     = 0,
    parameter ACC_BITS      = 32,
    parameter ACC_FRAC      = 16,
    parameter WEIGHT_FILE   = "",
    parameter BIAS_FILE     = "",
    parameter SIG_FILE      = "",
    parameter TANH_FILE     = ""
) (
    input  wire                    clk,
    input  wire                    rst,
    input  wire                    clear,
    input  wire                    start,
    input  wire [N_IN*U_BITS-1:0]  u_flat,
    output wire [HID*H_BITS-1:0]   h_flat,
    output wire [HID*C_BITS-1:0]   c_flat,
    output reg                     done,
    output reg  [31:0]             sat_count
);

    localparam NACC = (CELL == 2 || CELL == 3) ? 4 : 1;
    localparam PWC  = (CELL == 3) ? 5 : (CELL == 2) ? 4 : 2;   // pointwise cycles per row
    localparam RW   = ((HID) > 2 ? $clog2(HID) : 1);
    localparam integer HID_M1_I = HID - 1, PWC_M1_I = PWC - 1;
    localparam [RW-1:0] HID_M1 = HID_M1_I[RW-1:0];
    localparam [2:0]    PWC_M1 = PWC_M1_I[2:0];

    // ---- state ----------------------------------------------------------------------------------
    reg signed [H_BITS-1:0] h_mem [0:HID-1];
    reg signed [C_BITS-1:0] c_mem [0:HID-1];
    // pre-activations, one buffer per accumulation (RNN: only pre0)
    reg signed [PRE_BITS-1:0] pre0 [0:HID-1];
    reg signed [PRE_BITS-1:0] pre1 [0:HID-1];
    reg signed [PRE_BITS-1:0] pre2 [0:HID-1];
    reg signed [PRE_BITS-1:0] pre3 [0:HID-1];
    genvar gi;
    generate
        for (gi = 0; gi < HID; gi = gi + 1) begin : g_flat
            assign h_flat[gi*H_BITS +: H_BITS] = h_mem[gi];
            assign c_flat[gi*C_BITS +: C_BITS] = c_mem[gi];
        end
    endgenerate

    // ---- accumulations --------------------------------------------------------------------------
    wire                     mv_wr, mv_oor, mv_done;
    wire [1:0]               mv_acc;
    wire [RW-1:0]            mv_row;
    wire signed [PRE_BITS-1:0] mv_data;
    hwsim_matvec #(
        .KIND(KIND), .CODE_BITS(CODE_BITS), .WORD_BITS(WORD_BITS), .LANES(LANES),
        .ROWS(HID), .NACC(NACC), .N_IN(N_IN), .N_REC(HID), .SPLIT_GRU(CELL == 2 ? 1 : 0),
        .U_BITS(U_BITS), .H_BITS(H_BITS), .SHIFT_IN(SHIFT_IN), .SHIFT_REC(SHIFT_REC),
        .ACC_BITS(ACC_BITS), .ACC_FRAC(ACC_FRAC), .OUT_BITS(PRE_BITS), .OUT_FRAC(PRE_FRAC),
        .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE),
        .WEIGHT_FILE(WEIGHT_FILE), .BIAS_FILE(BIAS_FILE)
    ) u_mv (
        .clk(clk), .rst(rst), .start(start), .u_flat(u_flat), .h_flat(h_flat),
        .wr_en(mv_wr), .wr_acc(mv_acc), .wr_row(mv_row), .wr_data(mv_data), .wr_oor(mv_oor), .done(mv_done)
    );
    always @(posedge clk) begin
        if (mv_wr) begin
            case (mv_acc)
                2'd0: pre0[mv_row] <= mv_data;
                2'd1: pre1[mv_row] <= mv_data;
                2'd2: pre2[mv_row] <= mv_data;
                default: pre3[mv_row] <= mv_data;
            endcase
        end
    end

    // ---- pointwise sequencer --------------------------------------------------------------------
    reg          pw_busy;
    reg [RW-1:0] row;
    reg [2:0]    ph;
    wire         pw_last = pw_busy & (ph == PWC_M1) & (row == HID_M1);
    always @(posedge clk) begin
        if (rst) begin
            pw_busy <= 1'b0;
            row <= {RW{1'b0}};
            ph <= 3'd0;
            done <= 1'b0;
        end else begin
            done <= pw_last;
            if (mv_done) begin
                pw_busy <= 1'b1;
                row <= {RW{1'b0}};
                ph <= 3'd0;
            end else if (pw_busy) begin
                if (ph == PWC_M1) begin
                    ph <= 3'd0;
                    if (row == HID_M1) pw_busy <= 1'b0;
                    else row <= row + 1'b1;
                end else begin
                    ph <= ph + 3'd1;
                end
            end
        end
    end

    // pre-activation of accumulation `n` at the current row
    wire signed [PRE_BITS-1:0] p0 = pre0[row];
    wire signed [PRE_BITS-1:0] p1 = pre1[row];
    wire signed [PRE_BITS-1:0] p2 = pre2[row];
    wire signed [PRE_BITS-1:0] p3 = pre3[row];
    wire signed [H_BITS-1:0]   h_old = h_mem[row];
    wire signed [C_BITS-1:0]   c_old = c_mem[row];

    // activation units (one clock of latency each)
    reg  signed [PRE_BITS-1:0] sig_x, tanh_x;
    wire signed [ACT_BITS-1:0] sig_y, tanh_y;
    hwsim_act #(
        .FUNC(0), .ACT_KIND(ACT_KIND), .PRE_BITS(PRE_BITS), .PRE_FRAC(PRE_FRAC), .ACT_BITS(ACT_BITS),
        .ACT_FRAC(ACT_FRAC), .LUT_BITS(LUT_BITS), .RANGE_LOG2(SIG_RANGE), .LUT_FILE(SIG_FILE)
    ) u_sig (.clk(clk), .x(sig_x), .y(sig_y));
    hwsim_act #(
        .FUNC(1), .ACT_KIND(ACT_KIND), .PRE_BITS(PRE_BITS), .PRE_FRAC(PRE_FRAC), .ACT_BITS(ACT_BITS),
        .ACT_FRAC(ACT_FRAC), .LUT_BITS(LUT_BITS), .RANGE_LOG2(TANH_RANGE), .LUT_FILE(TANH_FILE)
    ) u_tanh (.clk(clk), .x(tanh_x), .y(tanh_y));

    wire signed [H_BITS-1:0] h_new;   // valid in the row's last phase
    wire                     h_oor;
    wire signed [C_BITS-1:0] c_new;   // LSTM: valid in phase 2
    wire                     c_oor;
    wire [2:0]               oor_now; // out-of-range flags of the nodes finishing this cycle
    localparam ONE_W = ACT_BITS + 1;
    wire signed [ONE_W-1:0]  one = {{(ONE_W - 1){1'b0}}, 1'b1} <<< ACT_FRAC;

    generate
        if (CELL == 0 || CELL == 1) begin : g_rnn
            // ph0: tanh input; ph1: h' = requant(tanh(p), act.frac -> h)   (tanh)
            //                         h' = requant(max(p, 0), pre.frac -> h)  (relu)
            always @(*) begin
                sig_x = {PRE_BITS{1'b0}};
                tanh_x = p0;
            end
            if (CELL == 0) begin : g_tanh
                hwsim_requant #(.IN_W(ACT_BITS), .FROM_FRAC(ACT_FRAC), .OUT_BITS(H_BITS), .OUT_FRAC(H_FRAC),
                    .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_h (.din(tanh_y), .dout(h_new), .oor(h_oor));
            end else begin : g_relu
                wire signed [PRE_BITS-1:0] pr = p0[PRE_BITS-1] ? {PRE_BITS{1'b0}} : p0;
                hwsim_requant #(.IN_W(PRE_BITS), .FROM_FRAC(PRE_FRAC), .OUT_BITS(H_BITS), .OUT_FRAC(H_FRAC),
                    .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_h (.din(pr), .dout(h_new), .oor(h_oor));
            end
            assign c_new = {C_BITS{1'b0}};
            assign c_oor = 1'b0;
            assign oor_now = {2'b00, h_oor & (ph == 3'd1)};
        end else if (CELL == 2) begin : g_gru
            // ph0: sig(p_r); ph1: r, sig(p_z); ph2: z, p_n, tanh(p_n); ph3: n, h'
            reg signed [ACT_BITS-1:0] r_q, z_q;
            always @(posedge clk) begin
                if (pw_busy && ph == 3'd1) r_q <= sig_y;
                if (pw_busy && ph == 3'd2) z_q <= sig_y;
            end
            // p_n = requant((p_nx << act.frac) + r * p_nh, pre.frac + act.frac -> pre)
            localparam WN = PRE_BITS + ACT_BITS + 2;
            wire signed [WN-1:0] nx = {{(ACT_BITS + 2){p2[PRE_BITS-1]}}, p2} <<< ACT_FRAC;
            wire signed [WN-1:0] rn = r_q * p3;
            wire signed [WN-1:0] sn = nx + rn;
            wire signed [PRE_BITS-1:0] pn;
            wire pn_oor;
            hwsim_requant #(.IN_W(WN), .FROM_FRAC(PRE_FRAC + ACT_FRAC), .OUT_BITS(PRE_BITS), .OUT_FRAC(PRE_FRAC),
                .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_pn (.din(sn), .dout(pn), .oor(pn_oor));
            always @(*) begin
                sig_x = (ph == 3'd0) ? p0 : p1;
                tanh_x = pn;
            end
            // h' = requant((ONE - z) * n + z * h, aligned to act.frac + max(act.frac, h.frac) -> h)
            localparam S1 = (H_FRAC > ACT_FRAC) ? H_FRAC - ACT_FRAC : 0;   // on (1-z)*n
            localparam S2 = (ACT_FRAC > H_FRAC) ? ACT_FRAC - H_FRAC : 0;   // on z*h
            localparam FM = ACT_FRAC + ((ACT_FRAC > H_FRAC) ? ACT_FRAC : H_FRAC);
            localparam W1 = 2 * ACT_BITS + 2 + S1;
            localparam W2 = ACT_BITS + H_BITS + 1 + S2;
            localparam WH = ((W1 > W2) ? W1 : W2) + 1;
            wire signed [ONE_W-1:0] omz = one - z_q;
            wire signed [WH-1:0] t1 = omz * tanh_y;
            wire signed [WH-1:0] t2 = z_q * h_old;
            wire signed [WH-1:0] sh = (t1 <<< S1) + (t2 <<< S2);
            hwsim_requant #(.IN_W(WH), .FROM_FRAC(FM), .OUT_BITS(H_BITS), .OUT_FRAC(H_FRAC),
                .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_h (.din(sh), .dout(h_new), .oor(h_oor));
            assign c_new = {C_BITS{1'b0}};
            assign c_oor = 1'b0;
            assign oor_now = {1'b0, pn_oor & (ph == 3'd2), h_oor & (ph == 3'd3)};
        end else begin : g_lstm
            // ph0: sig(p_i), tanh(p_g); ph1: i, g, sig(p_f); ph2: f, c', sig(p_o);
            // ph3: o, tanh(pre_c); ph4: h'
            reg signed [ACT_BITS-1:0] i_q, g_q, o_q;
            reg signed [C_BITS-1:0]   c_q;
            always @(posedge clk) begin
                if (pw_busy && ph == 3'd1) begin
                    i_q <= sig_y;
                    g_q <= tanh_y;
                end
                if (pw_busy && ph == 3'd2) c_q <= c_new;
                if (pw_busy && ph == 3'd3) o_q <= sig_y;
            end
            // c' = requant(f * c + i * g, aligned to act.frac + max(c.frac, act.frac) -> c)
            localparam S1 = (ACT_FRAC > C_FRAC) ? ACT_FRAC - C_FRAC : 0;   // on f*c
            localparam S2 = (C_FRAC > ACT_FRAC) ? C_FRAC - ACT_FRAC : 0;   // on i*g
            localparam FM = ACT_FRAC + ((C_FRAC > ACT_FRAC) ? C_FRAC : ACT_FRAC);
            localparam W1 = ACT_BITS + C_BITS + 1 + S1;
            localparam W2 = 2 * ACT_BITS + 1 + S2;
            localparam WC = ((W1 > W2) ? W1 : W2) + 1;
            wire signed [WC-1:0] t1 = sig_y * c_old;
            wire signed [WC-1:0] t2 = i_q * g_q;
            wire signed [WC-1:0] sc = (t1 <<< S1) + (t2 <<< S2);
            hwsim_requant #(.IN_W(WC), .FROM_FRAC(FM), .OUT_BITS(C_BITS), .OUT_FRAC(C_FRAC),
                .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_c (.din(sc), .dout(c_new), .oor(c_oor));
            // pre_c = requant(c', c.frac -> pre); h' = requant(o * tanh(pre_c), 2 act.frac -> h)
            wire signed [PRE_BITS-1:0] pc;
            wire pc_oor;
            hwsim_requant #(.IN_W(C_BITS), .FROM_FRAC(C_FRAC), .OUT_BITS(PRE_BITS), .OUT_FRAC(PRE_FRAC),
                .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_pc (.din(c_q), .dout(pc), .oor(pc_oor));
            always @(*) begin
                sig_x = (ph == 3'd0) ? p0 : (ph == 3'd1) ? p1 : p3;
                tanh_x = (ph == 3'd0) ? p2 : pc;
            end
            localparam WO = 2 * ACT_BITS + 1;
            wire signed [WO-1:0] oh = o_q * tanh_y;
            hwsim_requant #(.IN_W(WO), .FROM_FRAC(2 * ACT_FRAC), .OUT_BITS(H_BITS), .OUT_FRAC(H_FRAC),
                .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)) u_h (.din(oh), .dout(h_new), .oor(h_oor));
            assign oor_now = {c_oor & (ph == 3'd2), pc_oor & (ph == 3'd3), h_oor & (ph == 3'd4)};
        end
    endgenerate

    // signals some cells leave unused (Verilator ignores names matching *unused*)
    wire unused_ok = ^{c_old, c_oor, h_old, one, p1, p2, p3, sig_y, tanh_y};

    integer i;
    always @(posedge clk) begin
        if (rst || clear) begin
            for (i = 0; i < HID; i = i + 1) begin
                h_mem[i] <= {H_BITS{1'b0}};
                c_mem[i] <= {C_BITS{1'b0}};
            end
        end else if (pw_busy) begin
            if (ph == PWC_M1) h_mem[row] <= h_new;
            if (CELL == 3 && ph == 3'd2) c_mem[row] <= c_new;
        end
    end

    // out-of-range events of every requant node of this layer (pre_* as the matvec writes them)
    always @(posedge clk) begin
        if (rst) sat_count <= 32'd0;
        else sat_count <= sat_count + {31'd0, mv_wr & mv_oor}
                        + (pw_busy ? {31'd0, oor_now[0]} + {31'd0, oor_now[1]} + {31'd0, oor_now[2]} : 32'd0);
    end
endmodule
`default_nettype wire
