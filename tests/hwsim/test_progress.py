"""hwsim._progress: a bar on a pseudo-terminal that reports 0 columns."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import select
import struct
import termios

from hwsim._progress import FALLBACK_COLUMNS, bar, cosim_chunk, fallback_width


def _pty(columns: int):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    return master, os.fdopen(slave, "w", buffering=1)


def _read_all(fd: int) -> str:
    """Everything written to the pty so far (a single read may return one write only)."""
    chunks = []
    while select.select([fd], [], [], 0.2)[0]:
        chunks.append(os.read(fd, 65536))
    return b"".join(chunks).decode()


def test_zero_column_pty_gets_a_width_and_a_bar():
    master, f = _pty(0)
    try:
        assert fallback_width(f) == FALLBACK_COLUMNS
        b = bar(total=4, file=f, desc="cosim", mininterval=0)
        assert b.ncols == FALLBACK_COLUMNS
        for _ in range(4):
            b.update()
        b.close()
        out = _read_all(master)
        lines = [ln for ln in out.split("\r") if "4/4" in ln]
        assert lines and all(len(ln.rstrip()) >= FALLBACK_COLUMNS - 10 for ln in lines), repr(out)  # full width
    finally:
        f.close()
        os.close(master)


def test_real_widths_and_pipes_are_left_to_tqdm():
    master, f = _pty(120)
    try:
        assert fallback_width(f) is None
    finally:
        f.close()
        os.close(master)
    assert fallback_width(io.StringIO()) is None


def test_cosim_chunk_gives_per_sequence_progress():
    assert [cosim_chunk(n, 256) for n in (1, 8, 32, 50, 1000, 100_000)] == [1, 1, 1, 2, 32, 256]
