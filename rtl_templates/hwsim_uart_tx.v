// hwsim_uart_tx: 8N1 UART transmitter, CLKS_PER_BIT clock cycles a bit. `ready` is high while
// idle; a byte offered with `valid` then is sent (start bit, 8 data bits LSB first, stop bit).
`default_nettype none
module hwsim_uart_tx #(
    parameter CLKS_PER_BIT = 208
) (
    input  wire       clk,
    input  wire       rst,
    input  wire [7:0] data,
    input  wire       valid,
    output wire       ready,
    output reg        tx
);
    localparam CW = (CLKS_PER_BIT > 2) ? $clog2(CLKS_PER_BIT) : 1;
    localparam integer LAST_I = CLKS_PER_BIT - 1;
    localparam [CW-1:0] LAST = LAST_I[CW-1:0];
    reg [8:0]    shift;   // data bits then the stop bit; the start bit is driven on load
    reg [3:0]    left;    // bits still to send after the current one
    reg          busy;
    reg [CW-1:0] cnt;
    assign ready = !busy;

    always @(posedge clk) begin
        if (rst) begin
            tx <= 1'b1;
            busy <= 1'b0;
            cnt <= {CW{1'b0}};
            left <= 4'd0;
            shift <= 9'h1ff;
        end else if (!busy) begin
            if (valid) begin
                tx <= 1'b0;
                shift <= {1'b1, data};
                left <= 4'd9;
                busy <= 1'b1;
                cnt <= {CW{1'b0}};
            end
        end else if (cnt == LAST) begin
            cnt <= {CW{1'b0}};
            if (left == 4'd0) begin
                busy <= 1'b0;
            end else begin
                tx <= shift[0];
                shift <= {1'b1, shift[8:1]};
                left <= left - 1'b1;
            end
        end else cnt <= cnt + 1'b1;
    end
endmodule
`default_nettype wire
