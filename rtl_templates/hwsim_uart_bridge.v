// hwsim_uart_bridge: the board's byte protocol (docs/board.md) between a UART and the core's
// AXI4-Stream ports. Received bytes go through a FIFO (2**FIFO_AW bytes, block RAM) to a command
// parser:
//   'I'                      -> 12-byte identity reply ('h', version, widths, sizes, status flags:
//                               bit 0 load port, 1 overrun, 2 load_ok, 3 load_err, 4 rom_ok)
//   'X' n(u16 LE) then n beats of S_W/8 bytes (LE)  -> s_axis, tlast on the n-th beat
//   'x' n(u16 LE) then n beats                      -> s_axis without tlast (a sequence goes on)
//   'L' n(u32 LE) then n bytes                      -> s_load (LOAD = 1), tlast on the n-th byte;
//                                                      8 cycles later, reply 'K' (load_ok and not
//                                                      load_err) or 'E'
//   'C'                      -> 13-byte counters reply ('c', step_cycles, head_cycles, sat_count)
//   anything else            -> '?'
// Every m_axis beat is sent as one flags byte (0xA0 | tlast << 1 | tuser) then M_W/8 data bytes
// (LE). Replies and beats are whole messages on the line, never interleaved byte by byte. The
// index of the largest head output (first on ties) is latched on each sequence's last beat (cls).
`default_nettype none
module hwsim_uart_bridge #(
    parameter CLKS_PER_BIT = 208,
    parameter S_W = 8,
    parameter M_W = 8,
    parameter I = 1,
    parameter HID = 1,
    parameter NCLS = 0,
    parameter LOAD = 0,
    parameter FIFO_AW = 9
) (
    input  wire           clk,
    input  wire           rst,
    input  wire           rx,
    output wire           tx,
    output wire [S_W-1:0] s_axis_tdata,
    output wire           s_axis_tvalid,
    input  wire           s_axis_tready,
    output wire           s_axis_tlast,
    input  wire [M_W-1:0] m_axis_tdata,
    input  wire           m_axis_tvalid,
    output wire           m_axis_tready,
    input  wire           m_axis_tlast,
    input  wire           m_axis_tuser,
    output wire [7:0]     s_load_tdata,
    output wire           s_load_tvalid,
    input  wire           s_load_tready,
    output wire           s_load_tlast,
    input  wire           load_ok,
    input  wire           load_err,
    input  wire           rom_ok,     // the core's ROM check (docs/rom_format.md)
    input  wire [31:0]    step_cycles,
    input  wire [31:0]    head_cycles,
    input  wire [31:0]    sat_count,
    output reg  [7:0]     cls,        // predicted class of the last sequence
    output reg            cls_valid,  // a sequence has finished since reset
    output reg            overrun,    // a byte arrived while the FIFO was full (sticky)
    output wire           busy        // a command is in progress
);
    localparam S_B = S_W / 8;
    localparam M_B = M_W / 8;
    localparam MSG = 16;  // bytes of the transmit message register: replies (<= 13) and beats (1 + M_B)
    localparam DEPTH = 1 << FIFO_AW;
    localparam integer S_LAST_I = S_B - 1;
    localparam [7:0] S_LAST = S_LAST_I[7:0];    // index of a beat's last byte
    localparam integer BEAT_LEN_I = M_B + 1;
    localparam [4:0] BEAT_LEN = BEAT_LEN_I[4:0];  // bytes on the line per output beat

    // ---- UART ------------------------------------------------------------------------------
    wire [7:0] rx_data;
    wire       rx_valid;
    wire       tx_ready;
    reg [8*MSG-1:0] msg;
    reg [4:0]       msg_len;
    hwsim_uart_rx #(.CLKS_PER_BIT(CLKS_PER_BIT)) u_rx (
        .clk(clk), .rst(rst), .rx(rx), .data(rx_data), .valid(rx_valid));
    hwsim_uart_tx #(.CLKS_PER_BIT(CLKS_PER_BIT)) u_tx (
        .clk(clk), .rst(rst), .data(msg[7:0]), .valid(msg_len != 5'd0), .ready(tx_ready), .tx(tx));

    // ---- receive FIFO (first word falls through one output register) ---------------------------
    reg [7:0]       mem [0:DEPTH-1];
    reg [FIFO_AW:0] wp, rp;
    reg [7:0]       q;
    reg             q_valid;
    wire            take;  // the parser consumes q this cycle
    wire            empty = (wp == rp);
    wire            full = ((wp - rp) == DEPTH[FIFO_AW:0]);
    wire            pop = !empty && (!q_valid || take);
    always @(posedge clk) begin
        if (rx_valid && !full) mem[wp[FIFO_AW-1:0]] <= rx_data;
        if (pop) q <= mem[rp[FIFO_AW-1:0]];
    end
    always @(posedge clk) begin
        if (rst) begin
            wp <= {(FIFO_AW + 1){1'b0}};
            rp <= {(FIFO_AW + 1){1'b0}};
            q_valid <= 1'b0;
            overrun <= 1'b0;
        end else begin
            if (rx_valid && !full) wp <= wp + 1'b1;
            if (rx_valid && full) overrun <= 1'b1;
            if (pop) rp <= rp + 1'b1;
            if (pop) q_valid <= 1'b1;
            else if (take) q_valid <= 1'b0;
        end
    end

    // ---- command parser ----------------------------------------------------------------------
    localparam [3:0] CMD = 4'd0, XLEN = 4'd1, XBYTES = 4'd2, XBEAT = 4'd3, LLEN = 4'd4, LBYTES = 4'd5,
                     LWAIT = 4'd6, REPLY = 4'd7;
    localparam [2:0] R_ID = 3'd0, R_CNT = 3'd1, R_OK = 3'd2, R_ERR = 3'd3, R_BAD = 3'd4;
    reg [3:0]    state;
    reg [2:0]    rkind;
    reg [31:0]   left;     // beats (X) or bytes (L) still to forward; while reading a length, the length
    reg [1:0]    nlen;     // length bytes read so far
    reg          xlast;    // 'X' (tlast on the last beat) rather than 'x'
    reg [7:0]    nbyte;    // bytes of the current beat read so far
    reg [S_W+7:0] xacc;    // the beat's bytes, the first (least significant) lowest after S_B shifts
    assign take = q_valid && (state == CMD || state == XLEN || state == XBYTES || state == LLEN
                              || (state == LBYTES && s_load_tready));
    assign s_axis_tdata = xacc[S_W+7:8];
    wire unused_xacc = ^xacc[7:0];  // the byte that falls out of the bottom
    assign s_axis_tvalid = (state == XBEAT);
    assign s_axis_tlast = xlast && (left == 32'd1);
    assign s_load_tdata = q;
    assign s_load_tvalid = (state == LBYTES) && q_valid;
    assign s_load_tlast = (left == 32'd1);
    assign busy = (state != CMD);
    wire [31:0] len_next = {q, left[31:8]};  // little endian: each byte shifts in from the top

    always @(posedge clk) begin
        if (rst) begin
            state <= CMD;
            rkind <= R_BAD;
            xlast <= 1'b0;
            left <= 32'd0;
            nlen <= 2'd0;
            nbyte <= 8'd0;
            xacc <= {(S_W + 8){1'b0}};
        end else begin
            case (state)
                CMD: if (q_valid) begin
                    nlen <= 2'd0;
                    left <= 32'd0;
                    case (q)
                        8'h49: begin rkind <= R_ID; state <= REPLY; end          // 'I'
                        8'h43: begin rkind <= R_CNT; state <= REPLY; end         // 'C'
                        8'h58: begin xlast <= 1'b1; state <= XLEN; end            // 'X'
                        8'h78: begin xlast <= 1'b0; state <= XLEN; end            // 'x'
                        8'h4c: if (LOAD != 0) state <= LLEN;                      // 'L'
                               else begin rkind <= R_BAD; state <= REPLY; end
                        default: begin rkind <= R_BAD; state <= REPLY; end
                    endcase
                end
                XLEN: if (q_valid) begin
                    left <= (nlen == 2'd1) ? {16'd0, len_next[31:16]} : len_next;  // u16: two bytes
                    nlen <= nlen + 1'b1;
                    nbyte <= 8'd0;
                    if (nlen == 2'd1) state <= (len_next[31:16] == 16'd0) ? CMD : XBYTES;
                end
                XBYTES: if (q_valid) begin
                    xacc <= {q, xacc[S_W+7:8]};
                    nbyte <= nbyte + 1'b1;
                    if (nbyte == S_LAST) state <= XBEAT;
                end
                XBEAT: if (s_axis_tready) begin
                    left <= left - 1'b1;
                    nbyte <= 8'd0;
                    state <= (left == 32'd1) ? CMD : XBYTES;
                end
                LLEN: if (q_valid) begin
                    left <= len_next;
                    nlen <= nlen + 1'b1;
                    if (nlen == 2'd3) begin
                        if (len_next == 32'd0) begin rkind <= R_ERR; state <= REPLY; end
                        else state <= LBYTES;
                    end
                end
                LBYTES: if (q_valid && s_load_tready) begin
                    left <= left - 1'b1;
                    nbyte <= 8'd0;
                    if (left == 32'd1) state <= LWAIT;
                end
                LWAIT: begin  // the loader's verdict is registered on the tlast byte: read it a few cycles later
                    nbyte <= nbyte + 1'b1;
                    if (nbyte == 8'd7) begin
                        rkind <= (load_ok && !load_err) ? R_OK : R_ERR;
                        state <= REPLY;
                    end
                end
                default: if (msg_len == 5'd0) state <= CMD;  // REPLY: loaded into msg this cycle
            endcase
        end
    end

    // ---- transmit: one message at a time, a reply or one output beat -------------------------
    wire [7:0] flags = {4'hA, 2'b00, m_axis_tlast, m_axis_tuser};
    wire [7:0] status = {3'h0, rom_ok, load_err, load_ok, overrun, (LOAD != 0) ? 1'b1 : 1'b0};
    reg  [8*MSG-1:0] reply;
    reg  [4:0]       reply_len;
    always @(*) begin
        reply = {(8 * MSG){1'b0}};
        reply_len = 5'd1;
        case (rkind)
            R_ID: begin
                reply[95:0] = {NCLS[15:0], HID[15:0], I[15:0], FIFO_AW[7:0], status,
                               M_B[7:0], S_B[7:0], 8'h01, 8'h68};
                reply_len = 5'd12;
            end
            R_CNT: begin
                reply[103:0] = {sat_count, head_cycles, step_cycles, 8'h63};
                reply_len = 5'd13;
            end
            R_OK: begin reply[7:0] = 8'h4b; reply_len = 5'd1; end
            R_ERR: begin reply[7:0] = 8'h45; reply_len = 5'd1; end
            default: begin reply[7:0] = 8'h3f; reply_len = 5'd1; end
        endcase
    end
    assign m_axis_tready = (msg_len == 5'd0) && (state != REPLY);
    wire [8*MSG-1:0] beat_msg = {{(8 * MSG - M_W - 8){1'b0}}, m_axis_tdata, flags};
    always @(posedge clk) begin
        if (rst) begin
            msg <= {(8 * MSG){1'b0}};
            msg_len <= 5'd0;
        end else if (msg_len != 5'd0) begin
            if (tx_ready) begin
                msg <= {8'h00, msg[8*MSG-1:8]};
                msg_len <= msg_len - 1'b1;
            end
        end else if (state == REPLY) begin
            msg <= reply;
            msg_len <= reply_len;
        end else if (m_axis_tvalid) begin
            msg <= beat_msg;
            msg_len <= BEAT_LEN;
        end
    end

    // ---- the predicted class: argmax of the head beats (tuser = 1) -------------------------------
    reg  [M_W-1:0] best;
    reg  [7:0]     bidx, hidx;
    wire           newmax = (hidx == 8'd0) || ($signed(m_axis_tdata) > $signed(best));
    always @(posedge clk) begin
        if (rst) begin
            best <= {M_W{1'b0}};
            bidx <= 8'd0;
            hidx <= 8'd0;
            cls <= 8'd0;
            cls_valid <= 1'b0;
        end else if (m_axis_tvalid && m_axis_tready) begin
            if (m_axis_tuser) begin
                if (newmax) begin
                    best <= m_axis_tdata;
                    bidx <= hidx;
                end
                hidx <= hidx + 1'b1;
            end
            if (m_axis_tlast) begin
                hidx <= 8'd0;
                cls <= (m_axis_tuser && newmax) ? hidx : bidx;
                cls_valid <= 1'b1;
            end
        end
    end
endmodule
`default_nettype wire
