// hwsim_uart_rx: 8N1 UART receiver. CLKS_PER_BIT clock cycles a bit (clock / baud, >= 4); the
// line is synchronized by two flip-flops, each bit is sampled once, in its middle. A byte whose
// stop bit reads 0 (a framing error) is dropped. docs/board.md.
`default_nettype none
module hwsim_uart_rx #(
    parameter CLKS_PER_BIT = 208
) (
    input  wire       clk,
    input  wire       rst,
    input  wire       rx,
    output reg  [7:0] data,
    output reg        valid   // one cycle per received byte
);
    localparam CW = (CLKS_PER_BIT > 2) ? $clog2(CLKS_PER_BIT) : 1;
    localparam integer LAST_I = CLKS_PER_BIT - 1;
    localparam [CW-1:0] LAST = LAST_I[CW-1:0];
    localparam integer HALF_I = (CLKS_PER_BIT - 1) / 2;
    localparam [CW-1:0] HALF = HALF_I[CW-1:0];
    localparam [1:0] IDLE = 2'd0, START = 2'd1, BITS = 2'd2, STOP = 2'd3;
    reg          s1 = 1'b1, s2 = 1'b1;
    reg [1:0]    state;
    reg [CW-1:0] cnt;
    reg [2:0]    nbit;

    always @(posedge clk) begin
        s1 <= rx;
        s2 <= s1;
    end

    always @(posedge clk) begin
        valid <= 1'b0;
        if (rst) begin
            state <= IDLE;
            cnt <= {CW{1'b0}};
            nbit <= 3'd0;
            data <= 8'd0;
        end else begin
            case (state)
                IDLE: begin
                    cnt <= {CW{1'b0}};
                    if (!s2) state <= START;
                end
                START: begin  // wait half a bit: the middle of the start bit
                    if (cnt == HALF) begin
                        cnt <= {CW{1'b0}};
                        nbit <= 3'd0;
                        state <= s2 ? IDLE : BITS;  // a glitch shorter than half a bit is no start
                    end else cnt <= cnt + 1'b1;
                end
                BITS: begin
                    if (cnt == LAST) begin
                        cnt <= {CW{1'b0}};
                        data <= {s2, data[7:1]};  // LSB first
                        nbit <= nbit + 1'b1;
                        if (nbit == 3'd7) state <= STOP;
                    end else cnt <= cnt + 1'b1;
                end
                default: begin  // STOP: the middle of the stop bit
                    if (cnt == LAST) begin
                        cnt <= {CW{1'b0}};
                        valid <= s2;
                        state <= IDLE;
                    end else cnt <= cnt + 1'b1;
                end
            endcase
        end
    end
endmodule
`default_nettype wire
