// requant (docs/datapath.md, "Requantization"): move a signed integer with FROM_FRAC fraction bits
// into the format sOUT_BITS.OUT_FRAC. One rounding of a right shift (or an exact left shift), then
// saturate or wrap. `oor` is high when the rounded value lay outside the format's range.
// ROUND_MODE: 0 floor, 1 half_up, 2 half_even, 3 zero.  OVERFLOW_MODE: 0 saturate, 1 wrap.
// Define HWSIM_FAULT_ROUNDING to break half_up into floor (used by the fault-injection test only).
`default_nettype none
module hwsim_requant #(
    parameter IN_W          = 32,
    parameter FROM_FRAC     = 16,
    parameter OUT_BITS      = 16,
    parameter OUT_FRAC      = 11,
    parameter ROUND_MODE    = 1,
    parameter OVERFLOW_MODE = 0
) (
    input  wire signed [IN_W-1:0]     din,
    output wire signed [OUT_BITS-1:0] dout,
    output wire                       oor
);
    localparam K   = FROM_FRAC - OUT_FRAC;
    localparam LSH = (K < 0) ? -K : 0;
    localparam RSH = (K > 0) ? K : 0;
    localparam W   = IN_W + LSH + 1;
    localparam WC  = ((W > OUT_BITS) ? W : OUT_BITS) + 1;

    wire signed [W-1:0] v = {{(LSH + 1){din[IN_W-1]}}, din} <<< LSH;
    wire signed [W-1:0] q;

    generate
        if (RSH == 0) begin : g_exact
            assign q = v;
        end else begin : g_round
            wire signed [W-1:0] fl   = v >>> RSH;
            wire                msb  = v[RSH-1];              // the dropped bits are >= half
            wire                any  = |v[RSH-1:0];           // the dropped bits are non-zero
            wire [RSH:0]        lowx = {v[RSH-1:0], 1'b0};
            wire                below = |lowx[RSH-1:0];       // bits under the half bit non-zero
            wire                unused_lowx = lowx[RSH];
            reg                 inc;
            always @(*) begin
                case (ROUND_MODE)
`ifdef HWSIM_FAULT_ROUNDING
                    1:       inc = 1'b0;
`else
                    1:       inc = msb;                         // (v + half) >> k
`endif
                    2:       inc = msb & (below | fl[0]);       // ties to even
                    3:       inc = v[W-1] & any;                // towards zero
                    default: inc = 1'b0;
                endcase
            end
            assign q = fl + {{(W - 1){1'b0}}, inc};
        end
    endgenerate

    wire signed [WC-1:0]     qc = {{(WC - W){q[W-1]}}, q};
    wire [WC-OUT_BITS:0]     hi = qc[WC-1:OUT_BITS-1];
    assign oor = ~((&hi) | ~(|hi));
    generate
        if (OVERFLOW_MODE == 0) begin : g_sat
            wire [OUT_BITS-1:0] max_v = {1'b0, {(OUT_BITS - 1){1'b1}}};
            wire [OUT_BITS-1:0] min_v = {1'b1, {(OUT_BITS - 1){1'b0}}};
            assign dout = oor ? (qc[WC-1] ? min_v : max_v) : qc[OUT_BITS-1:0];
        end else begin : g_wrap
            assign dout = qc[OUT_BITS-1:0];
        end
    endgenerate
endmodule
`default_nettype wire
