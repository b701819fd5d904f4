"""``hwsim.board``: the protocol's encoders and decoders, and the one-line errors of a port that does
not open or a board that does not answer (a real pseudo-terminal, nobody on the other end). The
driver against the board top's RTL is test_board_uart.py."""

from __future__ import annotations

import os

import numpy as np
import pytest
from click.testing import CliRunner

from hwsim.board import Board, BoardError, Identity
from hwsim.board._protocol import ProtocolError, decode_beat, decode_counters, encode_beats, encode_load


def test_encode_beats_little_endian_twos_complement():
    assert encode_beats(np.array([1, -1, 127]), 1, last=True) == b"X\x03\x00\x01\xff\x7f"
    assert encode_beats(np.array([-2, 300]), 2, last=False) == b"x\x02\x00\xfe\xff\x2c\x01"
    with pytest.raises(ProtocolError, match=r"^input values must fit 1 signed byte\(s\) \[-128, 127\]$"):
        encode_beats(np.array([128]), 1, last=True)


def test_encode_load_and_decoders():
    assert encode_load(b"\x01\x02") == b"L\x02\x00\x00\x00\x01\x02"
    assert decode_beat(b"\xa3\xfe\xff") == (-2, True, True)
    assert decode_beat(b"\xa0\x05") == (5, False, False)
    with pytest.raises(ProtocolError, match="line out of step"):
        decode_beat(b"\x3f\x00")
    assert decode_counters(b"c" + (7).to_bytes(4, "little") + (3).to_bytes(4, "little") + (1).to_bytes(4, "little")) == {
        "step_cycles": 7, "head_cycles": 3, "sat_count": 1}
    ident = Identity.decode(bytes([0x68, 1, 1, 2, 0b0101, 9, 8, 0, 32, 0, 10, 0]))
    assert (ident.s_bytes, ident.m_bytes, ident.runtime_weights, ident.load_ok, ident.fifo_bytes) == (1, 2, True, True, 512)
    assert not ident.rom_ok and Identity.decode(bytes([0x68, 1, 1, 2, 0b10000, 9, 8, 0, 32, 0, 10, 0])).rom_ok
    assert (ident.input_size, ident.hidden_size, ident.classes, ident.overrun, ident.load_err) == (8, 32, 10, False, False)


def test_port_that_does_not_open_is_one_line():
    with pytest.raises(BoardError, match=r"^serial port must open, but '/nonexistent/tty' did not: "):
        Board("/nonexistent/tty")


def test_board_that_does_not_answer_is_one_line():
    master, slave = os.openpty()
    try:
        with Board(os.ttyname(slave), timeout=0.2) as b:
            with pytest.raises(BoardError, match=r"^the board on /dev/pts/\d+ must answer the identity \(1 bytes\) within 0.2 s, but sent 0"):
                b.identify()
        assert os.read(master, 1) == b"I"  # what the driver wrote reached the line
    finally:
        os.close(master)
        os.close(slave)


def test_board_run_cli_errors_are_one_line(tmp_path):
    from helpers import make_model

    from hwsim.cli import main
    from hwsim.datapath._config import DatapathConfig
    from hwsim.export import write_export
    from hwsim.model._quant import quantize_model

    out = tmp_path / "exp"
    write_export(quantize_model(make_model("gru", 3, 5, 1, 3, seed=3), "ternary"), out, DatapathConfig(), formats="hex")
    r = CliRunner().invoke(main, ["board-run", str(out), "--port", "/nonexistent/tty"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert r.output.startswith("Error: serial port must open, but '/nonexistent/tty' did not")
    master, slave = os.openpty()
    try:
        r = CliRunner().invoke(main, ["board-run", str(out), "--port", os.ttyname(slave), "--timeout", "0.2"])
    finally:
        os.close(master)
        os.close(slave)
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "must answer the identity" in r.output
