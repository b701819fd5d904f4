"""cocotb testbench of the generated top's AXI4-Stream ports with cocotbext-axi and random stalls.

Reads the stimulus and the simulator's expected values from the .npz named by HWSIM_AXIS_CASE:
``x`` (N, T, I), ``h`` (N, T, H) last layer, ``y`` (N, C) or empty.
"""

from __future__ import annotations

import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


@cocotb.test()
async def axis_backpressure(dut) -> None:
    case = np.load(os.environ["HWSIM_AXIS_CASE"])
    x, h, y = case["x"], case["h"], case["y"]
    s_w, m_w = len(dut.s_axis_tdata), len(dut.m_axis_tdata)
    cocotb.start_soon(Clock(dut.clk, 10, "ns").start())
    src = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst, byte_size=s_w)  # one element a beat
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst, byte_size=m_w)
    rnd = random.Random(7)
    src.set_pause_generator(iter(lambda: rnd.random() < 0.3, None))
    sink.set_pause_generator(iter(lambda: rnd.random() < 0.5, None))
    dut.rst.value = 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    for seq in x:
        await src.send(AxiStreamFrame([int(v) & ((1 << s_w) - 1) for v in seq.reshape(-1)]))
    n, t, H = h.shape
    C = y.shape[1] if y.ndim == 2 else 0
    for s in range(n):
        frame = await sink.recv()
        got = [_signed(v, m_w) for v in frame.tdata]
        user = frame.tuser if isinstance(frame.tuser, list) else [frame.tuser] * len(got)
        exp = [int(v) for v in h[s].reshape(-1)] + ([int(v) for v in y[s]] if C else [])
        assert len(got) == t * H + C, f"sequence {s}: expected {t * H + C} beats up to tlast, got {len(got)}"
        for i, (g, e) in enumerate(zip(got, exp)):
            node = "out" if i >= t * H else f"h step {i // H}"
            assert g == e, f"sequence {s}, beat {i} ({node}): expected {e}, got {g}"
        assert [int(u) for u in user] == [0] * (t * H) + [1] * C, f"sequence {s}: tuser must mark the head beats"
