"""The bytes on the serial line (docs/board.md, "The protocol"): one place, read by the driver and
the tests. The bridge that answers them is ``rtl_templates/hwsim_uart_bridge.v``."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .._errors import HwsimError

CMD_IDENTIFY = b"I"
CMD_COUNTERS = b"C"
CMD_LOAD = b"L"
CMD_LAST = b"X"  # n beats, tlast on the last: a sequence's final chunk
CMD_MORE = b"x"  # n beats without tlast: a chunk of a sequence that goes on
ID_REPLY = 12
COUNTERS_REPLY = 13
LOAD_OK, LOAD_ERR, UNKNOWN = b"K", b"E", b"?"
BEAT_MARK = 0xA0  # high nibble of every output beat's flags byte
MAX_BEATS = 0xFFFF  # of one X / x command


class ProtocolError(HwsimError):
    """The board sent something the protocol does not allow."""


@dataclass(frozen=True)
class Identity:
    """The bridge's answer to ``I``: widths, sizes and status (docs/board.md)."""

    version: int
    s_bytes: int  # bytes of one input beat (x element)
    m_bytes: int  # bytes of one output beat
    runtime_weights: bool  # the design has the s_load port
    overrun: bool  # a received byte was lost since reset (the FIFO was full)
    load_ok: bool
    load_err: bool
    rom_ok: bool  # the core found its ROM files (docs/rom_format.md, "ROM check")
    fifo_bytes: int
    input_size: int
    hidden_size: int
    classes: int

    @classmethod
    def decode(cls, reply: bytes) -> "Identity":
        if len(reply) != ID_REPLY or reply[0:1] != b"h":
            raise ProtocolError(f"identity reply must be {ID_REPLY} bytes starting with 'h', not {reply.hex(' ')}")
        ver, sb, mb, st, aw = reply[1:6]
        i, h, c = struct.unpack("<HHH", reply[6:12])
        return cls(ver, sb, mb, bool(st & 1), bool(st & 2), bool(st & 4), bool(st & 8), bool(st & 16), 1 << aw, i, h, c)


def decode_counters(reply: bytes) -> dict[str, int]:
    if len(reply) != COUNTERS_REPLY or reply[0:1] != b"c":
        raise ProtocolError(f"counters reply must be {COUNTERS_REPLY} bytes starting with 'c', not {reply.hex(' ')}")
    step, head, sat = struct.unpack("<III", reply[1:])
    return {"step_cycles": step, "head_cycles": head, "sat_count": sat}


def encode_beats(values: np.ndarray, s_bytes: int, *, last: bool) -> bytes:
    """One ``X`` (``last``) or ``x`` command: the count, then each value as ``s_bytes`` two's
    complement bytes, least significant first."""
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    if not 1 <= v.size <= MAX_BEATS:
        raise ProtocolError(f"a command must carry 1 to {MAX_BEATS} beats, not {v.size}")
    lo, hi = -(1 << (8 * s_bytes - 1)), (1 << (8 * s_bytes - 1)) - 1
    if v.min() < lo or v.max() > hi:
        raise ProtocolError(f"input values must fit {s_bytes} signed byte(s) [{lo}, {hi}]")
    body = b"".join(int(x).to_bytes(s_bytes, "little", signed=True) for x in v)
    return (CMD_LAST if last else CMD_MORE) + struct.pack("<H", v.size) + body


def encode_load(image: bytes) -> bytes:
    if not image:
        raise ProtocolError("a weight image must hold at least one byte")
    return CMD_LOAD + struct.pack("<I", len(image)) + bytes(image)


def decode_beat(raw: bytes) -> tuple[int, bool, bool]:
    """``(value, tuser, tlast)`` of one output beat: the flags byte, then the value's bytes (LE, signed)."""
    flags = raw[0]
    if flags & 0xF0 != BEAT_MARK:
        raise ProtocolError(f"output beat must start with a flags byte 0xA0-0xA3, not 0x{flags:02x} (line out of step)")
    return int.from_bytes(raw[1:], "little", signed=True), bool(flags & 1), bool(flags & 2)
