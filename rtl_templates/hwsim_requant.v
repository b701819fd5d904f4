// requant (docs/datapath.md, "Requantization"): move a signed integer with FROM_FRAC fraction bits
// into the format sOUT_BITS.OUT_FRAC. One rounding of a right shift (or an exact left shift), then
// saturate or wrap. `oor` is high when the rounded value lay outside the format's range.
// ROUND_MODE: 0 floor, 1 half_up, 2 half_even, 3 zero.  OVERFLOW_MODE: 0 saturate, 1 wrap.
// HALF_IN = 1 (half_up only): din already holds v + half (the caller added `half` in the adder
// that produced it, see HALF), so the rounding is the floor and no incrementer (a carry chain)
// stands between din and the saturation; same result, bit for bit.
// The range check does not wait for the rounding: q = fl + inc is fl or fl + 1, so it leaves the
// range exactly when fl does, except that inc lifts fl = min - 1 into the range and fl = max out of
// it. oor is that, from fl (wires of din) and inc (its low bits), beside the incrementer rather than
// behind it, and only q's low OUT_BITS bits are built (a carry chain OUT_BITS long, not IN_W); the
// saturation side is fl's sign. Same dout and oor, bit for bit.
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
    wire signed [W-1:0] fl;    // v >>> RSH: q before the increment
    wire                inc;   // the rounding's +1

    generate
        if (RSH == 0) begin : g_exact
            assign fl  = v;
            assign inc = 1'b0;
        end else begin : g_round
            assign fl = v >>> RSH;
            wire                msb  = v[RSH-1];              // the dropped bits are >= half
            wire                any  = |v[RSH-1:0];           // the dropped bits are non-zero
            wire [RSH:0]        lowx = {v[RSH-1:0], 1'b0};
            wire                below = |lowx[RSH-1:0];       // bits under the half bit non-zero
            wire                unused_lowx = lowx[RSH];
            reg                 inc_r;
            always @(*) begin
                case (ROUND_MODE)
`ifdef HWSIM_FAULT_ROUNDING
                    1:       inc_r = 1'b0;
`else
                    1:       inc_r = PRE ? 1'b0 : msb;            // (v + half) >> k
`endif
                    2:       inc_r = msb & (below | fl[0]);       // ties to even
                    3:       inc_r = v[W-1] & any;                // towards zero
                    default: inc_r = 1'b0;
                endcase
            end
            assign inc = inc_r;
        end
    endgenerate

    wire signed [WC-1:0]     fc = {{(WC - W){fl[W-1]}}, fl};
    wire [WC-OUT_BITS:0]     hi = fc[WC-1:OUT_BITS-1];
    wire                     fl_oor = ~((&hi) | ~(|hi));
    wire                     fl_max = ~(|hi) & (&fc[OUT_BITS-2:0]);                       // 2^(B-1) - 1
    wire                     fl_below = (&fc[WC-1:OUT_BITS]) & ~fc[OUT_BITS-1] & (&fc[OUT_BITS-2:0]);  // -2^(B-1) - 1
    assign oor = inc ? ((fl_oor & ~fl_below) | fl_max) : fl_oor;
    wire [OUT_BITS-1:0]      q = fc[OUT_BITS-1:0] + {{(OUT_BITS - 1){1'b0}}, inc};      // q's low bits
    generate
        if (OVERFLOW_MODE == 0) begin : g_sat
            wire [OUT_BITS-1:0] max_v = {1'b0, {(OUT_BITS - 1){1'b1}}};
            wire [OUT_BITS-1:0] min_v = {1'b1, {(OUT_BITS - 1){1'b0}}};
            assign dout = oor ? (fl[W-1] ? min_v : max_v) : q;
        end else begin : g_wrap
            assign dout = q;
        end
    endgenerate
endmodule
`default_nettype wire
