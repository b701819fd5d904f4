// Synchronous-read ROM initialised from a $readmemh file (one word per line).
// Vendor tools infer block RAM from this shape (registered read, no reset on the data path).
`default_nettype none
module hwsim_rom #(
    parameter WIDTH     = 32,
    parameter DEPTH     = 16,
    parameter ADDR_BITS = 4,
    parameter INIT_FILE = ""
) (
    input  wire                 clk,
    input  wire [ADDR_BITS-1:0] addr,
    output reg  [WIDTH-1:0]     q
);
    reg [WIDTH-1:0] mem [0:DEPTH-1];
    initial begin
        if (INIT_FILE != "") $readmemh(INIT_FILE, mem);
    end
    always @(posedge clk) q <= mem[addr];
endmodule
`default_nettype wire
