// A delay line: q is d from N cycles ago (N = 0: a wire). RST = 1 clears it on rst (valid bits);
// data lines leave RST = 0 and are qualified by a valid bit delayed alongside them.
`default_nettype none
module hwsim_delay #(
    parameter W   = 1,
    parameter N   = 1,
    parameter RST = 0
) (
    input  wire         clk,
    input  wire         rst,
    input  wire [W-1:0] d,
    output wire [W-1:0] q
);
    generate
        if (N == 0) begin : g_wire
            assign q = d;
            wire unused_ck = clk ^ rst;
        end else begin : g_regs
            reg [W-1:0] sr [0:N-1];
            integer i;
            always @(posedge clk) begin
                if (RST != 0 && rst) begin
                    for (i = 0; i < N; i = i + 1) sr[i] <= {W{1'b0}};
                end else begin
                    sr[0] <= d;
                    for (i = 1; i < N; i = i + 1) sr[i] <= sr[i - 1];
                end
            end
            assign q = sr[N - 1];
            if (RST == 0) begin : g_nr
                wire unused_rst = rst;
            end
        end
    endgenerate
endmodule
`default_nettype wire
