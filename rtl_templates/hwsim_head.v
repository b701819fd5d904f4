// Linear head (docs/datapath.md, "head"): y = requant(bias + sum m * h_T << SHIFT, ACC_FRAC -> out)
// on the last layer's h after the last step, by hwsim_matvec with ROWS row PEs x LANES lanes.
// `start` at cycle 0, `done` at cycle BEATS + 5 + TL with BEATS = ceil(NCLS / ROWS) * ceil(HID / LANES)
// and TL = max(1, clog2(LANES)); y_flat holds the outputs from then on.
`default_nettype none
module hwsim_head #(
    parameter NCLS          = 3,
    parameter HID           = 4,
    parameter H_BITS        = 16,
    parameter OUT_BITS      = 16,
    parameter OUT_FRAC      = 11,
    parameter ROUND_MODE    = 1,
    parameter OVERFLOW_MODE = 0,
    parameter KIND          = 1,
    parameter CODE_BITS     = 2,
    parameter LANES         = 1,
    parameter ROWS          = 1,
    parameter TPW           = 1,
    parameter SHIFT         = 0,
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
    // EXT_H = 1 (one lane): h is read through the last layer's synchronous h port, not h_flat
    parameter EXT_H         = 0,
    parameter HAW           = ((HID) > 2 ? $clog2(HID) : 1)
) (
    input  wire                     clk,
    input  wire                     rst,
    input  wire                     start,
    input  wire [HID*H_BITS-1:0]    h_flat,
    output wire [HAW-1:0]           h_addr,
    output wire                     h_en,
    input  wire signed [H_BITS-1:0] h_q,
    output wire [NCLS*OUT_BITS-1:0] y_flat,
    output reg                      done,
    output reg  [31:0]              sat_count,
    input  wire                    ld_we,
    input  wire [7:0]              ld_sel,
    input  wire [23:0]             ld_addr,
    input  wire [LD_DW-1:0]        ld_data
);
    localparam RG = (NCLS + ROWS - 1) / ROWS;
    localparam GW = ((RG) > 2 ? $clog2(RG) : 1);

    wire                       wr, mv_done;
    wire [1:0]                 acc_unused;
    wire [GW-1:0]              grp;
    wire [ROWS*OUT_BITS-1:0]   data;
    wire [ROWS-1:0]            valid, oor;
    hwsim_matvec #(
        .KIND(KIND), .CODE_BITS(CODE_BITS), .ROWS(ROWS), .LANES(LANES), .TPW(TPW),
        .NROW(NCLS), .NACC(1), .N_IN(HID), .N_REC(0), .SPLIT_GRU(0),
        .U_BITS(H_BITS), .H_BITS(H_BITS), .SHIFT_IN(SHIFT), .SHIFT_REC(0),
        .ACC_BITS(ACC_BITS), .ACC_FRAC(ACC_FRAC), .OUT_BITS(OUT_BITS), .OUT_FRAC(OUT_FRAC),
        .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE),
        .WEIGHT_FILE(WEIGHT_FILE), .BIAS_FILE(BIAS_FILE),
        .RSH_BITS(RSH_BITS), .RSH_MAX(RSH_MAX), .RSH_FILE(RSH_FILE), .EXT_H(EXT_H),
        .WRITABLE(WRITABLE), .WMEM_ID(WMEM_ID), .BMEM_ID(BMEM_ID), .LD_DW(LD_DW), .EXT_U(EXT_H), .HN(HID)
    ) u_mv (
        .clk(clk), .rst(rst), .start(start), .u_flat(h_flat), .h_flat({H_BITS{1'b0}}),
        .h_addr(h_addr), .h_en(h_en), .h_q(h_q),
        .wr_en(wr), .wr_acc(acc_unused), .wr_grp(grp), .wr_data(data), .wr_valid(valid), .wr_oor(oor),
        .done(mv_done),
        .ld_we(ld_we), .ld_sel(ld_sel), .ld_addr(ld_addr), .ld_data(ld_data)
    );

    genvar gi;
    generate
        for (gi = 0; gi < NCLS; gi = gi + 1) begin : g_y
            localparam integer G_I = gi / ROWS;
            localparam [GW-1:0] G = G_I[GW-1:0];           // the row group of class gi
            reg signed [OUT_BITS-1:0] y;
            always @(posedge clk) begin
                if (wr && grp == G) y <= data[(gi % ROWS)*OUT_BITS +: OUT_BITS];
            end
            assign y_flat[gi*OUT_BITS +: OUT_BITS] = y;
        end
    endgenerate
    // saturation events counted off the critical path (registered count, then the add)
    localparam CW = $clog2(ROWS + 1);
    wire [ROWS-1:0] flags = oor & valid & {ROWS{wr}};
    reg  [CW-1:0]   nflags, nflags_q;
    integer j;
    always @(*) begin
        nflags = {CW{1'b0}};
        for (j = 0; j < ROWS; j = j + 1) nflags = nflags + {{(CW - 1){1'b0}}, flags[j]};
    end
    always @(posedge clk) begin
        if (rst) begin
            done <= 1'b0;
            nflags_q <= {CW{1'b0}};
            sat_count <= 32'd0;
        end else begin
            done <= mv_done;
            nflags_q <= nflags;
            sat_count <= sat_count + {{(32 - CW){1'b0}}, nflags_q};
        end
    end
endmodule
`default_nettype wire
