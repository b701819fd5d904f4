// Activation unit (docs/datapath.md, "Activation units"): NP read ports, each a pre-format integer
// in and an act-format integer out two clocks later (LUT: the table read, then its output register
// -- the block RAM's own output register where the part has one -- so the RAM's clock-to-out gets a
// cycle to itself; PWL: the same two registers, so both kinds have one latency). ACT_KIND 0: lookup
// table read from LUT_FILE (the exporter's words), the index a bit slice of the clamped, offset
// input. ACT_KIND 1: PLAN piecewise-linear (slopes are shifts). FUNC 0 sigmoid, 1 tanh.
// The ports share the table: a layer's pointwise units read one copy per PPR ports (PPR 2: a true
// dual-port block RAM holds the table once for two readers, as on ECP5, Xilinx and Intel parts;
// PPR 1: one copy per port, for single-read-port RAMs such as iCE40's SB_RAM40_4K). Port p reads
// copy p / PPR; x and y are NP words, port p at bits [p*W +: W].
`default_nettype none
module hwsim_act #(
    parameter FUNC       = 0,
    parameter ACT_KIND   = 0,
    parameter PRE_BITS   = 16,
    parameter PRE_FRAC   = 11,
    parameter ACT_BITS   = 16,
    parameter ACT_FRAC   = 14,
    parameter LUT_BITS   = 10,
    parameter RANGE_LOG2 = 3,
    parameter LUT_FILE   = "",
    parameter NP         = 1,
    parameter PPR        = 2
) (
    input  wire                   clk,
    input  wire [NP*PRE_BITS-1:0] x_flat,
    output wire [NP*ACT_BITS-1:0] y_flat
);
    localparam NM = (NP + PPR - 1) / PPR;   // table copies
    genvar gp, gm;
    generate
        if (ACT_KIND == 0) begin : g_lut
            localparam RB = RANGE_LOG2 + PRE_FRAC;            // |clamp bound| = 2**RB
            localparam WX = ((PRE_BITS > RB + 1) ? PRE_BITS : RB + 1) + 1;
            for (gm = 0; gm < NM; gm = gm + 1) begin : g_copy
                reg [ACT_BITS-1:0] mem [0:(1 << LUT_BITS) - 1];
                initial begin
                    if (LUT_FILE != "") $readmemh(LUT_FILE, mem);
                end
                for (gp = gm * PPR; gp < NP && gp < (gm + 1) * PPR; gp = gp + 1) begin : g_port
                    wire signed [PRE_BITS-1:0] x = x_flat[gp*PRE_BITS +: PRE_BITS];
                    wire [WX-1:0] xw = {{(WX - PRE_BITS){x[PRE_BITS-1]}}, x};
                    // clamp to [-2**RB, 2**RB - 1] and offset by 2**RB, in bit logic (no carry
                    // chain: this was the path into the table's address): x is in range when its
                    // bits from RB up are all equal, and then x + 2**RB flips bit RB; below the
                    // range the offset is 0, above it all ones (the sign's complement).
                    wire [WX-RB-1:0]     top = xw[WX-1:RB];
                    wire                 inr = (&top) | ~(|top);
                    wire [RB:0]          off = {~xw[RB], xw[RB-1:0]};   // in [0, 2**(RB+1))
                    wire [LUT_BITS-1:0]  idx = inr ? off[RB -: LUT_BITS] : {LUT_BITS{~xw[WX-1]}};
                    wire                 unused_off = ^off;    // the index is a slice of it
                    reg [ACT_BITS-1:0] rd, y;
                    always @(posedge clk) begin
                        rd <= mem[idx];
                        y  <= rd;
                    end
                    assign y_flat[gp*ACT_BITS +: ACT_BITS] = y;
                end
            end
        end else begin : g_pwl
            for (gp = 0; gp < NP; gp = gp + 1) begin : g_port
                wire signed [PRE_BITS-1:0] x = x_flat[gp*PRE_BITS +: PRE_BITS];
                localparam FP = PRE_FRAC;
                localparam FA = ACT_FRAC;
                localparam W  = PRE_BITS + ACT_BITS + 8;
                // shr(a, k) of docs/datapath.md as a right shift by KR then a left shift by KL
                localparam K5 = FP + 5 - FA;
                localparam K3 = FP + 3 - FA;
                localparam K2 = FP + 2 - FA;
                localparam K5R = (K5 > 0) ? K5 : 0;
                localparam K5L = (K5 < 0) ? -K5 : 0;
                localparam K3R = (K3 > 0) ? K3 : 0;
                localparam K3L = (K3 < 0) ? -K3 : 0;
                localparam K2R = (K2 > 0) ? K2 : 0;
                localparam K2L = (K2 < 0) ? -K2 : 0;
                wire [W-1:0] one = {{(W - 1){1'b0}}, 1'b1} << FA;
                wire [W-1:0] xs  = {{(W - PRE_BITS){x[PRE_BITS-1]}}, x};
                wire [W-1:0] ax  = x[PRE_BITS-1] ? -xs : xs;       // |x|
                wire [W-1:0] a   = (FUNC == 1) ? (ax << 1) : ax;   // tanh(x) = 2 sigmoid(2x) - 1
                wire [W-1:0] t5  = {{(W - 1){1'b0}}, 1'b1} << FP;
                wire [W-1:0] c5  = t5 * 5;
                wire [W-1:0] c19 = ({{(W - 1){1'b0}}, 1'b1} << (FP - 3)) * 19;
                wire [W-1:0] s1  = ((a >> K5R) << K5L) + (({{(W - 1){1'b0}}, 1'b1} << (FA - 5)) * 27);
                wire [W-1:0] s2  = ((a >> K3R) << K3L) + (({{(W - 1){1'b0}}, 1'b1} << (FA - 3)) * 5);
                wire [W-1:0] s3  = ((a >> K2R) << K2L) + (({{(W - 1){1'b0}}, 1'b1} << (FA - 1)));
                wire [W-1:0] yp  = (a >= c5) ? one : (a >= c19) ? s1 : (a >= t5) ? s2 : s3;
                wire [W-1:0] ys  = x[PRE_BITS-1] ? one - yp : yp;          // sigmoid
                wire [W-1:0] tt  = (yp << 1) - one;                        // tanh of |x|
                wire [W-1:0] yt  = x[PRE_BITS-1] ? -tt : tt;
                wire [W-1:0] yy  = (FUNC == 1) ? yt : ys;
                reg signed [ACT_BITS-1:0] y1, y;
                always @(posedge clk) begin
                    y1 <= yy[ACT_BITS-1:0];   // |y| <= ONE fits the act format
                    y  <= y1;
                end
                assign y_flat[gp*ACT_BITS +: ACT_BITS] = y;
                wire unused_yy = ^yy;
            end
        end
    endgenerate
endmodule
`default_nettype wire
