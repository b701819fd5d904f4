"""cocotb testbench of the run-time weight port (docs/rtl.md, "Run-time weights").

Reads HWSIM_LOAD_CASE (.npz): ``good`` (the image of a second model), ``x`` (N, T, I) inputs and
that model's simulated last-layer ``h`` (N, T, H) and head ``y`` (N, C). Drives the load port with
images that must be refused (a wrong header: nothing written; a corrupt body: weights invalid, no
step starts), then the good image, then checks every output of the sequences bit for bit.
"""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


async def _load(dut, src, image: bytes) -> tuple[int, int]:
    await src.send(AxiStreamFrame(list(image)))
    await src.wait()
    for _ in range(4):
        await RisingEdge(dut.clk)
    await ReadOnly()
    return int(dut.load_ok.value), int(dut.load_err.value)


@cocotb.test()
async def load_port(dut) -> None:
    case = np.load(os.environ["HWSIM_LOAD_CASE"])
    good = bytes(case["good"].tolist())
    x, h, y = case["x"], case["h"], case["y"]
    s_w, m_w = len(dut.s_axis_tdata), len(dut.m_axis_tdata)
    cocotb.start_soon(Clock(dut.clk, 10, "ns").start())
    load = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_load"), dut.clk, dut.rst)
    src = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst, byte_size=s_w)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst, byte_size=m_w)
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await ReadOnly()
    assert (int(dut.load_ok.value), int(dut.load_err.value)) == (1, 0), "after configuration: the memory files"

    # a wrong design hash (another shape or contract): refused in the header, nothing written
    bad_hdr = bytearray(good)
    bad_hdr[8] ^= 0x01
    assert await _load(dut, load, bytes(bad_hdr)) == (1, 1), "a wrong header must be refused, weights kept"
    bad_magic = bytearray(good)
    bad_magic[0] = 0
    assert await _load(dut, load, bytes(bad_magic)) == (1, 1), "a wrong magic must be refused"
    # a corrupt body: written, then the CRC fails -> weights invalid, no step starts
    bad_body = bytearray(good)
    bad_body[16 + (len(good) - 20) // 2] ^= 0x10
    assert await _load(dut, load, bytes(bad_body)) == (0, 1), "a corrupt body must set load_err and drop load_ok"
    # a truncated image: tlast early
    assert await _load(dut, load, good[: len(good) - 3]) == (0, 1), "a short image must be refused"
    for _ in range(5):
        await RisingEdge(dut.clk)
        await ReadOnly()
        assert int(dut.s_axis_tready.value) == 0, "no step may start on half-written weights"
    await RisingEdge(dut.clk)
    # the good image: accepted
    assert await _load(dut, load, good) == (1, 0), "the good image must be accepted"

    for seq in x:
        await src.send(AxiStreamFrame([int(v) & ((1 << s_w) - 1) for v in seq.reshape(-1)]))
    n, t, H = h.shape
    C = y.shape[1] if y.ndim == 2 else 0
    for s in range(n):
        frame = await sink.recv()
        got = [_signed(v, m_w) for v in frame.tdata]
        exp = [int(v) for v in h[s].reshape(-1)] + ([int(v) for v in y[s]] if C else [])
        assert got == exp, f"sequence {s}: RTL {got} != simulator {exp}"
