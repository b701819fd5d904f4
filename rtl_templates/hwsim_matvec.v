// Matrix-vector engine: NACC accumulations of ROWS rows each, every row
//   acc = bias + sum_j m_j * v_j << shift   (v = [u ; h], exact, ACC_BITS wide)
// leaving through one requant into sOUT_BITS.OUT_FRAC (docs/datapath.md, "Accumulations").
//
// The weight ROM holds the rows in (accumulation, row) order, each row padded to whole words of
// K = WORD_BITS/CODE_BITS codes; LANES lanes read LANES codes a cycle, so a row of N columns takes
// ceil(N/LANES) beats and the word pointer simply advances through the ROM. Three stages:
//   A: beat counters -> ROM and bias ROM addresses     B: decode, shift-add, accumulate
//   C: requant, write result (wr_en)
// Rows follow each other with no bubble: start at cycle 0, `done` (with the last write) at cycle
// BEATS + 2, where BEATS = sum over accumulations of ROWS * ceil(cols / LANES).
// SPLIT_GRU = 1 gives accumulation 2 no recurrent columns and accumulation 3 no input columns (the
// GRU's n_x / n_h); otherwise every accumulation reads [u (N_IN) ; h (N_REC)].
`default_nettype none
module hwsim_matvec #(
    parameter KIND          = 1,
    parameter CODE_BITS     = 2,
    parameter WORD_BITS     = 32,
    parameter LANES         = 1,
    parameter ROWS          = 4,
    parameter NACC          = 1,
    parameter N_IN          = 3,
    parameter N_REC         = 4,
    parameter SPLIT_GRU     = 0,
    parameter U_BITS        = 16,
    parameter H_BITS        = 16,
    parameter SHIFT_IN      = 0,
    parameter SHIFT_REC     = 0,
    parameter ACC_BITS      = 32,
    parameter ACC_FRAC      = 16,
    parameter OUT_BITS      = 16,
    parameter OUT_FRAC      = 11,
    parameter ROUND_MODE    = 1,
    parameter OVERFLOW_MODE = 0,
    parameter WEIGHT_FILE   = "",
    parameter BIAS_FILE     = "",
    // derived; not to be overridden
    parameter REC_W         = ((N_REC > 0) ? N_REC : 1) * H_BITS,
    parameter ROW_BITS      = ((ROWS) > 2 ? $clog2(ROWS) : 1)
) (
    input  wire                       clk,
    input  wire                       rst,
    input  wire                       start,
    input  wire [N_IN*U_BITS-1:0]     u_flat,
    input  wire [REC_W-1:0]           h_flat,
    output wire                       wr_en,
    output wire [1:0]                 wr_acc,
    output wire [ROW_BITS-1:0]        wr_row,
    output wire signed [OUT_BITS-1:0] wr_data,
    output wire                       wr_oor,
    output wire                       done
);
    function integer nin_of;
        input integer a;
        nin_of = (SPLIT_GRU != 0 && a == 3) ? 0 : N_IN;
    endfunction
    function integer nrec_of;
        input integer a;
        nrec_of = (SPLIT_GRU != 0 && a == 2) ? 0 : N_REC;
    endfunction
    function integer depth_of;  // words of the weight ROM holding accumulations 0..n-1
        input integer n;
        integer a;
        begin
            depth_of = 0;
            for (a = 0; a < n; a = a + 1)
                depth_of = depth_of + ROWS * ((nin_of(a) + nrec_of(a) + K - 1) / K);
        end
    endfunction

    localparam K      = WORD_BITS / CODE_BITS;      // codes per word
    localparam KP     = K / LANES;                  // beats per word
    localparam COLS   = N_IN + N_REC;
    localparam CLW    = ((COLS + LANES + 1) > 2 ? $clog2(COLS + LANES + 1) : 1);  // column / beat counter width
    localparam NCOL   = 1 << CLW;
    localparam DEPTH  = depth_of(NACC);
    localparam IDX_BITS = ((NACC * ROWS) > 2 ? $clog2(NACC * ROWS) : 1);
    localparam AB     = ((DEPTH) > 2 ? $clog2(DEPTH) : 1);
    localparam RW     = ROW_BITS;
    localparam NAW    = ((NACC) > 2 ? $clog2(NACC) : 1);
    localparam SW     = ((KP) > 2 ? $clog2(KP) : 1);
    localparam NGRP   = 1 << SW;
    localparam VB     = (U_BITS > H_BITS) ? U_BITS : H_BITS;
    localparam GRP    = LANES * CODE_BITS;

    // constants as integers, then sliced to the width of what they are compared with
    localparam integer LANES_I = LANES, ROWS_M1_I = ROWS - 1, NACC_M1_I = NACC - 1, KP_M1_I = KP - 1;
    localparam integer LAST_I = NACC * ROWS - 1;
    localparam integer NIN0_I = nin_of(0), NIN1_I = nin_of(1), NIN2_I = nin_of(2), NIN3_I = nin_of(3);
    localparam integer COL0_I = nin_of(0) + nrec_of(0), COL1_I = nin_of(1) + nrec_of(1);
    localparam integer COL2_I = nin_of(2) + nrec_of(2), COL3_I = nin_of(3) + nrec_of(3);
    localparam integer NBM0_I = (COL0_I + LANES - 1) / LANES - 1, NBM1_I = (COL1_I + LANES - 1) / LANES - 1;
    localparam integer NBM2_I = (COL2_I + LANES - 1) / LANES - 1, NBM3_I = (COL3_I + LANES - 1) / LANES - 1;
    localparam [CLW-1:0] LANES_C = LANES_I[CLW-1:0];
    localparam [RW-1:0]  ROWS_M1 = ROWS_M1_I[RW-1:0];
    localparam [NAW-1:0] NACC_M1 = NACC_M1_I[NAW-1:0];
    localparam [SW-1:0]  KP_M1   = KP_M1_I[SW-1:0];
    localparam [IDX_BITS-1:0] LAST_IDX = LAST_I[IDX_BITS-1:0];
    localparam [CLW-1:0] NIN0 = NIN0_I[CLW-1:0], NIN1 = NIN1_I[CLW-1:0], NIN2 = NIN2_I[CLW-1:0], NIN3 = NIN3_I[CLW-1:0];
    localparam [CLW-1:0] COL0 = COL0_I[CLW-1:0], COL1 = COL1_I[CLW-1:0], COL2 = COL2_I[CLW-1:0], COL3 = COL3_I[CLW-1:0];
    localparam [CLW-1:0] NBM0 = NBM0_I[CLW-1:0], NBM1 = NBM1_I[CLW-1:0], NBM2 = NBM2_I[CLW-1:0], NBM3 = NBM3_I[CLW-1:0];
    // accumulation index compared at a fixed 2-bit width (NACC <= 4)
    wire [1:0] a2, a2_b;

    // ---- operands as arrays padded to a power of two (out-of-range columns read 0) -------------
    wire signed [VB-1:0] u_arr [0:NCOL-1];
    wire signed [VB-1:0] h_arr [0:NCOL-1];
    genvar gi;
    generate
        for (gi = 0; gi < NCOL; gi = gi + 1) begin : g_ops
            if (gi < N_IN) begin : g_u
                wire [U_BITS-1:0] uu = u_flat[gi*U_BITS +: U_BITS];
                if (VB > U_BITS) begin : g_ext
                    assign u_arr[gi] = {{(VB - U_BITS){uu[U_BITS-1]}}, uu};
                end else begin : g_same
                    assign u_arr[gi] = uu;
                end
            end else begin : g_u0
                assign u_arr[gi] = {VB{1'b0}};
            end
            if (gi == 0 && N_REC == 0) begin : g_hu
                wire unused_h = ^h_flat;
            end
            if (gi < N_REC) begin : g_h
                wire [H_BITS-1:0] hh = h_flat[gi*H_BITS +: H_BITS];
                if (VB > H_BITS) begin : g_ext
                    assign h_arr[gi] = {{(VB - H_BITS){hh[H_BITS-1]}}, hh};
                end else begin : g_same
                    assign h_arr[gi] = hh;
                end
            end else begin : g_h0
                assign h_arr[gi] = {VB{1'b0}};
            end
        end
    endgenerate

    // ---- stage A: counters ------------------------------------------------------------------------
    reg             busy;
    reg [NAW-1:0]   a;
    reg [RW-1:0]    r;
    reg [CLW-1:0]   b;
    reg [SW-1:0]    s;
    reg [AB-1:0]    w;
    reg [IDX_BITS-1:0] ba;
    wire [CLW-1:0]  nb_last = (a2 == 2'd0) ? NBM0 : (a2 == 2'd1) ? NBM1 : (a2 == 2'd2) ? NBM2 : NBM3;

    always @(posedge clk) begin
        if (rst) begin
            busy <= 1'b0;
            a <= {NAW{1'b0}};
            r <= {RW{1'b0}};
            b <= {CLW{1'b0}};
            s <= {SW{1'b0}};
            w <= {AB{1'b0}};
            ba <= {IDX_BITS{1'b0}};
        end else if (start) begin
            busy <= 1'b1;
            a <= {NAW{1'b0}};
            r <= {RW{1'b0}};
            b <= {CLW{1'b0}};
            s <= {SW{1'b0}};
            w <= {AB{1'b0}};
            ba <= {IDX_BITS{1'b0}};
        end else if (busy) begin
            if (b == nb_last) begin
                b <= {CLW{1'b0}};
                s <= {SW{1'b0}};
                w <= w + 1'b1;
                ba <= ba + 1'b1;
                if (r == ROWS_M1) begin
                    r <= {RW{1'b0}};
                    if (a == NACC_M1) busy <= 1'b0;
                    else a <= a + 1'b1;
                end else begin
                    r <= r + 1'b1;
                end
            end else begin
                b <= b + 1'b1;
                if (s == KP_M1) begin
                    s <= {SW{1'b0}};
                    w <= w + 1'b1;
                end else begin
                    s <= s + 1'b1;
                end
            end
        end
    end

    wire [WORD_BITS-1:0] rom_q;
    wire [ACC_BITS-1:0]  bias_q;
    hwsim_rom #(.WIDTH(WORD_BITS), .DEPTH(DEPTH), .ADDR_BITS(AB), .INIT_FILE(WEIGHT_FILE)) u_wrom (
        .clk(clk), .addr(w), .q(rom_q)
    );
    hwsim_rom #(.WIDTH(ACC_BITS), .DEPTH(NACC * ROWS), .ADDR_BITS(IDX_BITS), .INIT_FILE(BIAS_FILE)) u_brom (
        .clk(clk), .addr(ba), .q(bias_q)
    );

    // ---- stage B: shift-add ---------------------------------------------------------------------
    reg             vb_q, first_b, last_b;
    reg [NAW-1:0]   a_b;
    reg [CLW-1:0]   b_b;
    reg [SW-1:0]    s_b;
    reg [IDX_BITS-1:0] ba_b;
    reg [RW-1:0]    r_b;
    generate
        if (NAW == 1) begin : g_a1
            assign a2 = {1'b0, a};
            assign a2_b = {1'b0, a_b};
        end else begin : g_a2
            assign a2 = a;
            assign a2_b = a_b;
        end
    endgenerate
    always @(posedge clk) begin
        if (rst) begin
            vb_q <= 1'b0;
            first_b <= 1'b0;
            last_b <= 1'b0;
            a_b <= {NAW{1'b0}};
            b_b <= {CLW{1'b0}};
            s_b <= {SW{1'b0}};
            ba_b <= {IDX_BITS{1'b0}};
            r_b <= {RW{1'b0}};
        end else begin
            r_b <= r;
            vb_q <= busy & ~start;
            first_b <= (b == {CLW{1'b0}});
            last_b <= (b == nb_last);
            a_b <= a;
            b_b <= b;
            s_b <= s;
            ba_b <= ba;
        end
    end

    wire [CLW-1:0] nin_b  = (a2_b == 2'd0) ? NIN0 : (a2_b == 2'd1) ? NIN1 : (a2_b == 2'd2) ? NIN2 : NIN3;
    wire [CLW-1:0] cols_b = (a2_b == 2'd0) ? COL0 : (a2_b == 2'd1) ? COL1 : (a2_b == 2'd2) ? COL2 : COL3;
    wire [CLW-1:0] col0   = b_b * LANES_C;
    // the LANES codes of this beat: group s_b of the word (groups padded to a power of two)
    wire [GRP-1:0] groups [0:NGRP-1];
    generate
        for (gi = 0; gi < NGRP; gi = gi + 1) begin : g_grp
            if (gi < KP) begin : g_g
                assign groups[gi] = rom_q[gi*GRP +: GRP];
            end else begin : g_z
                assign groups[gi] = {GRP{1'b0}};
            end
        end
        if (K * CODE_BITS < WORD_BITS) begin : g_pad
            wire unused_pad = ^rom_q[WORD_BITS-1:K*CODE_BITS];
        end
    endgenerate
    wire [GRP-1:0] grp = groups[s_b];

    generate
        for (gi = 0; gi < LANES; gi = gi + 1) begin : g_lane
            localparam [CLW-1:0] L = gi;
            wire [CLW-1:0]  col   = col0 + L;
            wire            valid = (col < cols_b);
            wire            is_in = (col < nin_b);
            wire [CLW-1:0]  hcol  = col - nin_b;
            wire signed [VB-1:0] v = is_in ? u_arr[col] : h_arr[hcol];
            wire signed [ACC_BITS-1:0] p;
            hwsim_lane #(.KIND(KIND), .CODE_BITS(CODE_BITS), .V_BITS(VB), .OUT_W(ACC_BITS)) u_lane (
                .code(grp[gi*CODE_BITS +: CODE_BITS]), .v(v), .p(p)
            );
            wire signed [ACC_BITS-1:0] term = ~valid ? {ACC_BITS{1'b0}}
                                            : is_in ? (p <<< SHIFT_IN) : (p <<< SHIFT_REC);
            wire signed [ACC_BITS-1:0] sum;
            if (gi == 0) begin : g_first
                assign sum = term;
            end else begin : g_next
                assign sum = g_lane[gi - 1].sum + term;
            end
        end
    endgenerate
    wire signed [ACC_BITS-1:0] beat_sum = g_lane[LANES - 1].sum;

    reg signed [ACC_BITS-1:0] acc;
    always @(posedge clk) begin
        if (vb_q) acc <= (first_b ? bias_q : acc) + beat_sum;
    end

    // ---- stage C: requant and write ---------------------------------------------------------------
    reg             vc_q;
    reg [IDX_BITS-1:0] ba_c;
    reg [1:0]       a_c;
    reg [RW-1:0]    r_c;
    always @(posedge clk) begin
        if (rst) begin
            vc_q <= 1'b0;
            ba_c <= {IDX_BITS{1'b0}};
            a_c <= 2'd0;
            r_c <= {RW{1'b0}};
        end else begin
            vc_q <= vb_q & last_b;
            ba_c <= ba_b;
            a_c <= a2_b;
            r_c <= r_b;
        end
    end
    hwsim_requant #(
        .IN_W(ACC_BITS), .FROM_FRAC(ACC_FRAC), .OUT_BITS(OUT_BITS), .OUT_FRAC(OUT_FRAC),
        .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)
    ) u_rq (.din(acc), .dout(wr_data), .oor(wr_oor));
    assign wr_en  = vc_q;
    assign wr_acc = a_c;
    assign wr_row = r_c;
    assign done   = vc_q & (ba_c == LAST_IDX);
endmodule
`default_nettype wire
