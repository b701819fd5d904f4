// Matrix-vector engine, folded FINN-style: NACC accumulations of NROW rows each, every row
//   acc = bias + sum_j m_j * v_j << shift   (v = [u ; h], exact, ACC_BITS wide)
// leaving through a requant into sOUT_BITS.OUT_FRAC (docs/datapath.md, "Accumulations").
//
// ROWS row PEs x LANES lanes: a beat works on one tile, ROWS rows x LANES columns of one
// accumulation. The LANES operands of a beat are broadcast to every row PE; lane l only ever reads
// columns c*LANES + l, so its operand selector is a ceil(cols/LANES):1 mux, not a full-row one. The
// weight ROM holds one tile of ROWS*LANES codes per beat, in the order (accumulation, row group,
// column group); TPW tiles share a ROM word (docs/rom_format.md). The bias ROM holds the ROWS biases
// of a row group in one word. Pipeline (docs/rtl.md, "Timing"):
//   beat t      counters -> ROM and operand selectors
//   t+1         ROM word -> tile register; operand -> +op and -op registers (the negation's carry
//               chain alone in its cycle, so the lane is a mux)
//   t+2         code x operand -> tree level 1
//   t+2..t+1+TL adder tree, every level registered, each node exactly as wide as its sum can be
//   t+2+TL      accumulate (bias on the first column group, from a registered bias-ROM read)
//   t+3+TL      requant, registered
// so a row group's results are written (wr_en, ROWS values) at t+4+TL after its last beat, with
// TL = max(1, clog2(LANES)). `start` at cycle 0, beats at 1..BEATS, `done` with the last write at
// cycle BEATS + 4 + TL, BEATS = sum over accumulations of ceil(NROW/ROWS) * ceil(cols/LANES).
// SPLIT_GRU = 1 gives accumulation 2 no recurrent columns and accumulation 3 no input columns (the
// GRU's n_x / n_h); otherwise every accumulation reads [u (N_IN) ; h (N_REC)].
`default_nettype none
module hwsim_matvec #(
    parameter KIND          = 1,
    parameter CODE_BITS     = 2,
    parameter ROWS          = 1,
    parameter LANES         = 1,
    parameter TPW           = 1,
    parameter NROW          = 4,
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
    // per-row weight scales (docs/datapath.md, "Per-row scales"): RSH_BITS > 0 reads a shift ROM
    // beside the bias ROM (RSH_FILE, ROWS fields of RSH_BITS per word, same address); row j's
    // accumulator has ACC_FRAC + e_j fraction bits, e_j <= RSH_MAX. RSH_BITS = 0: no shifts.
    parameter RSH_BITS      = 0,
    parameter RSH_MAX       = 0,
    parameter RSH_FILE      = "",
    // EXT_H = 1 (LANES = 1 only): h is read through a synchronous port (h_addr -> h_q one cycle
    // later, e.g. a block-RAM copy of h) instead of a selector over h_flat
    parameter EXT_H         = 0,
    // EXT_U = 1 (with EXT_H, no recurrent columns: the head): the u columns come through the port
    parameter EXT_U         = 0,
    // run-time weights (hwsim_rom WRITABLE): both memories take writes from the load bus
    parameter WRITABLE      = 0,
    parameter WMEM_ID       = 0,
    parameter BMEM_ID       = 1,
    parameter LD_DW         = 8,
    // derived; not to be overridden
    parameter REC_W         = ((N_REC > 0) ? N_REC : 1) * H_BITS,
    parameter HN            = (EXT_U != 0) ? N_IN : N_REC,
    parameter HAW           = ((HN) > 2 ? $clog2(HN) : 1),
    parameter RG            = (NROW + ROWS - 1) / ROWS,
    parameter GW            = ((RG) > 2 ? $clog2(RG) : 1)
) (
    input  wire                        clk,
    input  wire                        rst,
    input  wire                        start,
    input  wire [N_IN*U_BITS-1:0]      u_flat,
    input  wire [REC_W-1:0]            h_flat,
    output wire [HAW-1:0]              h_addr,
    output wire                        h_en,     // the port is being read (h_addr valid)
    input  wire signed [H_BITS-1:0]    h_q,
    output reg                         wr_en,
    output reg  [1:0]                  wr_acc,
    output reg  [GW-1:0]               wr_grp,
    output reg  [ROWS*OUT_BITS-1:0]    wr_data,
    output reg  [ROWS-1:0]             wr_valid,
    output reg  [ROWS-1:0]             wr_oor,
    output wire                        done,
    input  wire                        ld_we,
    input  wire [7:0]                  ld_sel,
    input  wire [23:0]                 ld_addr,
    input  wire [LD_DW-1:0]            ld_data
);
    function integer nin_of;
        input integer a;
        nin_of = (SPLIT_GRU != 0 && a == 3) ? 0 : N_IN;
    endfunction
    function integer nrec_of;
        input integer a;
        nrec_of = (SPLIT_GRU != 0 && a == 2) ? 0 : N_REC;
    endfunction
    function integer cg_of;  // column groups of accumulation a
        input integer a;
        cg_of = (nin_of(a) + nrec_of(a) + LANES - 1) / LANES;
    endfunction
    function integer tiles_of;  // tiles of accumulations 0..n-1
        input integer n;
        integer a;
        begin
            tiles_of = 0;
            for (a = 0; a < n; a = a + 1) tiles_of = tiles_of + RG * cg_of(a);
        end
    endfunction
    function integer max2;
        input integer x, y;
        max2 = (x > y) ? x : y;
    endfunction
    function integer min2;
        input integer x, y;
        min2 = (x < y) ? x : y;
    endfunction
    function integer nodes_at;  // nodes of adder-tree level k (level 0: the LANES products)
        input integer k;
        integer i;
        begin
            nodes_at = LANES;
            for (i = 0; i < k; i = i + 1) nodes_at = (nodes_at + 1) / 2;
        end
    endfunction

    localparam TILE  = ROWS * LANES * CODE_BITS;
    localparam NT    = tiles_of(NACC);
    localparam DEPTH = (NT + TPW - 1) / TPW;
    localparam AB    = ((DEPTH) > 2 ? $clog2(DEPTH) : 1);
    localparam NB    = NACC * RG;                                  // bias words
    localparam BAW   = ((NB) > 2 ? $clog2(NB) : 1);
    localparam CGV   = (N_IN + N_REC + LANES - 1) / LANES;          // column groups of [u ; h]
    localparam CGM   = max2(CGV, 1);
    localparam CLW   = ((CGM) > 2 ? $clog2(CGM) : 1);
    localparam NSEL  = 1 << CLW;
    localparam NAW   = ((NACC) > 2 ? $clog2(NACC) : 1);
    localparam SW    = ((TPW) > 2 ? $clog2(TPW) : 1);
    localparam VB    = max2(U_BITS, H_BITS);
    localparam SMAX  = max2(SHIFT_IN, SHIFT_REC);
    localparam OPW   = min2(ACC_BITS, VB + SMAX);                   // a shifted operand
    // product magnitude beyond the operand: sign (binary/ternary), the largest shift (exp), m (uniform)
    localparam EXTRA = (KIND <= 1) ? 1 : (KIND == 2) ? (1 << (CODE_BITS - 1)) - 1 : CODE_BITS;
    localparam PW    = min2(ACC_BITS, OPW + EXTRA);                 // a product, exactly
    localparam D     = ((LANES) > 1 ? $clog2(LANES) : 0);           // adder-tree levels
    localparam TL    = max2(1, D);
    localparam SUMW  = min2(ACC_BITS, PW + D);

    localparam integer RG_M1_I = RG - 1, NACC_M1_I = NACC - 1, TPW_M1_I = TPW - 1;
    localparam integer CGL0_I = cg_of(0) - 1, CGL1_I = cg_of(1) - 1, CGL2_I = cg_of(2) - 1, CGL3_I = cg_of(3) - 1;
    localparam integer LASTB_I = NB - 1;
    localparam [GW-1:0]  RG_M1   = RG_M1_I[GW-1:0];
    localparam [NAW-1:0] NACC_M1 = NACC_M1_I[NAW-1:0];
    localparam [SW-1:0]  TPW_M1  = TPW_M1_I[SW-1:0];
    localparam [CLW-1:0] CGL0 = CGL0_I[CLW-1:0], CGL1 = CGL1_I[CLW-1:0];
    localparam [CLW-1:0] CGL2 = CGL2_I[CLW-1:0], CGL3 = CGL3_I[CLW-1:0];

    // ---- beat counters (stage 0) -----------------------------------------------------------------
    reg             busy;
    reg [NAW-1:0]   a;
    reg [GW-1:0]    g;
    reg [CLW-1:0]   c;
    reg [SW-1:0]    s;
    reg [AB-1:0]    w;
    reg [BAW-1:0]   ba;
    wire [1:0]      a2;
    generate
        if (NAW == 1) begin : g_a1
            assign a2 = {1'b0, a};
        end else begin : g_a2
            assign a2 = a;
        end
    endgenerate
    wire [CLW-1:0] c_last = (a2 == 2'd0) ? CGL0 : (a2 == 2'd1) ? CGL1 : (a2 == 2'd2) ? CGL2 : CGL3;
    wire           end_c  = (c == c_last);
    wire           end_g  = (g == RG_M1);
    wire           end_a  = (a == NACC_M1);
    assign h_en = busy;

    always @(posedge clk) begin
        if (rst) begin
            busy <= 1'b0;
        end else if (start) begin
            busy <= 1'b1;
        end else if (busy && end_c && end_g && end_a) begin
            busy <= 1'b0;
        end
    end
    always @(posedge clk) begin
        if (start) begin
            a <= {NAW{1'b0}};
            g <= {GW{1'b0}};
            c <= {CLW{1'b0}};
            s <= {SW{1'b0}};
            w <= {AB{1'b0}};
            ba <= {BAW{1'b0}};
        end else if (busy) begin
            if (s == TPW_M1 || TPW == 1) begin
                s <= {SW{1'b0}};
                w <= w + 1'b1;
            end else begin
                s <= s + 1'b1;
            end
            if (end_c) begin
                c <= {CLW{1'b0}};
                ba <= ba + 1'b1;
                if (end_g) begin
                    g <= {GW{1'b0}};
                    a <= a + 1'b1;
                end else begin
                    g <= g + 1'b1;
                end
            end else begin
                c <= c + 1'b1;
            end
        end
    end

    // ---- weights: one tile per beat --------------------------------------------------------------
    wire [TPW*TILE-1:0] rom_q;
    hwsim_rom #(.WIDTH(TPW * TILE), .DEPTH(DEPTH), .ADDR_BITS(AB), .INIT_FILE(WEIGHT_FILE),
                .WRITABLE(WRITABLE), .MEM_ID(WMEM_ID), .LD_DW(LD_DW)) u_wrom (
        .clk(clk), .addr(w), .q(rom_q),
        .ld_we(ld_we), .ld_sel(ld_sel), .ld_addr(ld_addr), .ld_data(ld_data)
    );

    // ---- operands: lane l reads column c*LANES + l, shifted into accumulator units ----------------
    // vc: of [u ; h] (is_in flag in the top bit); ub: column past u (GRU n_x, whose h part reads 0).
    // GRU n_h reads h alone: when LANES divides N_IN that is vc from column group N_IN/LANES on
    // (one selector per lane); otherwise a second selector hc over h.
    localparam SHARE = (SPLIT_GRU == 0) || (N_IN % LANES == 0);
    localparam integer OFFG_I = N_IN / LANES;
    localparam [CLW-1:0] OFFG = OFFG_I[CLW-1:0];
    wire type_h = (SPLIT_GRU != 0) && (a2 == 2'd3);
    wire type_u = (SPLIT_GRU != 0) && (a2 == 2'd2);
    wire [CLW-1:0] cv = (SHARE && type_h) ? c + OFFG : c;
    wire signed [OPW-1:0] op [0:LANES-1];
    genvar gl, gc, gr, gk;
    generate
        if (EXT_H != 0 && EXT_U != 0) begin : g_extu
            // one lane, every column u[c] through the port
            assign h_addr = c[HAW-1:0];
            wire signed [VB-1:0] v = {{(VB - H_BITS + 1){h_q[H_BITS-1]}}, h_q[H_BITS-2:0]};
            wire signed [VB+SMAX-1:0] vx = {{(SMAX + 1){v[VB-1]}}, v[VB-2:0]};
            wire signed [VB+SMAX-1:0] vs = vx <<< SHIFT_IN;
            assign op[0] = vs[OPW-1:0];
            if (VB + SMAX > OPW) begin : g_cut
                wire unused_hi = ^vs[VB+SMAX-1:OPW];
            end
            if (CLW > HAW) begin : g_chi
                wire unused_chi = ^c[CLW-1:HAW];
            end
            wire unused_extu = ^{u_flat, h_flat, cv, type_u, type_h};
        end else if (EXT_H != 0) begin : g_ext
            // one lane: column c is u[c] (c < N_IN, a selector over u) or h[c - N_IN] (GRU n_h: h[c])
            // from the port; both registered, then chosen and shifted
            localparam UW = ((N_IN) > 2 ? $clog2(N_IN) : 1);
            localparam NU = 1 << UW;
            wire [U_BITS-1:0] ua [0:NU-1];
            for (gc = 0; gc < NU; gc = gc + 1) begin : g_u
                if (gc < N_IN) begin : g_in
                    assign ua[gc] = u_flat[gc*U_BITS +: U_BITS];
                end else begin : g_z
                    assign ua[gc] = {U_BITS{1'b0}};
                end
            end
            wire is_in = ~type_h & (c < OFFG);           // OFFG = N_IN with one lane
            wire [CLW-1:0] hc = type_h ? c : c - OFFG;
            assign h_addr = hc[HAW-1:0];
            reg                      in_q;
            reg signed [U_BITS-1:0]  u_q;
            always @(posedge clk) begin
                in_q <= is_in;
                u_q <= ua[c[UW-1:0]];
            end
            wire signed [VB-1:0] uq = {{(VB - U_BITS + 1){u_q[U_BITS-1]}}, u_q[U_BITS-2:0]};
            wire signed [VB-1:0] hq = {{(VB - H_BITS + 1){h_q[H_BITS-1]}}, h_q[H_BITS-2:0]};
            wire signed [VB-1:0] v = in_q ? uq : hq;
            wire signed [VB+SMAX-1:0] vx = {{(SMAX + 1){v[VB-1]}}, v[VB-2:0]};
            wire signed [VB+SMAX-1:0] vs = in_q ? (vx <<< SHIFT_IN) : (vx <<< SHIFT_REC);
            assign op[0] = vs[OPW-1:0];
            if (VB + SMAX > OPW) begin : g_cut
                wire unused_hi = ^vs[VB+SMAX-1:OPW];
            end
            wire unused_ext = ^{h_flat, cv, type_u, hc};
        end else begin : g_sel
            assign h_addr = {HAW{1'b0}};
            wire unused_hq = ^h_q;
            for (gl = 0; gl < LANES; gl = gl + 1) begin : g_op
                reg signed [OPW-1:0] op_q;
                wire [VB:0] vc [0:NSEL-1];
                wire        ub [0:NSEL-1];
                for (gc = 0; gc < NSEL; gc = gc + 1) begin : g_col
                    localparam integer J = gc * LANES + gl;
                    if (J < N_IN) begin : g_u
                        wire signed [VB-1:0] uu = {{(VB - U_BITS + 1){u_flat[J*U_BITS+U_BITS-1]}}, u_flat[J*U_BITS +: U_BITS-1]};
                        assign vc[gc] = {1'b1, uu};
                    end else if (J < N_IN + N_REC) begin : g_h
                        wire signed [VB-1:0] hh = {{(VB - H_BITS + 1){h_flat[(J-N_IN)*H_BITS+H_BITS-1]}}, h_flat[(J-N_IN)*H_BITS +: H_BITS-1]};
                        assign vc[gc] = {1'b0, hh};
                    end else begin : g_z
                        assign vc[gc] = {(VB + 1){1'b0}};
                    end
                    assign ub[gc] = (J >= N_IN);
                end
                wire [VB:0] sel;
                if (SHARE) begin : g_share
                    assign sel = vc[cv];
                end else begin : g_hsel
                    wire [VB:0] hc [0:NSEL-1];
                    for (gc = 0; gc < NSEL; gc = gc + 1) begin : g_hcol
                        localparam integer J = gc * LANES + gl;
                        if (J < N_REC) begin : g_hh
                            wire signed [VB-1:0] hh = {{(VB - H_BITS + 1){h_flat[J*H_BITS+H_BITS-1]}}, h_flat[J*H_BITS +: H_BITS-1]};
                            assign hc[gc] = {1'b0, hh};
                        end else begin : g_hz
                            assign hc[gc] = {(VB + 1){1'b0}};
                        end
                    end
                    assign sel = type_h ? hc[c] : vc[c];
                    wire unused_cv = ^cv;
                end
                wire        mask = type_u & ub[c];
                wire signed [VB-1:0] v = mask ? {VB{1'b0}} : sel[VB-1:0];
                wire signed [VB+SMAX-1:0] vx = {{(SMAX + 1){v[VB-1]}}, v[VB-2:0]};
                wire signed [VB+SMAX-1:0] vs = sel[VB] ? (vx <<< SHIFT_IN) : (vx <<< SHIFT_REC);
                always @(posedge clk) op_q <= vs[OPW-1:0];  // exact: the product it feeds fits ACC_BITS
                assign op[gl] = op_q;
                if (VB + SMAX > OPW) begin : g_cut
                    wire unused_hi = ^vs[VB+SMAX-1:OPW];
                end
            end
        end
    endgenerate

    // ---- stage t+1: +op and -op registered (-op one bit wider: exact for the most negative op) -----
    wire signed [OPW-1:0] opp [0:LANES-1];
    wire signed [OPW:0]   opn [0:LANES-1];
    generate
        for (gl = 0; gl < LANES; gl = gl + 1) begin : g_opr
            reg signed [OPW-1:0] p_q;
            reg signed [OPW:0]   n_q;
            always @(posedge clk) begin
                p_q <= op[gl];
                n_q <= -{op[gl][OPW-1], op[gl]};
            end
            assign opp[gl] = p_q;
            assign opn[gl] = n_q;
        end
    endgenerate

    // ---- control down the pipeline ---------------------------------------------------------------
    wire first0 = (c == {CLW{1'b0}});
    reg  v1, first1, last1;
    reg  [1:0] a1;
    reg  [GW-1:0] g1;
    reg  [SW-1:0] s1;
    always @(posedge clk) begin
        if (rst) v1 <= 1'b0;
        else v1 <= busy & ~start;
        first1 <= first0;
        last1 <= end_c;
        a1 <= a2;
        g1 <= g;
        s1 <= s;
    end
    // the accumulate stage sees the beat TL + 1 cycles after stage 1; the bias word is read two
    // earlier (ROM, then its output register)
    wire       va;
    wire       first_a, last_a;
    wire [1:0] a_a;
    wire [GW-1:0] g_a;
    hwsim_delay #(.W(1), .N(TL + 1), .RST(1)) u_dv (.clk(clk), .rst(rst), .d(v1), .q(va));
    hwsim_delay #(.W(4 + GW), .N(TL + 1)) u_dc (.clk(clk), .rst(rst), .d({first1, last1, a1, g1}), .q({first_a, last_a, a_a, g_a}));
    wire [BAW-1:0] ba_r;
    hwsim_delay #(.W(BAW), .N(TL)) u_db (.clk(clk), .rst(rst), .d(ba), .q(ba_r));
    wire [ROWS*ACC_BITS-1:0] bias_q;
    hwsim_rom #(.WIDTH(ROWS * ACC_BITS), .DEPTH(NB), .ADDR_BITS(BAW), .INIT_FILE(BIAS_FILE),
                .WRITABLE(WRITABLE), .MEM_ID(BMEM_ID), .LD_DW(LD_DW)) u_brom (
        .clk(clk), .addr(ba_r), .q(bias_q),
        .ld_we(ld_we), .ld_sel(ld_sel), .ld_addr(ld_addr), .ld_data(ld_data)
    );
    reg [ROWS*ACC_BITS-1:0] bias_qr;  // the block-RAM output register: no RAM read into the adder
    always @(posedge clk) bias_qr <= bias_q;
    // the row shifts of a row group: read with its biases, held from its first column group on
    localparam RSW = (RSH_BITS > 0) ? RSH_BITS : 1;
    wire [ROWS*RSW-1:0] rsh_q;
    generate
        if (RSH_BITS > 0) begin : g_rsh
            // not on the load bus: run-time weights are refused for per-row-scale models (export)
            hwsim_rom #(.WIDTH(ROWS * RSH_BITS), .DEPTH(NB), .ADDR_BITS(BAW), .INIT_FILE(RSH_FILE)) u_srom (
                .clk(clk), .addr(ba_r), .q(rsh_q),
                .ld_we(1'b0), .ld_sel(8'd0), .ld_addr(24'd0), .ld_data({LD_DW{1'b0}})
            );
        end else begin : g_norsh
            assign rsh_q = {(ROWS * RSW){1'b0}};
        end
    endgenerate
    reg [ROWS*RSW-1:0] rsh_qr;  // registered like the biases
    always @(posedge clk) rsh_qr <= rsh_q;

    // ---- row PEs: products, adder tree, accumulator, requant --------------------------------------
    // the ROM word's output register; with TPW > 1 the whole word is registered and the beat's tile
    // selected behind it (s1 registered alongside), not in front: the block RAM's clock-to-output
    // followed by that select was the R1 x L1 critical path. Same tile, same cycle.
    wire [TILE-1:0] tile_q;
    generate
        if (TPW == 1) begin : g_t1
            reg [TILE-1:0] word_q;
            always @(posedge clk) word_q <= rom_q;
            assign tile_q = word_q;
            wire unused_s1 = ^s1;
        end else begin : g_tn
            reg [TPW*TILE-1:0] word_q;
            reg [SW-1:0]       s2;
            always @(posedge clk) begin
                word_q <= rom_q;
                s2 <= s1;
            end
            wire [TILE-1:0] tiles [0:(1 << SW)-1];
            for (gk = 0; gk < (1 << SW); gk = gk + 1) begin : g_tw
                if (gk < TPW) begin : g_in
                    assign tiles[gk] = word_q[gk*TILE +: TILE];
                end else begin : g_out
                    assign tiles[gk] = {TILE{1'b0}};
                end
            end
            assign tile_q = tiles[s2];
        end
    endgenerate

    reg                  fin;
    reg  [1:0]           a_f;
    reg  [GW-1:0]        g_f;
    always @(posedge clk) begin
        if (rst) fin <= 1'b0;
        else fin <= va & last_a;
        a_f <= a_a;
        g_f <= g_a;
    end

    generate
        for (gr = 0; gr < ROWS; gr = gr + 1) begin : g_row
            // level 0: the LANES products of this row (a mux of the registered tile and operands)
            for (gk = 0; gk <= D; gk = gk + 1) begin : g_lvl
                localparam N  = nodes_at(gk);
                localparam WK = min2(ACC_BITS, PW + gk);
                wire [N*WK-1:0] nd;
                for (gl = 0; gl < N; gl = gl + 1) begin : g_nd
                    if (gk == 0) begin : g_p
                        wire signed [OPW+EXTRA-1:0] p;
                        hwsim_lane #(.KIND(KIND), .CODE_BITS(CODE_BITS), .V_BITS(OPW), .OUT_W(OPW + EXTRA)) u_lane (
                            .code(tile_q[(gr*LANES + gl)*CODE_BITS +: CODE_BITS]), .v(opp[gl]), .vn(opn[gl]), .p(p)
                        );
                        assign nd[gl*WK +: WK] = p[WK-1:0];
                        if (OPW + EXTRA > WK) begin : g_cut
                            wire unused_p = ^p[OPW+EXTRA-1:WK];
                        end
                    end else begin : g_s
                        localparam WP = min2(ACC_BITS, PW + gk - 1);
                        reg signed [WK-1:0] q;
                        wire [WP-1:0] y0 = g_lvl[gk-1].nd[(2*gl)*WP +: WP];
                        wire [WP-1:0] y1;
                        wire signed [WK-1:0] x0, x1;
                        if (2 * gl + 1 < nodes_at(gk - 1)) begin : g_two
                            assign y1 = g_lvl[gk-1].nd[(2*gl+1)*WP +: WP];
                        end else begin : g_one
                            assign y1 = {WP{1'b0}};
                        end
                        if (WK > WP) begin : g_ext  // one bit wider than the children: their sum fits
                            assign x0 = {y0[WP-1], y0};
                            assign x1 = {y1[WP-1], y1};
                        end else begin : g_cap      // capped at ACC_BITS: the sum wraps exactly
                            assign x0 = y0;
                            assign x1 = y1;
                        end
                        always @(posedge clk) q <= x0 + x1;
                        assign nd[gl*WK +: WK] = q;
                    end
                end
            end
            wire [SUMW-1:0] top_nd = g_lvl[D].nd[SUMW-1:0];
            wire signed [ACC_BITS-1:0] top_x;
            if (ACC_BITS > SUMW) begin : g_x
                assign top_x = {{(ACC_BITS - SUMW){top_nd[SUMW-1]}}, top_nd};
            end else begin : g_same
                assign top_x = top_nd;
            end
            wire signed [ACC_BITS-1:0] rsum;
            if (D == 0) begin : g_r1  // one lane: register the product itself
                reg signed [ACC_BITS-1:0] q;
                always @(posedge clk) q <= top_x;
                assign rsum = q;
            end else begin : g_rn
                assign rsum = top_x;
            end
            reg signed [ACC_BITS-1:0] acc;
            wire signed [ACC_BITS-1:0] bias_r = bias_qr[gr*ACC_BITS +: ACC_BITS];
            always @(posedge clk) begin
                if (va) acc <= (first_a ? bias_r : acc) + rsum;
            end
            wire signed [OUT_BITS-1:0] y;
            wire                       y_oor;
            if (RSH_BITS > 0 && RSH_MAX > 0) begin : g_rq_row
                // per-row scale: acc << (RSH_MAX - e) has ACC_FRAC + RSH_MAX fraction bits on every
                // row, exactly (a variable left shift, no multiplier); one fixed requant follows,
                // so the rounding is that of a requant from ACC_FRAC + e (docs/datapath.md)
                reg  [RSW-1:0] e;
                always @(posedge clk) begin
                    if (va && first_a) e <= rsh_qr[gr*RSW +: RSW];
                end
                localparam integer EMAX_I = RSH_MAX;
                localparam [RSW:0] EMAX = EMAX_I[RSW:0];
                wire [RSW:0] lsh = EMAX - {1'b0, e};
                wire signed [ACC_BITS+RSH_MAX-1:0] ax = {{RSH_MAX{acc[ACC_BITS-1]}}, acc};
                wire signed [ACC_BITS+RSH_MAX-1:0] as = ax <<< lsh;
                hwsim_requant #(
                    .IN_W(ACC_BITS + RSH_MAX), .FROM_FRAC(ACC_FRAC + RSH_MAX), .OUT_BITS(OUT_BITS), .OUT_FRAC(OUT_FRAC),
                    .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)
                ) u_rq (.din(as), .dout(y), .oor(y_oor));
            end else begin : g_rq
                wire unused_rsh = ^rsh_qr[gr*RSW +: RSW];  // no shifts, or every shift is 0
                hwsim_requant #(
                    .IN_W(ACC_BITS), .FROM_FRAC(ACC_FRAC), .OUT_BITS(OUT_BITS), .OUT_FRAC(OUT_FRAC),
                    .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE)
                ) u_rq (.din(acc), .dout(y), .oor(y_oor));
            end
            // rows past NROW (the last group's padding) are computed but never written
            localparam integer NG_I = (NROW - gr + ROWS - 1) / ROWS;  // groups holding row gr
            localparam [GW:0] NG = NG_I[GW:0];
            always @(posedge clk) begin
                wr_data[gr*OUT_BITS +: OUT_BITS] <= y;
                wr_oor[gr] <= y_oor;
            end
            if (NG_I == 0) begin : g_pad  // more row PEs than rows
                always @(posedge clk) wr_valid[gr] <= 1'b0;
            end else begin : g_real
                always @(posedge clk) wr_valid[gr] <= ({1'b0, g_f} < NG);
            end
        end
    endgenerate

    always @(posedge clk) begin
        if (rst) wr_en <= 1'b0;
        else wr_en <= fin;
        wr_acc <= a_f;
        wr_grp <= g_f;
    end
    reg [BAW-1:0] nw;  // row groups written so far
    always @(posedge clk) begin
        if (rst || start) nw <= {BAW{1'b0}};
        else if (wr_en) nw <= nw + 1'b1;
    end
    localparam [BAW-1:0] LASTB = LASTB_I[BAW-1:0];
    assign done = wr_en & (nw == LASTB);
    generate
        if (N_REC == 0) begin : g_noh
            wire unused_h = ^h_flat;
        end
    endgenerate
endmodule
`default_nettype wire
