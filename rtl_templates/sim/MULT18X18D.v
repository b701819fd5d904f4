// A simulation model of the Lattice ECP5 MULT18X18D (sysDSP 18 x 18 multiplier) for gate-level
// co-simulation of ECP5 netlists: yosys 0.23 ships the cell only as a black box (ecp5/cells_bb.v).
// Written from Lattice's ECP5 sysDSP usage guide (FPGA-TN-02205), for the configurations hwsim and
// yosys's synth_ecp5 emit: A and B from their pins (SOURCEA = SOURCEB = 0), signedness from the
// SIGNEDA / SIGNEDB pins, each of the input-A, input-B, pipeline and output registers either off
// ("NONE") or on CLK0 with CE0 and a synchronous RST0. Any other setting stops the simulation, so
// the model never quietly computes something the silicon would not; the shift and cascade ports
// (SRIA/SRIB, SROA/SROB, ROA/ROB/ROC, SIGNEDP) are not modelled, and a netlist that uses them does
// not elaborate. Not a block of the design: hwsim cosim --netlist --target ecp5 adds it.
/* verilator lint_off UNUSEDSIGNAL */
/* verilator lint_off UNUSEDPARAM */
module MULT18X18D (
    input  A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
    input  B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
    input  C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
    input  SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
    input  CLK0, CLK1, CLK2, CLK3,
    input  CE0, CE1, CE2, CE3,
    input  RST0, RST1, RST2, RST3,
    output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0
);
    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CLK = "NONE";
    parameter REG_INPUTC_CE = "CE0";
    parameter REG_INPUTC_RST = "RST0";
    parameter REG_PIPELINE_CLK = "NONE";
    parameter REG_PIPELINE_CE = "CE0";
    parameter REG_PIPELINE_RST = "RST0";
    parameter REG_OUTPUT_CLK = "NONE";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter CLK0_DIV = "ENABLED";
    parameter CLK1_DIV = "ENABLED";
    parameter CLK2_DIV = "ENABLED";
    parameter CLK3_DIV = "ENABLED";
    parameter HIGHSPEED_CLK = "NONE";
    parameter GSR = "ENABLED";
    parameter CAS_MATCH_REG = "FALSE";
    parameter SOURCEB_MODE = "B_SHIFT";
    parameter MULT_BYPASS = "DISABLED";
    parameter RESETMODE = "SYNC";

    localparam RA = REG_INPUTA_CLK == "CLK0";
    localparam RB = REG_INPUTB_CLK == "CLK0";
    localparam RP = REG_PIPELINE_CLK == "CLK0";
    localparam RO = REG_OUTPUT_CLK == "CLK0";

    wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
    reg  [17:0] a_r = 18'd0, b_r = 18'd0;
    reg         sa_r = 1'b0, sb_r = 1'b0;
    always @(posedge CLK0) begin
        if (RST0) begin
            a_r <= 18'd0;
            sa_r <= 1'b0;
            b_r <= 18'd0;
            sb_r <= 1'b0;
        end else if (CE0) begin
            a_r <= a;
            sa_r <= SIGNEDA;
            b_r <= b;
            sb_r <= SIGNEDB;
        end
    end
    wire [17:0] a_in = RA ? a_r : a;
    wire [17:0] b_in = RB ? b_r : b;
    wire        sa = RA ? sa_r : SIGNEDA;
    wire        sb = RB ? sb_r : SIGNEDB;
    wire signed [18:0] a_ext = {sa & a_in[17], a_in};
    wire signed [18:0] b_ext = {sb & b_in[17], b_in};
    wire signed [37:0] prod = a_ext * b_ext;

    reg  [35:0] p_pipe = 36'd0, p_out = 36'd0;
    wire [35:0] p_mid = RP ? p_pipe : prod[35:0];
    always @(posedge CLK0) begin
        if (RST0) begin
            p_pipe <= 36'd0;
            p_out <= 36'd0;
        end else if (CE0) begin
            p_pipe <= prod[35:0];
            p_out <= p_mid;
        end
    end
    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = RO ? p_out : p_mid;

    initial begin
        if (!(REG_INPUTA_CLK == "NONE" || RA) || !(REG_INPUTB_CLK == "NONE" || RB)
                || !(REG_PIPELINE_CLK == "NONE" || RP) || !(REG_OUTPUT_CLK == "NONE" || RO)
                || REG_INPUTC_CLK != "NONE" || MULT_BYPASS != "DISABLED" || RESETMODE != "SYNC"
                || (RA && (REG_INPUTA_CE != "CE0" || REG_INPUTA_RST != "RST0"))
                || (RB && (REG_INPUTB_CE != "CE0" || REG_INPUTB_RST != "RST0"))
                || (RP && (REG_PIPELINE_CE != "CE0" || REG_PIPELINE_RST != "RST0"))
                || (RO && (REG_OUTPUT_CE != "CE0" || REG_OUTPUT_RST != "RST0"))) begin
            $fatal(1, "MULT18X18D model: %m uses a register setting the model does not cover");
        end
    end
    always @(posedge CLK0) begin
        if (SOURCEA === 1'b1 || SOURCEB === 1'b1) begin
            $fatal(1, "MULT18X18D model: %m takes its operands from the shift chain (SOURCEA/SOURCEB), not modelled");
        end
    end
endmodule
/* verilator lint_on UNUSEDPARAM */
/* verilator lint_on UNUSEDSIGNAL */
