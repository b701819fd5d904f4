// A signed multiplier, p = a * b STAGES cycles after a and b: a register on the product, and with
// STAGES = 2 one on the operands too (docs/rtl.md, "The pointwise multipliers' own registers"). Where hwsim's
// yosys flows define the family, the product is the DSP primitive itself with these registers
// inside it: ECP5 (HWSIM_ECP5, operands up to 18 bits) a MULT18X18D with its output (and input)
// registers, which yosys 0.23 does not infer from plain registers; iCE40 UltraPlus (HWSIM_ICE40,
// up to 16 bits) an SB_MAC16 set up as yosys maps these registers, but instantiated, because
// yosys 0.23's ice40_dsp inference also folds the sum behind the product into the MAC and drops
// its bits above 32 (docs/rtl.md). Elsewhere both registers are plain Verilog. The same value
// and the same cycle every way.
`default_nettype none
module hwsim_mul #(
    parameter AW = 16,
    parameter BW = 16,
    parameter PW = AW + BW,
    parameter STAGES = 2
) (
    input  wire                 clk,
    input  wire signed [AW-1:0] a,
    input  wire signed [BW-1:0] b,
    output wire signed [PW-1:0] p
);
`ifdef HWSIM_ECP5
    localparam PRIM = (AW <= 18 && BW <= 18 && PW <= 36) ? 1 : 0;
`elsif HWSIM_ICE40
    localparam PRIM = (AW <= 16 && BW <= 16 && PW <= 32) ? 2 : 0;
`else
    localparam PRIM = 0;
