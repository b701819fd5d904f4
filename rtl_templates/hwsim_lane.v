// One shift-add lane: a weight code times an operand, without a multiplier except for the uniform
// baseline (docs/datapath.md, "Weight codes").
// KIND 0 binary (0 -> +1, 1 -> -1), 1 ternary (00 -> 0, 01 -> +1, 11 -> -1), 2 exponential (MSB
// sign, low bits f: 0 -> 0, else +-2**(f-1): an arithmetic shift), 3 uniform (two's complement m).
// The operand arrives twice, registered upstream: v and vn = -v (one bit wider, exact), so a
// shift-add lane is a mux (and a shift for the exp kind) with no carry chain in front of the adder
// tree (docs/rtl.md, "Timing").
`default_nettype none
module hwsim_lane #(
    parameter KIND      = 1,
    parameter CODE_BITS = 2,
    parameter V_BITS    = 16,
    parameter OUT_W     = 32
) (
    input  wire [CODE_BITS-1:0]    code,
    input  wire signed [V_BITS-1:0] v,
    input  wire signed [V_BITS:0]   vn,
    output wire signed [OUT_W-1:0]  p
);
    wire signed [OUT_W-1:0] vx  = {{(OUT_W - V_BITS){v[V_BITS-1]}}, v};
    wire signed [OUT_W-1:0] vnx = {{(OUT_W - V_BITS - 1){vn[V_BITS]}}, vn};
    generate
        if (KIND == 0) begin : g_binary
            assign p = code[0] ? vnx : vx;
        end else if (KIND == 1) begin : g_ternary
            assign p = (code == 2'b01) ? vx : (code == 2'b11) ? vnx : {OUT_W{1'b0}};
        end else if (KIND == 2) begin : g_exp
            localparam FB = CODE_BITS - 1;
            wire [FB-1:0]           f   = code[FB-1:0];
            localparam [FB-1:0]     ONE_F = 1;
            wire [FB-1:0]           sh  = f - ONE_F;
            wire signed [OUT_W-1:0] sv  = code[CODE_BITS-1] ? vnx : vx;
            wire signed [OUT_W-1:0] mag = sv <<< sh;
            assign p = (f == {FB{1'b0}}) ? {OUT_W{1'b0}} : mag;
        end else begin : g_uniform
            // the baseline's one real multiplier: CODE_BITS x V_BITS
            localparam PW = CODE_BITS + V_BITS;
            localparam EW = (OUT_W > PW) ? OUT_W : PW;
            wire signed [PW-1:0] prod = $signed(code) * v;
            wire [EW-1:0]        ext  = {{(EW - PW + 1){prod[PW-1]}}, prod[PW-2:0]};
            assign p = ext[OUT_W-1:0];
            wire unused_v = ^{vx, vnx};
        end
    endgenerate
endmodule
`default_nettype wire
