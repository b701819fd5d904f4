"""``Board``: the host side of the UART protocol (docs/board.md). Synchronous and window-paced:
the driver never has more input bytes in flight than the bridge's receive FIFO holds, so the
board never drops a byte even when the core is slower than the line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import ToolError
from ._protocol import (BEAT_MARK, COUNTERS_REPLY, CMD_COUNTERS, CMD_IDENTIFY, ID_REPLY, LOAD_ERR, LOAD_OK, MAX_BEATS,
                        UNKNOWN, Identity, ProtocolError, decode_beat, decode_counters, encode_beats, encode_load)


class BoardError(ToolError):
    """The board did not answer, answered out of protocol, or refused a command."""


@dataclass(frozen=True)
class BoardResult:
    h: np.ndarray  # (N, T, H) the last layer's h after every step, as the board sent it
    y: np.ndarray | None  # (N, C) head outputs, None without a head
    classes: np.ndarray | None  # (N,) argmax of y (what the LEDs show)


def open_port(port: str, baud: int, timeout: float):
    """A pyserial port; a port that cannot be opened is one ``BoardError`` line."""
    try:
        import serial
    except ImportError:  # pragma: no cover - pyserial is a dependency of hwsim
        raise BoardError("the board driver needs pyserial: pip install pyserial") from None
    try:
        return serial.Serial(port, baudrate=baud, timeout=timeout)
    except (serial.SerialException, OSError, ValueError) as e:
        raise BoardError(f"serial port must open, but {port!r} did not: {' '.join(str(e).split())}") from None


class Board:
    """A board running an ``hwsim board`` bitstream, on ``port`` (a device name or an open port object)."""

    def __init__(self, port: Any, *, baud: int = 115200, timeout: float = 2.0):
        self.name = port if isinstance(port, str) else getattr(port, "name", "simulated port")
        self.port = open_port(port, baud, timeout) if isinstance(port, str) else port
        self.baud = baud
        self.timeout = timeout
        self._id: Identity | None = None

    def close(self) -> None:
        self.port.close()

    def __enter__(self) -> "Board":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- bytes ------------------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except (OSError, ValueError) as e:
            raise BoardError(f"writing to {self.name} failed: {' '.join(str(e).split())}") from None

    def _read(self, n: int, what: str) -> bytes:
        try:
            got = self.port.read(n)
        except (OSError, ValueError) as e:
            raise BoardError(f"reading from {self.name} failed: {' '.join(str(e).split())}") from None
        if len(got) != n:
            raise BoardError(f"the board on {self.name} must answer {what} ({n} bytes) within {self.timeout:g} s, "
                             f"but sent {len(got)}: check the port, the baud rate ({self.baud}) and the bitstream")
        return bytes(got)

    # -- commands ---------------------------------------------------------------------------------
    def identify(self) -> Identity:
        """Ask the bridge for its widths and sizes (``I``); cached."""
        self._write(CMD_IDENTIFY)
        reply = self._read(1, "the identity")
        if reply != b"h":
            raise BoardError(f"the board on {self.name} must answer 'I' with 'h', not 0x{reply[0]:02x}")
        try:
            self._id = Identity.decode(reply + self._read(ID_REPLY - 1, "the identity"))
        except ProtocolError as e:
            raise BoardError(str(e)) from None
        return self._id

    @property
    def identity(self) -> Identity:
        return self._id or self.identify()

    def check_design(self, manifest: dict[str, Any]) -> None:
        """Refuse a board whose design is not the export's shape (one line)."""
        ident, mod = self.identity, manifest["model"]
        classes = int((manifest.get("head") or {}).get("classes") or mod.get("num_classes") or 0)
        want = (mod["input_size"], mod["hidden_size"], classes)
        got = (ident.input_size, ident.hidden_size, ident.classes)
        if want != got:
            raise BoardError(f"the board's design must have I, H, C = {want} as the export, not {got}")

    def counters(self) -> dict[str, int]:
        """``step_cycles``, ``head_cycles``, ``sat_count`` of the core since reset (``C``)."""
        self._write(CMD_COUNTERS)
        try:
            return decode_counters(self._read(COUNTERS_REPLY, "the counters"))
        except ProtocolError as e:
            raise BoardError(str(e)) from None

    def load_weights(self, image: bytes) -> None:
        """Send a run-time weight image (``DIR/rom/weights.bin``) through the load port; the core
        checks its header and answers ``K``, or ``E`` for an image of another shape or contract."""
        if not self.identity.runtime_weights:
            raise BoardError("the board's design has no load port: export with --weights runtime and rebuild")
        self._write(encode_load(image))
        # the reply comes after the last byte has crossed the line
        line_s = len(image) * 10 / self.baud
        old = getattr(self.port, "timeout", None)
        try:
            if old is not None:
                self.port.timeout = self.timeout + 1.5 * line_s
            reply = self._read(1, "the load status")
        finally:
            if old is not None:
                self.port.timeout = old
        if reply == LOAD_ERR:
            raise BoardError("the board refused the weight image (load_err): its header does not match the design")
        if reply != LOAD_OK:
            raise BoardError(f"the board must answer a load with 'K' or 'E', not 0x{reply[0]:02x}")

    def run(self, x_int: np.ndarray) -> BoardResult:
        """Send each sequence of ``x_int`` (N, T, I integers of the x format) and read its outputs."""
        ident = self.identity
        x = np.asarray(x_int)
        if x.ndim != 3 or x.shape[2] != ident.input_size or x.shape[1] < 1:
            raise BoardError(f"inputs must have shape (N, T >= 1, {ident.input_size}), not {x.shape}")
        n, t, i = x.shape
        hs, ys = np.zeros((n, t, ident.hidden_size), dtype=np.int64), []
        for s in range(n):
            h, y = self._sequence(x[s], ident)
            hs[s] = h
            ys.append(y)
        if ident.classes:
            y = np.array(ys, dtype=np.int64)
            return BoardResult(hs, y, np.argmax(y, axis=1))
        return BoardResult(hs, None, None)

    def _sequence(self, x: np.ndarray, ident: Identity) -> tuple[np.ndarray, list[int]]:
        """One sequence, paced: steps are sent while the bytes in flight (sent, their outputs not yet
        read) fit the FIFO; each step's ``H`` beats are read as they come."""
        t, i = x.shape
        step_bytes = 3 + i * ident.s_bytes  # one x / X command a step
        if step_bytes > ident.fifo_bytes or i > MAX_BEATS:
            raise BoardError(f"one step's command ({step_bytes} bytes) must fit the board's {ident.fifo_bytes}-byte FIFO")
        window = max(1, ident.fifo_bytes // step_bytes - 1)
        h = np.zeros((t, ident.hidden_size), dtype=np.int64)
        sent = 0
        for k in range(t):
            while sent < t and sent - k < window:
                self._write(encode_beats(x[sent], ident.s_bytes, last=sent == t - 1))
                sent += 1
            for j in range(ident.hidden_size):
                v, user, last = self._beat(ident, f"h beat {j} of step {k}")
                if user:
                    raise BoardError(f"the board sent a head beat where h beat {j} of step {k} belongs")
                h[k, j] = v
        y = []
        for c in range(ident.classes):
            v, user, last = self._beat(ident, f"head beat {c}")
            if not user:
                raise BoardError(f"the board sent an h beat where head beat {c} belongs")
            y.append(v)
        if not last:
            raise BoardError("the board's last beat of a sequence must carry tlast")
        return h, y

    def _beat(self, ident: Identity, what: str) -> tuple[int, bool, bool]:
        raw = self._read(1 + ident.m_bytes, what)
        if raw[0] & 0xF0 != BEAT_MARK:
            hint = " (the board did not know a command)" if raw[:1] == UNKNOWN else ""
            raise BoardError(f"{what}: expected a flags byte 0xA0-0xA3, got 0x{raw[0]:02x}{hint}")
        return decode_beat(raw)
