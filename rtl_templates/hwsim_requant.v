// requant (docs/datapath.md, "Requantization"): move a signed integer with FROM_FRAC fraction bits
// into the format sOUT_BITS.OUT_FRAC. One rounding of a right shift (or an exact left shift), then
// saturate or wrap. `oor` is high when the rounded value lay outside the format's range.
// ROUND_MODE: 0 floor, 1 half_up, 2 half_even, 3 zero.  OVERFLOW_MODE: 0 saturate, 1 wrap.
// HALF_IN = 1 (half_up only): din already holds v + half (the caller added `half` in the adder
// that produced it, see HALF), so the rounding is the floor and no incrementer (a carry chain)
// stands between din and the saturation; same result, bit for bit.
// Define HWSIM_FAULT_ROUNDING to break half_up into floor (used by the fault-injection test only).
`default_nettype none
module hwsim_requant #(
    parameter IN_W          = 32,
    parameter FROM_FRAC     = 16,
    parameter OUT_BITS      = 16,
    parameter OUT_FRAC      = 11,
    parameter ROUND_MODE    = 1,
    parameter OVERFLOW_MODE = 0,
    parameter HALF_IN       = 0
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

    localparam PRE = (HALF_IN != 0) && (ROUND_MODE == 1) && (RSH > 0);   // din = v + half
    wire signed [W-1:0] v0 = {{(LSH + 1){din[IN_W-1]}}, din} <<< LSH;
`ifdef HWSIM_FAULT_ROUNDING
    // the fault (half_up becomes floor) where the half came in with din: take it off again
    wire signed [W-1:0] v = PRE ? v0 - ({{(W - 1){1'b0}}, 1'b1} <<< (RSH > 0 ? RSH - 1 : 0)) : v0;
`else
    wire signed [W-1:0] v = v0;
`endif
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
                    1:       inc = PRE ? 1'b0 : msb;            // (v + half) >> k
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
