// Linear head (docs/datapath.md, "head"): y = requant(bias + sum m * h_T << SHIFT, ACC_FRAC -> out)
// on the last layer's h after the last step. `start` at cycle 0, `done` at cycle BEATS + 3 with
// BEATS = NCLS * ceil(HID / LANES); y_flat holds the outputs from then on.
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
    parameter WORD_BITS     = 32,
    parameter LANES         = 1,
    parameter SHIFT         = 0,
    parameter ACC_BITS      = 32,
    parameter ACC_FRAC      = 16,
    parameter WEIGHT_FILE   = "",
    parameter BIAS_FILE     = ""
) (
    input  wire                     clk,
    input  wire                     rst,
    input  wire                     start,
    input  wire [HID*H_BITS-1:0]    h_flat,
    output wire [NCLS*OUT_BITS-1:0] y_flat,
    output reg                      done,
    output reg  [31:0]              sat_count
);
    localparam RW = ((NCLS) > 2 ? $clog2(NCLS) : 1);

    wire                       wr, oor, mv_done;
    wire [1:0]                 acc_unused;
    wire [RW-1:0]              idx;
    wire signed [OUT_BITS-1:0] data;
    hwsim_matvec #(
        .KIND(KIND), .CODE_BITS(CODE_BITS), .WORD_BITS(WORD_BITS), .LANES(LANES),
        .ROWS(NCLS), .NACC(1), .N_IN(HID), .N_REC(0), .SPLIT_GRU(0),
        .U_BITS(H_BITS), .H_BITS(H_BITS), .SHIFT_IN(SHIFT), .SHIFT_REC(0),
        .ACC_BITS(ACC_BITS), .ACC_FRAC(ACC_FRAC), .OUT_BITS(OUT_BITS), .OUT_FRAC(OUT_FRAC),
        .ROUND_MODE(ROUND_MODE), .OVERFLOW_MODE(OVERFLOW_MODE),
        .WEIGHT_FILE(WEIGHT_FILE), .BIAS_FILE(BIAS_FILE)
    ) u_mv (
        .clk(clk), .rst(rst), .start(start), .u_flat(h_flat), .h_flat({H_BITS{1'b0}}),
        .wr_en(wr), .wr_acc(acc_unused), .wr_row(idx), .wr_data(data), .wr_oor(oor), .done(mv_done)
    );

    reg signed [OUT_BITS-1:0] y_mem [0:NCLS-1];
    genvar gi;
    generate
        for (gi = 0; gi < NCLS; gi = gi + 1) begin : g_flat
            assign y_flat[gi*OUT_BITS +: OUT_BITS] = y_mem[gi];
        end
    endgenerate
    always @(posedge clk) begin
        if (wr) y_mem[idx] <= data;
    end
    always @(posedge clk) begin
        if (rst) begin
            done <= 1'b0;
            sat_count <= 32'd0;
        end else begin
            done <= mv_done;
            sat_count <= sat_count + {31'd0, wr & oor};
        end
    end
endmodule
`default_nettype wire
