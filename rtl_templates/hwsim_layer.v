// One recurrent layer (docs/datapath.md, "Cell equations in integers"): the accumulations by
// hwsim_matvec (ROWS row PEs x LANES lanes) into a buffer of pre-activations, then a pipelined
// pointwise pass by PW_UNITS units that updates h (and the LSTM's c) in place.
// CELL: 0 rnn_tanh, 1 rnn_relu, 2 gru, 3 lstm.
//
// The pre-activation buffer has ROWS banks (row i in bank i mod ROWS at address i div ROWS), so
// the matvec writes a row group in one cycle; PW_UNITS divides ROWS and unit p takes rows
// p, p + PW_UNITS, ... (issue k: row k*PW_UNITS + p), one row per unit per cycle.
// Timing (docs/rtl.md): `start` at cycle 0; the matvec's last write at MV = BEATS + 4 + TL; issues
// at MV + 1 .. MV + NK, NK = ceil(HID / PW_UNITS); a row issued at e reaches the unit at e + 2 and
// writes h at e + 2 + LAT_H; `done` pulses at MV + NK + 3 + LAT_H. `clear` zeroes h and c.
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
    parameter LANES         = 1,
    parameter ROWS          = 1,
    parameter PW_UNITS      = 1,
    parameter MUL_STAGES    = 1,   // cycles of a pointwise product (hwsim_mul), 1 or 2
    parameter TPW           = 1,
    parameter SHIFT_IN      = 0,
    parameter SHIFT_REC     = 0,
    parameter ACC_BITS      = 32,
    parameter ACC_FRAC      = 16,
    parameter WEIGHT_FILE   = "",
    parameter BIAS_FILE     = "",
    // per-row weight scales (hwsim_matvec): RSH_BITS-bit row shifts up to RSH_MAX from RSH_FILE
    parameter RSH_BITS      = 0,
    parameter RSH_MAX       = 0,
    parameter RSH_FILE      = "",
    // run-time weights: the matvec's memories take writes from the load bus (hwsim_rom WRITABLE)
    parameter WRITABLE      = 0,
    parameter WMEM_ID       = 0,
    parameter BMEM_ID       = 1,
    parameter LD_DW         = 8,
    parameter SIG_FILE      = "",
    parameter TANH_FILE     = "",
    // read ports per copy of an activation table (hwsim_act PPR): 2 where a block RAM has two read
    // ports (ECP5, Xilinx, Intel), 1 on iCE40
    parameter TABLE_PORTS   = 2
) (
    input  wire                    clk,
    input  wire                    rst,
    input  wire                    clear,
    input  wire                    start,
    input  wire [N_IN*U_BITS-1:0]  u_flat,
    output wire [HID*H_BITS-1:0]   h_flat,
    output wire [HID*C_BITS-1:0]   c_flat,
    // the h port for a reader outside the layer (the head) while the layer is idle (HRAM only):
    // h_rd = h[ext_addr] one cycle after ext_en
    input  wire                    ext_en,
    input  wire [((HID) > 2 ? $clog2(HID) : 1)-1:0] ext_addr,
    output wire signed [H_BITS-1:0] h_rd,
    output reg                     done,
    output reg  [31:0]             sat_count,
    input  wire                    ld_we,
    input  wire [7:0]              ld_sel,
    input  wire [23:0]             ld_addr,
    input  wire [LD_DW-1:0]        ld_data
);

    localparam NACC = (CELL == 2 || CELL == 3) ? 4 : 1;
    localparam P    = PW_UNITS;
    localparam PU   = (P < HID) ? P : HID;                // units that get a row at all
    localparam Q    = ROWS / PW_UNITS;                    // banks per unit
    localparam G    = (HID + ROWS - 1) / ROWS;            // rows per bank
    localparam NK   = (HID + P - 1) / P;                  // issues of the pointwise pass
    localparam GW   = ((G) > 2 ? $clog2(G) : 1);
    localparam KW   = ((NK) > 2 ? $clog2(NK) : 1);
    localparam QW   = ((Q) > 2 ? $clog2(Q) : 1);
    localparam LAT_H = (CELL == 2 || CELL == 3) ? 10 + 2 * (MUL_STAGES - 1) : 3;   // hwsim_pointwise
    localparam LAT_C = 5 + (MUL_STAGES - 1);
    // one pointwise unit: h also lives in a block-RAM copy (one write a cycle) read through a
    // synchronous port by the pointwise pass and, with one lane, by the matvec: no wide selectors
    localparam HRAM  = (P == 1) ? 1 : 0;
    localparam EXT_H = (HRAM != 0 && LANES == 1) ? 1 : 0;
    localparam HAW   = ((HID) > 2 ? $clog2(HID) : 1);
    localparam integer NK_M1_I = NK - 1, Q_M1_I = Q - 1;
    localparam [KW-1:0] NK_M1 = NK_M1_I[KW-1:0];
    localparam [QW-1:0] Q_M1  = Q_M1_I[QW-1:0];

    // ---- state ----------------------------------------------------------------------------------
    // h and c live in g_state[i].h / .c (row i), read through h_flat / c_flat
    genvar gi, gb, gn;

    // ---- accumulations --------------------------------------------------------------------------
    wire                       mv_wr, mv_done;
    wire [1:0]                 mv_acc;
    wire [GW-1:0]              mv_grp;
    wire [ROWS*PRE_BITS-1:0]   mv_data;
    wire [ROWS-1:0]            mv_valid, mv_oor;
    wire [HAW-1:0]             mv_haddr;
    wire                       mv_hen;
    hwsim_matvec #(
        .KIND(KIND), .CODE_BITS(CODE_BITS), .ROWS(ROWS), .LANES(LANES), .TPW(TPW),
        .NROW(HID), .NACC(NACC), .N_IN(N_IN), .N_REC(HID), .SPLIT_GRU(CELL == 2 ? 1 : 0),
        .U_BITS(U_BITS), .H_BITS(H_BITS), .SHIFT_IN(SHIFT_IN), .SHIFT_REC(SHIFT_REC),
        .ACC_BITS(ACC_BITS), .ACC_FRAC(ACC_FRAC), .OUT_BITS(PRE_BITS), .OUT_FRAC(PRE_FRAC),
        .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE),
        .WEIGHT_FILE(WEIGHT_FILE), .BIAS_FILE(BIAS_FILE),
        .RSH_BITS(RSH_BITS), .RSH_MAX(RSH_MAX), .RSH_FILE(RSH_FILE), .EXT_H(EXT_H),
        .WRITABLE(WRITABLE), .WMEM_ID(WMEM_ID), .BMEM_ID(BMEM_ID), .LD_DW(LD_DW)
    ) u_mv (
        .clk(clk), .rst(rst), .start(start), .u_flat(u_flat), .h_flat(h_flat), .h_addr(mv_haddr), .h_en(mv_hen), .h_q(h_rd),
        .wr_en(mv_wr), .wr_acc(mv_acc), .wr_grp(mv_grp), .wr_data(mv_data), .wr_valid(mv_valid),
        .wr_oor(mv_oor), .done(mv_done),
        .ld_we(ld_we), .ld_sel(ld_sel), .ld_addr(ld_addr), .ld_data(ld_data)
    );

    // ---- pointwise sequencer --------------------------------------------------------------------
    reg          pw_busy;
    reg [KW-1:0] k;
    reg [QW-1:0] kq;
    reg [GW-1:0] kg;
    wire         pw_last = pw_busy & (k == NK_M1);
    always @(posedge clk) begin
        if (rst) pw_busy <= 1'b0;
        else if (mv_done) pw_busy <= 1'b1;
        else if (pw_last) pw_busy <= 1'b0;
    end
    always @(posedge clk) begin
        if (mv_done) begin
            k <= {KW{1'b0}};
            kq <= {QW{1'b0}};
            kg <= {GW{1'b0}};
        end else if (pw_busy) begin
            k <= k + 1'b1;
            if (kq == Q_M1 || Q == 1) begin
                kq <= {QW{1'b0}};
                kg <= kg + 1'b1;
            end else begin
                kq <= kq + 1'b1;
            end
        end
    end
    // issue e: bank read at kg; e + 1: bank and state selectors; e + 2: the units' inputs
    wire [KW-1:0] k1, kh, kc;
    wire [QW-1:0] kq1;
    wire          vh, vc;
    hwsim_delay #(.W(KW + QW), .N(1)) u_dk1 (.clk(clk), .rst(rst), .d({k, kq}), .q({k1, kq1}));
    wire [KW-1:0] kh_e;   // kh one cycle early: the HRAM's one-hot valid-bit select is registered from it
    hwsim_delay #(.W(KW), .N(1 + LAT_H)) u_dkh (.clk(clk), .rst(rst), .d(k), .q(kh_e));
    hwsim_delay #(.W(KW), .N(1)) u_dkh1 (.clk(clk), .rst(rst), .d(kh_e), .q(kh));
    hwsim_delay #(.W(KW), .N(2 + LAT_C)) u_dkc (.clk(clk), .rst(rst), .d(k), .q(kc));
    hwsim_delay #(.W(1), .N(2 + LAT_H), .RST(1)) u_dvh (.clk(clk), .rst(rst), .d(pw_busy), .q(vh));
    hwsim_delay #(.W(1), .N(2 + LAT_C), .RST(1)) u_dvc (.clk(clk), .rst(rst), .d(pw_busy), .q(vc));
    wire last_h;
    hwsim_delay #(.W(1), .N(2 + LAT_H), .RST(1)) u_dl (.clk(clk), .rst(rst), .d(pw_last), .q(last_h));
    always @(posedge clk) begin
        if (rst) done <= 1'b0;
        else done <= last_h;
    end

    // ---- pre-activation banks: written a row group at a time, read synchronously ---------------
    wire [PRE_BITS-1:0] pre_q [0:NACC*ROWS-1];   // [n*ROWS + b]
    generate
        for (gn = 0; gn < NACC; gn = gn + 1) begin : g_acc
            for (gb = 0; gb < ROWS; gb = gb + 1) begin : g_bank
                reg [PRE_BITS-1:0] mem [0:G-1];
                reg [PRE_BITS-1:0] q;
                always @(posedge clk) begin
                    if (mv_wr && mv_acc == gn && mv_valid[gb]) mem[mv_grp] <= mv_data[gb*PRE_BITS +: PRE_BITS];
                    q <= mem[kg];
                end
                assign pre_q[gn*ROWS + gb] = q;
            end
        end
    endgenerate

    // ---- the h port (HRAM): a block-RAM copy of h with a valid bit per row (clear zeroes h) -----
    generate
        if (HRAM != 0) begin : g_hram
            reg [H_BITS-1:0] mem [0:HID-1];
            reg [HID-1:0]    hval;
            reg [H_BITS-1:0] q;
            reg              qv;
            wire             pw_rd;    // the pointwise pass reads at issue + 1 (address k1)
            hwsim_delay #(.W(1), .N(1), .RST(1)) u_dr (.clk(clk), .rst(rst), .d(pw_busy), .q(pw_rd));
            wire [HAW-1:0]   raddr = pw_rd ? k1[HAW-1:0] : ext_en ? ext_addr : mv_haddr;
            wire             unused_en = mv_hen;
            wire             wen = vh;   // one unit: every issue carries a row
            always @(posedge clk) begin
                if (wen) mem[kh[HAW-1:0]] <= hn_flat[H_BITS-1:0];
                q <= mem[raddr];
            end
            // the row kh is valid from its write on: a registered one-hot select (decoded a cycle
            // early) rather than a dynamic bit write, whose index logic was the 1x1 critical path
            wire [HID-1:0] hsel_d;
            reg  [HID-1:0] hsel;
            genvar gj;
            for (gj = 0; gj < HID; gj = gj + 1) begin : g_hsel
                localparam [HAW-1:0] J = gj;
                assign hsel_d[gj] = kh_e[HAW-1:0] == J;
            end
            always @(posedge clk) begin
                hsel <= hsel_d;
                if (rst || clear) hval <= {HID{1'b0}};
                else if (wen) hval <= hval | hsel;
                qv <= hval[raddr];
            end
            assign h_rd = qv ? q : {H_BITS{1'b0}};
        end else begin : g_nohram
            assign h_rd = {H_BITS{1'b0}};
            wire unused_ha = ^{mv_haddr, mv_hen, ext_en, ext_addr};
        end
    endgenerate

    // ---- pointwise units ------------------------------------------------------------------------
    wire [PU*H_BITS-1:0] hn_flat;
    wire [PU*C_BITS-1:0] cn_flat;
    wire [3*PU-1:0]      pw_oor;
    // the units' activation reads (hwsim_pointwise's slots: 3 sigmoid, 2 tanh per unit)
    wire [3*PU*PRE_BITS-1:0] sx_all;
    wire [3*PU*ACT_BITS-1:0] sy_all;
    wire [2*PU*PRE_BITS-1:0] tx_all;
    wire [2*PU*ACT_BITS-1:0] ty_all;
    generate
        for (gi = 0; gi < PU; gi = gi + 1) begin : g_pw
            // this unit's rows: issue k -> row k*P + gi, bank gi + P*kq at address kg
            wire signed [H_BITS-1:0] hs [0:(1 << KW)-1];
            wire signed [C_BITS-1:0] cs [0:(1 << KW)-1];
            for (gb = 0; gb < (1 << KW); gb = gb + 1) begin : g_sel
                if (gb * P + gi < HID) begin : g_in
                    assign hs[gb] = h_flat[(gb*P + gi)*H_BITS +: H_BITS];
                    assign cs[gb] = c_flat[(gb*P + gi)*C_BITS +: C_BITS];
                end else begin : g_out
                    assign hs[gb] = {H_BITS{1'b0}};
                    assign cs[gb] = {C_BITS{1'b0}};
                end
            end
            wire [PRE_BITS-1:0] bk [0:4*(1 << QW)-1];   // [n*2**QW + j]: accumulation n, bank gi + P*j
            for (gn = 0; gn < 4; gn = gn + 1) begin : g_bn
                for (gb = 0; gb < (1 << QW); gb = gb + 1) begin : g_bj
                    if (gn < NACC && gb < Q) begin : g_in
                        assign bk[gn*(1 << QW) + gb] = pre_q[gn*ROWS + gi + P*gb];
                    end else begin : g_out
                        assign bk[gn*(1 << QW) + gb] = {PRE_BITS{1'b0}};
                    end
                end
            end
            reg signed [PRE_BITS-1:0] x0, x1, x2, x3;
            reg signed [H_BITS-1:0]   ho;
            reg signed [C_BITS-1:0]   co;
            always @(posedge clk) begin
                x0 <= bk[0*(1 << QW) + kq1];
                x1 <= bk[1*(1 << QW) + kq1];
                x2 <= bk[2*(1 << QW) + kq1];
                x3 <= bk[3*(1 << QW) + kq1];
                co <= cs[k1];
            end
            if (HRAM != 0) begin : g_hp   // h_old through the port, addressed one cycle earlier
                always @(*) ho = h_rd;
                wire unused_hs = ^hs[k1];
            end else begin : g_hs
                always @(posedge clk) ho <= hs[k1];
            end
            wire signed [H_BITS-1:0] hn;
            wire signed [C_BITS-1:0] cn;
            wire [2:0]               oo;
            hwsim_pointwise #(
                .CELL(CELL), .H_BITS(H_BITS), .H_FRAC(H_FRAC), .C_BITS(C_BITS), .C_FRAC(C_FRAC),
                .PRE_BITS(PRE_BITS), .PRE_FRAC(PRE_FRAC), .ACT_BITS(ACT_BITS), .ACT_FRAC(ACT_FRAC),
                .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE), .MUL_STAGES(MUL_STAGES)
            ) u_pw (
                .clk(clk), .p0(x0), .p1(x1), .p2(x2), .p3(x3), .h_old(ho), .c_old(co),
                .h_new(hn), .c_new(cn), .oor(oo),
                .sig_x(sx_all[3*gi*PRE_BITS +: 3*PRE_BITS]), .sig_y(sy_all[3*gi*ACT_BITS +: 3*ACT_BITS]),
                .tanh_x(tx_all[2*gi*PRE_BITS +: 2*PRE_BITS]), .tanh_y(ty_all[2*gi*ACT_BITS +: 2*ACT_BITS])
            );
            localparam integer NKP_I = (HID - gi + P - 1) / P;   // issues that carry a row of this unit
            localparam [KW:0] NKP = NKP_I[KW:0];
            assign hn_flat[gi*H_BITS +: H_BITS] = hn;
            assign cn_flat[gi*C_BITS +: C_BITS] = cn;
            assign pw_oor[3*gi +: 3] = oo & {3{vh & ({1'b0, kh} < NKP)}};
        end
    endgenerate

    // ---- activation tables, shared by the layer's units ----------------------------------------
    // one hwsim_act per function with a read port per used slot of every unit (unit gi's slot s is
    // port gi*NS + s), so a table copy serves TABLE_PORTS readers
    localparam NS = (CELL == 2) ? 2 : (CELL == 3) ? 3 : 0;                 // sigmoid slots a unit uses
    localparam NT = (CELL == 0 || CELL == 2) ? 1 : (CELL == 3) ? 2 : 0;    // tanh slots a unit uses
    generate
        if (NS > 0) begin : g_sig
            wire [NS*PU*PRE_BITS-1:0] bx;
            wire [NS*PU*ACT_BITS-1:0] by;
            hwsim_act #(
                .FUNC(0), .ACT_KIND(ACT_KIND), .PRE_BITS(PRE_BITS), .PRE_FRAC(PRE_FRAC), .ACT_BITS(ACT_BITS),
                .ACT_FRAC(ACT_FRAC), .LUT_BITS(LUT_BITS), .RANGE_LOG2(SIG_RANGE), .LUT_FILE(SIG_FILE),
                .NP(NS * PU), .PPR(TABLE_PORTS)
            ) u_sig (.clk(clk), .x_flat(bx), .y_flat(by));
            for (gi = 0; gi < PU; gi = gi + 1) begin : g_u
                for (gn = 0; gn < 3; gn = gn + 1) begin : g_s
                    if (gn < NS) begin : g_on
                        assign bx[(gi*NS + gn)*PRE_BITS +: PRE_BITS] = sx_all[(3*gi + gn)*PRE_BITS +: PRE_BITS];
                        assign sy_all[(3*gi + gn)*ACT_BITS +: ACT_BITS] = by[(gi*NS + gn)*ACT_BITS +: ACT_BITS];
                    end else begin : g_off
                        assign sy_all[(3*gi + gn)*ACT_BITS +: ACT_BITS] = {ACT_BITS{1'b0}};
                        wire unused_x = ^sx_all[(3*gi + gn)*PRE_BITS +: PRE_BITS];
                    end
                end
            end
        end else begin : g_nosig
            assign sy_all = {(3*PU*ACT_BITS){1'b0}};
            wire unused_x = ^sx_all;
        end
        if (NT > 0) begin : g_tanh
            wire [NT*PU*PRE_BITS-1:0] bx;
            wire [NT*PU*ACT_BITS-1:0] by;
            hwsim_act #(
                .FUNC(1), .ACT_KIND(ACT_KIND), .PRE_BITS(PRE_BITS), .PRE_FRAC(PRE_FRAC), .ACT_BITS(ACT_BITS),
                .ACT_FRAC(ACT_FRAC), .LUT_BITS(LUT_BITS), .RANGE_LOG2(TANH_RANGE), .LUT_FILE(TANH_FILE),
                .NP(NT * PU), .PPR(TABLE_PORTS)
            ) u_tanh (.clk(clk), .x_flat(bx), .y_flat(by));
            for (gi = 0; gi < PU; gi = gi + 1) begin : g_u
                for (gn = 0; gn < 2; gn = gn + 1) begin : g_s
                    if (gn < NT) begin : g_on
                        assign bx[(gi*NT + gn)*PRE_BITS +: PRE_BITS] = tx_all[(2*gi + gn)*PRE_BITS +: PRE_BITS];
                        assign ty_all[(2*gi + gn)*ACT_BITS +: ACT_BITS] = by[(gi*NT + gn)*ACT_BITS +: ACT_BITS];
                    end else begin : g_off
                        assign ty_all[(2*gi + gn)*ACT_BITS +: ACT_BITS] = {ACT_BITS{1'b0}};
                        wire unused_x = ^tx_all[(2*gi + gn)*PRE_BITS +: PRE_BITS];
                    end
                end
            end
        end else begin : g_notanh
            assign ty_all = {(2*PU*ACT_BITS){1'b0}};
            wire unused_x = ^tx_all;
        end
    endgenerate

    generate
        for (gi = 0; gi < HID; gi = gi + 1) begin : g_state
            localparam integer KI_I = gi / P;
            localparam [KW-1:0] KI = KI_I[KW-1:0];       // the issue that carries row gi
            reg signed [H_BITS-1:0] h;
            reg signed [C_BITS-1:0] c;
            always @(posedge clk) begin
                if (rst || clear) begin
                    h <= {H_BITS{1'b0}};
                    c <= {C_BITS{1'b0}};
                end else begin
                    if (vh && kh == KI) h <= hn_flat[(gi % P)*H_BITS +: H_BITS];
                    if (CELL == 3 && vc && kc == KI) c <= cn_flat[(gi % P)*C_BITS +: C_BITS];
                end
            end
            assign h_flat[gi*H_BITS +: H_BITS] = h;
            assign c_flat[gi*C_BITS +: C_BITS] = c;
        end
    endgenerate

    // out-of-range events of every requant node of this layer (pre_* as the matvec writes them),
    // counted off the critical path: the flags are registered, then summed, then added
    localparam NF = ROWS + 3 * PU;
    localparam CW = $clog2(NF + 1);
    wire [NF-1:0] flags = {pw_oor, mv_oor & mv_valid & {ROWS{mv_wr}}};
    reg  [CW-1:0] nflags;
    integer j;
    always @(*) begin
        nflags = {CW{1'b0}};
        for (j = 0; j < NF; j = j + 1) nflags = nflags + {{(CW - 1){1'b0}}, flags[j]};
    end
    reg [CW-1:0] nflags_q;
    always @(posedge clk) begin
        if (rst) begin
            nflags_q <= {CW{1'b0}};
            sat_count <= 32'd0;
        end else begin
            nflags_q <= nflags;
            sat_count <= sat_count + {{(32 - CW){1'b0}}, nflags_q};
        end
    end
endmodule
`default_nettype wire
