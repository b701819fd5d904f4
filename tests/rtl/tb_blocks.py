"""cocotb testbenches of single blocks: driver -> golden model (hwsim's NumPy definitions) -> checker.

Widths and modes come from the DUT's parameters, so model and RTL cannot drift.
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, Timer

ROUNDINGS = ("floor", "half_up", "half_even", "zero")
OVERFLOWS = ("saturate", "wrap")
ACT_LATENCY = 2  # hwsim_act: the table read (or PWL) register, then the output register


def _p(dut, name: str) -> int:
    return int(getattr(dut, name).value)


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


@cocotb.test()
async def requant_block(dut) -> None:
    """Edge values and random values of every width through the requant, vs hwsim.datapath._fixed.requant."""
    from hwsim.datapath._config import FixedFormat
    from hwsim.datapath._fixed import requant

    in_w, ff, ob, of = _p(dut, "IN_W"), _p(dut, "FROM_FRAC"), _p(dut, "OUT_BITS"), _p(dut, "OUT_FRAC")
    rnd, ovf = ROUNDINGS[_p(dut, "ROUND_MODE")], OVERFLOWS[_p(dut, "OVERFLOW_MODE")]
    lo, hi = -(1 << (in_w - 1)), (1 << (in_w - 1)) - 1
    k = max(ff - of, 0)
    edges = {lo, lo + 1, hi, hi - 1, 0, 1, -1}
    for base in (0, 1 << k, -(1 << k), 3 << k, -(3 << k), (1 << (ob - 1 + k)), -(1 << (ob - 1 + k))):
        for d in (-(1 << max(k - 1, 0)) - 1, -(1 << max(k - 1, 0)), -1, 0, 1, (1 << max(k - 1, 0)), (1 << max(k - 1, 0)) + 1):
            edges.add(base + d)
    rng = np.random.default_rng(in_w * 131 + ff)
    vals = sorted(v for v in edges if lo <= v <= hi) + [int(v) for v in rng.integers(lo, hi, size=300, endpoint=True)]
    exp, oor = requant(np.array(vals, dtype=np.int64), ff, FixedFormat(ob, of), rnd, ovf)
    for v, e, o in zip(vals, exp, oor):
        dut.din.value = v & ((1 << in_w) - 1)
        await Timer(1, "ns")
        got = _signed(int(dut.dout.value), ob)
        assert got == int(e), f"requant({v}) {rnd}/{ovf}: expected {int(e)}, got {got}"
        assert int(dut.oor.value) == int(o), f"requant({v}): out-of-range flag expected {int(o)}"


@cocotb.test()
async def lane_block(dut) -> None:
    """Every code times edge and random operands, vs WeightCodec.decode (never-written codes skipped)."""
    from hwsim.model._codes import WeightCodec

    kinds = ("binary", "ternary", "exp", "uniform")
    kind, b, vb, ow = kinds[_p(dut, "KIND")], _p(dut, "CODE_BITS"), _p(dut, "V_BITS"), _p(dut, "OUT_W")
    codec = WeightCodec(kind, b)
    valid = {c for c, _ in codec.table()}
    rng = np.random.default_rng(b * 7 + vb)
    vs = [-(1 << (vb - 1)), (1 << (vb - 1)) - 1, 0, 1, -1] + [int(v) for v in rng.integers(-(1 << (vb - 1)), 1 << (vb - 1), size=12)]
    for code in range(1 << b):
        if code not in valid:
            continue
        m = int(codec.decode(np.array([code]))[0])
        for v in vs:
            dut.code.value = code
            dut.v.value = v & ((1 << vb) - 1)
            dut.vn.value = -v & ((1 << (vb + 1)) - 1)  # the negated operand, registered upstream
            await Timer(1, "ns")
            got = _signed(int(dut.p.value), ow)
            assert got == m * v, f"{kind} code {code:#x} (m = {m}) times {v}: expected {m * v}, got {got}"


@cocotb.test()
async def mul_block(dut) -> None:
    """A new operand pair every cycle (extremes, then random); p is their product STAGES cycles later."""
    import os

    aw, bw, pw, stages = _p(dut, "AW"), _p(dut, "BW"), _p(dut, "PW"), _p(dut, "STAGES")
    block = os.environ.get("HWSIM_EXPECT_BLOCK", "g_regs")  # the primitive, or the plain registers
    assert hasattr(dut, block), f"hwsim_mul built without its {block} branch"
    assert not any(hasattr(dut, b) for b in ("g_dsp", "g_mac", "g_regs") if b != block)
    ea, eb = (-(1 << (aw - 1)), (1 << (aw - 1)) - 1, 0, 1, -1), (-(1 << (bw - 1)), (1 << (bw - 1)) - 1, 0, 1, -1)
    rng = np.random.default_rng(aw * 64 + bw)
    pairs = [(a, b) for a in ea for b in eb] + [
        (int(a), int(b)) for a, b in zip(rng.integers(ea[0], ea[1], 200, endpoint=True), rng.integers(eb[0], eb[1], 200, endpoint=True))]
    dut.a.value = 0
    dut.b.value = 0
    cocotb.start_soon(Clock(dut.clk, 10, "ns").start())
    for _ in range(3):  # registers out of their power-up x; drive between edges from here on
        await RisingEdge(dut.clk)
    await Timer(1, "ns")
    sent = []
    lag = stages - 1  # edges between the first register taking the pair and the product register
    for i in range(len(pairs) + lag):
        if i < len(pairs):  # held through the cycle before edge i: the first register takes it at edge i
            dut.a.value = pairs[i][0] & ((1 << aw) - 1)
            dut.b.value = pairs[i][1] & ((1 << bw) - 1)
        await RisingEdge(dut.clk)
        sent.append(pairs[min(i, len(pairs) - 1)])
        await Timer(1, "ns")
        if i >= lag:  # the pair taken at edge i - lag, its product registered at edge i
            a, b = sent[i - lag]
            got = _signed(int(dut.p.value), pw)
            assert got == a * b, f"{a} * {b} (cycle {i}): expected {a * b}, got {got}"


@cocotb.test()
async def act_block(dut) -> None:
    """Every pre-format input through the activation unit, vs hwsim.datapath._activation (LUT or PWL)."""
    from hwsim.datapath._activation import lut_eval, pwl_eval
    from hwsim.datapath._config import DatapathConfig, FixedFormat

    func = ("sigmoid", "tanh")[_p(dut, "FUNC")]
    pb, pf, ab, af = _p(dut, "PRE_BITS"), _p(dut, "PRE_FRAC"), _p(dut, "ACT_BITS"), _p(dut, "ACT_FRAC")
    lut = _p(dut, "ACT_KIND") == 0
    r = _p(dut, "RANGE_LOG2")
    cfg = DatapathConfig(pre=FixedFormat(pb, pf), act=FixedFormat(ab, af), lut_bits=_p(dut, "LUT_BITS"),
                         sigmoid_range_log2=r, tanh_range_log2=r, activation="lut" if lut else "pwl")
    xs = np.arange(-(1 << (pb - 1)), 1 << (pb - 1), dtype=np.int64)
    exp = lut_eval(xs, func, cfg) if lut else pwl_eval(xs, func, cfg)
    # NP ports share the table (PPR readers a copy); port q sees the inputs rotated by q * 7919 (a
    # prime), so ports that share a block RAM read different words in the same cycle
    n_p = _p(dut, "NP")
    order = [np.roll(np.arange(len(xs)), -q * 7919) for q in range(n_p)]
    mask = (1 << pb) - 1

    def drive(i: int) -> None:
        dut.x_flat.value = sum((int(xs[order[q][i]]) & mask) << (q * pb) for q in range(n_p))

    drive(0)
    cocotb.start_soon(Clock(dut.clk, 10, "ns").start())
    await Timer(2, "ns")  # the first edge at t = 0 sampled an undriven input
    # a new input every cycle; y follows x by ACT_LATENCY edges (table read, output register)
    checked = 0
    for i in range(len(xs) + ACT_LATENCY - 1):
        if i < len(xs):
            drive(i)
        await RisingEdge(dut.clk)
        await Timer(1, "ns")
        j = i - (ACT_LATENCY - 1)
        if j >= 0:
            y = int(dut.y_flat.value)
            for q in range(n_p):
                k = order[q][j]
                got = _signed(y >> (q * ab), ab)
                assert got == int(exp[k]), f"port {q}: {func}({int(xs[k])}) ({'lut' if lut else 'pwl'}): expected {int(exp[k])}, got {got}"
            checked += 1
    assert checked == len(xs)
