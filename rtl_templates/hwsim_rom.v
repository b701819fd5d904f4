// Synchronous-read ROM initialised from a $readmemh file (one word per line).
// Vendor tools infer block RAM from this shape (registered read, no reset on the data path).
// WRITABLE = 1 (run-time weights, docs/rtl.md "Run-time weights") adds a write port on the load
// bus of hwsim_loader: word ld_data[WIDTH-1:0] is written at ld_addr when ld_we and ld_sel ==
// MEM_ID. The file stays the power-on contents; read and write ports are separate (a simple
// dual-port block RAM). With WRITABLE = 0 the ld_* inputs are ignored and the ROM is as before.
`default_nettype none
module hwsim_rom #(
    parameter WIDTH     = 32,
    parameter DEPTH     = 16,
    parameter ADDR_BITS = 4,
    parameter INIT_FILE = "",
    parameter WRITABLE  = 0,
    parameter MEM_ID    = 0,
    parameter LD_DW     = 8
) (
    input  wire                 clk,
    input  wire [ADDR_BITS-1:0] addr,
    output reg  [WIDTH-1:0]     q,
    input  wire                 ld_we,
    input  wire [7:0]           ld_sel,
    input  wire [23:0]          ld_addr,
    input  wire [LD_DW-1:0]     ld_data
);
    reg [WIDTH-1:0] mem [0:DEPTH-1];
    initial begin
        if (INIT_FILE != "") $readmemh(INIT_FILE, mem);
    end
    always @(posedge clk) q <= mem[addr];
    generate
        if (WRITABLE != 0) begin : g_wr
            localparam [7:0] ID = MEM_ID;
            wire unused_ld = ^{ld_addr, ld_data};  // bits above ADDR_BITS / WIDTH
            always @(posedge clk)
                if (ld_we && ld_sel == ID) mem[ld_addr[ADDR_BITS-1:0]] <= ld_data[WIDTH-1:0];
        end else begin : g_ro
            wire unused_ld = ^{ld_we, ld_sel, ld_addr, ld_data};
        end
    endgenerate
endmodule
`default_nettype wire
