// Run-time weight loader (docs/rtl.md "Run-time weights", image layout docs/rom_format.md
// "Load image"). Takes the load image a byte a beat on an AXI4-Stream port (s_load_tlast on its
// last byte), checks the 16-byte header against HDR (magic, format version, memory count, design
// hash, body length: everything the RTL's parameters fix) before any write, writes the body's
// words into the writable memories over the load bus (ld_we/ld_sel/ld_addr/ld_data) and checks the
// trailing CRC-32 (zlib's) of header and body.
//   header refused (a byte differs, or tlast inside it): nothing written, the weights are those
//     before the load; load_err = 1, load_ok unchanged.
//   body refused (tlast early, a byte after the CRC, CRC mismatch): the memories were written,
//     so weights_valid (load_ok) drops to 0 and load_err = 1 until a good image is loaded.
// weights_valid is 1 from configuration (the memory files are the power-on image) and is not
// cleared by rst: a reset does not restore the memory files. A failed image's remaining bytes are
// taken and dropped up to its tlast. Words are written only while core_idle is high (body bytes
// wait for it), so a running step never sees a half-written memory; `loading` is high from the
// first byte of an image to its end (the top then starts no steps).
`default_nettype none
module hwsim_loader #(
    parameter NMEM      = 2,                   // writable memories, ld_sel 0 .. NMEM-1 in image order
    parameter LD_DW     = 8,                   // load bus data width: 8 * the widest word's bytes
    parameter [NMEM*16-1:0] MEM_NB    = 0,     // bytes per word of memory i at [i*16 +: 16]
    parameter [NMEM*24-1:0] MEM_DEPTH = 0,     // words of memory i at [i*24 +: 24]
    parameter [127:0]       HDR       = 0      // the expected header, byte k at [k*8 +: 8]
) (
    input  wire             clk,
    input  wire             rst,
    input  wire [7:0]       s_load_tdata,
    input  wire             s_load_tvalid,
    output wire             s_load_tready,
    input  wire             s_load_tlast,
    input  wire             core_idle,
    output wire             loading,
    output wire             load_ok,
    output reg              load_err,
    output wire             ld_we,
    output wire [7:0]       ld_sel,
    output wire [23:0]      ld_addr,
    output reg  [LD_DW-1:0] ld_data
);
    localparam [1:0] S_HDR = 2'd0, S_BODY = 2'd1, S_CRC = 2'd2, S_DRAIN = 2'd3;

    reg [1:0]        state;
    reg [3:0]        cnt;        // byte of the header / CRC
    reg [7:0]        mem;        // memory being written
    reg [23:0]       addr;       // its word
    reg [15:0]       bcnt;       // byte of the word
    reg [LD_DW-1:0]  word;       // the word's bytes so far
    reg [31:0]       crc;        // running CRC-32 register (before the final inversion)
    reg [23:0]       crc_rx;     // the trailer's first three bytes as received
    reg              weights_valid = 1'b1;

    function [31:0] crc32_byte(input [31:0] c, input [7:0] d);
        integer i;
        begin
            crc32_byte = c;
            for (i = 0; i < 8; i = i + 1)
                crc32_byte = (crc32_byte >> 1) ^ ((crc32_byte[0] ^ d[i]) ? 32'hEDB88320 : 32'h0);
        end
    endfunction

    wire [15:0] nb    = MEM_NB[mem*16 +: 16];
    wire [23:0] depth = MEM_DEPTH[mem*24 +: 24];
    assign s_load_tready = (state == S_BODY) ? core_idle : 1'b1;
    wire take      = s_load_tvalid && s_load_tready;
    wire word_end  = (bcnt == nb - 16'd1);
    wire mem_end   = word_end && (addr == depth - 24'd1);
    wire body_end  = mem_end && (mem == NMEM - 1);
    assign loading = (state != S_HDR) || (cnt != 4'd0);
    assign load_ok = weights_valid;
    assign ld_we   = take && (state == S_BODY) && word_end;
    assign ld_sel  = mem;
    assign ld_addr = addr;
    always @* begin
        ld_data = word;
        ld_data[bcnt*8 +: 8] = s_load_tdata;
    end

    always @(posedge clk) begin
        if (rst) begin
            state <= S_HDR; cnt <= 4'd0; mem <= 8'd0; addr <= 24'd0; bcnt <= 16'd0;
            word <= {LD_DW{1'b0}}; crc <= 32'hFFFFFFFF; crc_rx <= 24'd0; load_err <= 1'b0;
        end else if (take) begin
            // the CRC covers header and body; the later assignments below override it
            if (state == S_HDR || state == S_BODY) crc <= crc32_byte(crc, s_load_tdata);
            case (state)
                S_HDR: begin
                    if (cnt == 4'd0) load_err <= 1'b0;       // a new image: its own verdict
                    if (s_load_tdata != HDR[cnt*8 +: 8] || s_load_tlast) begin
                        load_err <= 1'b1;                     // nothing written
                        state    <= s_load_tlast ? S_HDR : S_DRAIN;
                        cnt      <= 4'd0;
                        crc      <= 32'hFFFFFFFF;
                    end else if (cnt == 4'd15) begin
                        state <= S_BODY; cnt <= 4'd0;
                        mem <= 8'd0; addr <= 24'd0; bcnt <= 16'd0; word <= {LD_DW{1'b0}};
                        weights_valid <= 1'b0;                // the memories are about to change
                    end else begin
                        cnt <= cnt + 4'd1;
                    end
                end
                S_BODY: begin
                    if (s_load_tlast) begin                   // image too short
                        load_err <= 1'b1; state <= S_HDR; cnt <= 4'd0; crc <= 32'hFFFFFFFF;
                    end else if (word_end) begin
                        bcnt <= 16'd0; word <= {LD_DW{1'b0}};
                        if (body_end) begin
                            state <= S_CRC; cnt <= 4'd0;
                        end else if (mem_end) begin
                            mem <= mem + 8'd1; addr <= 24'd0;
                        end else begin
                            addr <= addr + 24'd1;
                        end
                    end else begin
                        bcnt <= bcnt + 16'd1; word <= ld_data;
                    end
                end
                S_CRC: begin
                    crc_rx <= {s_load_tdata, crc_rx[23:8]};
                    if (cnt == 4'd3) begin
                        // zlib's CRC-32 is the inverted register over header and body
                        if (s_load_tlast && {s_load_tdata, crc_rx} == ~crc) begin
                            weights_valid <= 1'b1;
                        end else begin
                            load_err <= 1'b1;
                        end
                        state <= s_load_tlast ? S_HDR : S_DRAIN;
                        cnt   <= 4'd0;
                        crc   <= 32'hFFFFFFFF;
                    end else if (s_load_tlast) begin          // image too short
                        load_err <= 1'b1; state <= S_HDR; cnt <= 4'd0; crc <= 32'hFFFFFFFF;
                    end else begin
                        cnt <= cnt + 4'd1;
                    end
                end
                default: begin                                // S_DRAIN: drop the rest of a refused image
                    crc <= 32'hFFFFFFFF;
                    if (s_load_tlast) state <= S_HDR;
                end
            endcase
        end
    end
endmodule
`default_nettype wire