`endif
    generate
        if (PRIM == 1) begin : g_dsp
`ifdef HWSIM_ECP5
            wire [17+AW:0] ax = {{18{a[AW-1]}}, a};   // sign-extended to the primitive's 18 bits
            wire [17+BW:0] bx = {{18{b[BW-1]}}, b};
            wire [17:0] ae = ax[17:0];
            wire [17:0] be = bx[17:0];
            wire [35:0] pe;
            MULT18X18D #(
                .REG_INPUTA_CLK(STAGES == 2 ? "CLK0" : "NONE"), .REG_INPUTB_CLK(STAGES == 2 ? "CLK0" : "NONE"),
                .REG_OUTPUT_CLK("CLK0"),
                .REG_PIPELINE_CLK("NONE"), .REG_INPUTC_CLK("NONE"), .GSR("DISABLED")
            ) u_mult (
                .A0(ae[0]), .A1(ae[1]), .A2(ae[2]), .A3(ae[3]), .A4(ae[4]), .A5(ae[5]), .A6(ae[6]), .A7(ae[7]), .A8(ae[8]), .A9(ae[9]), .A10(ae[10]), .A11(ae[11]), .A12(ae[12]), .A13(ae[13]), .A14(ae[14]), .A15(ae[15]), .A16(ae[16]), .A17(ae[17]),
                .B0(be[0]), .B1(be[1]), .B2(be[2]), .B3(be[3]), .B4(be[4]), .B5(be[5]), .B6(be[6]), .B7(be[7]), .B8(be[8]), .B9(be[9]), .B10(be[10]), .B11(be[11]), .B12(be[12]), .B13(be[13]), .B14(be[14]), .B15(be[15]), .B16(be[16]), .B17(be[17]),
                .C0(1'b0), .C1(1'b0), .C2(1'b0), .C3(1'b0), .C4(1'b0), .C5(1'b0), .C6(1'b0), .C7(1'b0), .C8(1'b0), .C9(1'b0), .C10(1'b0), .C11(1'b0), .C12(1'b0), .C13(1'b0), .C14(1'b0), .C15(1'b0), .C16(1'b0), .C17(1'b0),
                .SIGNEDA(1'b1), .SIGNEDB(1'b1), .SOURCEA(1'b0), .SOURCEB(1'b0),
                .CLK0(clk), .CLK1(1'b0), .CLK2(1'b0), .CLK3(1'b0),
                .CE0(1'b1), .CE1(1'b0), .CE2(1'b0), .CE3(1'b0),
                .RST0(1'b0), .RST1(1'b0), .RST2(1'b0), .RST3(1'b0),
                .P0(pe[0]), .P1(pe[1]), .P2(pe[2]), .P3(pe[3]), .P4(pe[4]), .P5(pe[5]), .P6(pe[6]), .P7(pe[7]), .P8(pe[8]), .P9(pe[9]), .P10(pe[10]), .P11(pe[11]), .P12(pe[12]), .P13(pe[13]), .P14(pe[14]), .P15(pe[15]), .P16(pe[16]), .P17(pe[17]), .P18(pe[18]), .P19(pe[19]), .P20(pe[20]), .P21(pe[21]), .P22(pe[22]), .P23(pe[23]), .P24(pe[24]), .P25(pe[25]), .P26(pe[26]), .P27(pe[27]), .P28(pe[28]), .P29(pe[29]), .P30(pe[30]), .P31(pe[31]), .P32(pe[32]), .P33(pe[33]), .P34(pe[34]), .P35(pe[35])
            );
            assign p = pe[PW-1:0];
            wire unused_ok = ^{ax[17+AW:18], bx[17+BW:18], pe};   // the sign copies; pe above the product
`endif
        end else if (PRIM == 2) begin : g_mac
`ifdef HWSIM_ICE40
            wire [15+AW:0] ax = {{16{a[AW-1]}}, a};   // sign-extended to the MAC's 16 bits
            wire [15+BW:0] bx = {{16{b[BW-1]}}, b};
            wire [31:0] o;
            SB_MAC16 #(
                .A_REG(STAGES == 2 ? 1'b1 : 1'b0), .B_REG(STAGES == 2 ? 1'b1 : 1'b0), .C_REG(1'b0), .D_REG(1'b0),
                .TOP_8x8_MULT_REG(1'b0), .BOT_8x8_MULT_REG(1'b0),
                .PIPELINE_16x16_MULT_REG1(1'b0), .PIPELINE_16x16_MULT_REG2(1'b0),
                // the product through the MAC's adders (C + product high, D + product low, C = D = 0)
                // into their output registers: OUTPUT_SELECT 01, not the bare product (11), whose
                // adder yosys 0.23's ice40_dsp would fill with the sum behind it
                .TOPOUTPUT_SELECT(2'b01), .TOPADDSUB_LOWERINPUT(2'b10), .TOPADDSUB_UPPERINPUT(1'b1),
                .TOPADDSUB_CARRYSELECT(2'b11),
                .BOTOUTPUT_SELECT(2'b01), .BOTADDSUB_LOWERINPUT(2'b10), .BOTADDSUB_UPPERINPUT(1'b1),
                .BOTADDSUB_CARRYSELECT(2'b00),
                .MODE_8x8(1'b0), .A_SIGNED(1'b1), .B_SIGNED(1'b1), .NEG_TRIGGER(1'b0)
            ) u_mac (
                .CLK(clk), .CE(1'b1), .A(ax[15:0]), .B(bx[15:0]), .C(16'h0000), .D(16'h0000),
                .AHOLD(1'b0), .BHOLD(1'b0), .CHOLD(1'b0), .DHOLD(1'b0),
                .IRSTTOP(1'b0), .IRSTBOT(1'b0), .ORSTTOP(1'b0), .ORSTBOT(1'b0),
                .OLOADTOP(1'b0), .OLOADBOT(1'b0), .ADDSUBTOP(1'b0), .ADDSUBBOT(1'b0),
                .OHOLDTOP(1'b0), .OHOLDBOT(1'b0), .CI(1'b0), .ACCUMCI(1'b0), .SIGNEXTIN(1'b0),
                .O(o), .CO(), .ACCUMCO(), .SIGNEXTOUT()
            );
            assign p = o[PW-1:0];
            wire unused_ok = ^{ax[15+AW:16], bx[15+BW:16], o};   // the sign copies; o above the product
`endif
        end else begin : g_regs
            wire signed [AW-1:0] ar;
            wire signed [BW-1:0] br;
            if (STAGES == 2) begin : g_in
                reg signed [AW-1:0] ar_q;
                reg signed [BW-1:0] br_q;
                always @(posedge clk) begin
                    ar_q <= a;
                    br_q <= b;
                end
                assign ar = ar_q;
                assign br = br_q;
            end else begin : g_comb
                assign ar = a;
                assign br = b;
            end
            reg signed [PW-1:0] pr;
            always @(posedge clk) pr <= ar * br;
            assign p = pr;
        end
    endgenerate
endmodule
`default_nettype wire
