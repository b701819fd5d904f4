"""One pytest function per RTL block, parametrized over configurations (ids from the parameters)."""

from __future__ import annotations

import pytest

from rtl_util import needs_icarus, run_block

pytestmark = [pytest.mark.rtl, needs_icarus]

# (IN_W, FROM_FRAC, OUT_BITS, OUT_FRAC): right shifts of 1 and many bits, exact left shift, equal
REQUANT = [(24, 16, 16, 11), (12, 5, 8, 4), (10, 3, 16, 8), (9, 4, 9, 4), (40, 33, 6, 3)]


@pytest.mark.parametrize("overflow", [0, 1], ids=["saturate", "wrap"])
@pytest.mark.parametrize("rounding", [0, 1, 2, 3], ids=["floor", "half_up", "half_even", "zero"])
@pytest.mark.parametrize("shape", REQUANT, ids=[f"in{a}f{b}-s{c}.{d}" for a, b, c, d in REQUANT])
def test_requant(shape, rounding, overflow, tmp_path):
    in_w, ff, ob, of = shape
    run_block("hwsim_requant", ["hwsim_requant.v"],
              dict(IN_W=in_w, FROM_FRAC=ff, OUT_BITS=ob, OUT_FRAC=of, ROUND_MODE=rounding, OVERFLOW_MODE=overflow),
              "tb_blocks", tmp_path, env={"COCOTB_TEST_FILTER": "requant_block"})


LANES = [(0, 1, 8, 12), (1, 2, 8, 12), (2, 2, 6, 12), (2, 4, 7, 20), (2, 6, 5, 40), (3, 2, 8, 12), (3, 8, 9, 20),
         (3, 16, 4, 24)]


@pytest.mark.parametrize("p", LANES, ids=[f"{('binary', 'ternary', 'exp', 'uniform')[k]}{b}-v{v}" for k, b, v, _ in LANES])
def test_lane(p, tmp_path):
    kind, b, vb, ow = p
    run_block("hwsim_lane", ["hwsim_lane.v"], dict(KIND=kind, CODE_BITS=b, V_BITS=vb, OUT_W=ow),
              "tb_blocks", tmp_path, env={"COCOTB_TEST_FILTER": "lane_block"})


# (AW, BW): the GRU's r*p_nh, (1-z)*n, the widest the DSP primitive takes, the LSTM's f*c (too wide:
# plain registers even on ECP5)
MULS = [(16, 16), (17, 16), (18, 18), (16, 20), (2, 3)]


@pytest.mark.parametrize("stages", [1, 2], ids=["s1", "s2"])
@pytest.mark.parametrize("family", ["generic", "ecp5", "ice40"])
@pytest.mark.parametrize("shape", MULS, ids=[f"{a}x{b}" for a, b in MULS])
def test_mul(shape, family, stages, tmp_path):
    """hwsim_mul: the product STAGES cycles after its operands, the same with the ECP5 MULT18X18D (its
    input and output registers on; hwsim's model of the primitive) and the iCE40 SB_MAC16 (yosys's
    own model) as with plain registers."""
    from hwsim.hdl._simulators import yosys_datdir

    aw, bw = shape
    extra, defines, block = [], None, "g_regs"
    if family == "ecp5":
        extra, defines = ["sim/MULT18X18D.v"], {"HWSIM_ECP5": 1}
        block = "g_dsp" if aw <= 18 and bw <= 18 else block
    elif family == "ice40":
        extra, defines = [str(yosys_datdir() / "ice40" / "cells_sim.v")], {"HWSIM_ICE40": 1, "NO_ICE40_DEFAULT_ASSIGNMENTS": 1}
        block = "g_mac" if aw <= 16 and bw <= 16 else block
    run_block("hwsim_mul", ["hwsim_mul.v", *extra], dict(AW=aw, BW=bw, STAGES=stages), "tb_blocks", tmp_path,
              env={"COCOTB_TEST_FILTER": "mul_block", "HWSIM_EXPECT_BLOCK": block}, defines=defines)


# (FUNC, ACT_KIND, pre, act, LUT_BITS, RANGE_LOG2, NP read ports, PPR ports per table copy): one
# port; three ports on two dual-read copies; three ports each on its own copy (iCE40)
ACTS = [(0, 0, 10, 5, 12, 9, 6, 3, 1, 2), (1, 0, 10, 5, 12, 9, 6, 2, 3, 2), (0, 1, 10, 5, 12, 9, 0, 0, 1, 2),
        (1, 1, 10, 5, 12, 9, 0, 0, 2, 2), (1, 0, 9, 6, 8, 6, 7, 1, 3, 1), (0, 1, 8, 3, 10, 5, 0, 0, 1, 1)]


@pytest.mark.parametrize("p", ACTS, ids=[f"{('sigmoid', 'tanh')[f]}-{('lut', 'pwl')[k]}-s{pb}.{pf}-s{ab}.{af}-lut{lb}r{r}-np{n}x{q}"
                                         for f, k, pb, pf, ab, af, lb, r, n, q in ACTS])
def test_act(p, tmp_path):
    from hwsim.datapath._activation import lut_table
    from hwsim.datapath._config import DatapathConfig, FixedFormat
    from hwsim.export._formats import format_words
    from hwsim.export._pack import pack_ints

    func, kind, pb, pf, ab, af, lb, r, n_p, ppr = p
    params = dict(FUNC=func, ACT_KIND=kind, PRE_BITS=pb, PRE_FRAC=pf, ACT_BITS=ab, ACT_FRAC=af,
                  LUT_BITS=max(lb, 1), RANGE_LOG2=r, NP=n_p, PPR=ppr)
    if kind == 0:
        cfg = DatapathConfig(pre=FixedFormat(pb, pf), act=FixedFormat(ab, af), lut_bits=lb,
                             sigmoid_range_log2=r, tanh_range_log2=r)
        table = lut_table(("sigmoid", "tanh")[func], cfg)
        f = tmp_path / "lut.hex"
        f.write_bytes(format_words(pack_ints(table, ab), ab, "hex"))
        params["LUT_FILE"] = str(f)
    run_block("hwsim_act", ["hwsim_act.v"], params, "tb_blocks", tmp_path, env={"COCOTB_TEST_FILTER": "act_block"})
