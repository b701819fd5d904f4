"""The Numba simulator against its plain-Python twin (tests/naive.py), exactly.

Hypothesis draws the contract (formats, rounding, overflow, activation unit, LUT geometry), the
model (cell, layers, sizes, code method and width, scales, biases, head) and integer inputs over
the whole x range, so saturation and wrap-around are exercised; kernel and twin must agree on
every integer and every saturation count. Run with NUMBA_DISABLE_JIT=1 HYPOTHESIS_PROFILE=nojit to
cover the kernel bodies as Python.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

import naive
from hwsim.datapath._config import HEAD_FIELDS, LAYER_FIELDS, ROUNDINGS, ConfigError, DatapathConfig, FixedFormat, Override
from hwsim.datapath._fixed import quantize_float, to_float
from hwsim.datapath._plan import lower
from hwsim.sim._reference import float_forward
from hwsim.sim._sim import FixedResult, SimResult, narrow_ok, node_names, run_fixed, simulate

CELLS = ("rnn_tanh", "rnn_relu", "gru", "lstm")
SIZES = (1, 2, 3, 5, 7, 11)  # size 1, primes, non-powers of two


@st.composite
def fmt(draw, bits=(2, 20), frac_min=0, int_min=1):
    b = draw(st.integers(max(bits[0], frac_min + int_min), bits[1]))
    return FixedFormat(b, draw(st.integers(frac_min, b - int_min)))


@st.composite
def configs(draw, *, narrow: bool | None = None):
    """A valid contract; ``narrow=True`` keeps x and h within 16 bits (the int16 kernel path)."""
    wide = 16 if narrow else 22
    activation = draw(st.sampled_from(["lut", "pwl"]))
    pwl = activation == "pwl"
    pre = draw(fmt(bits=(4, 20), frac_min=3 if pwl else 0))
    act = draw(fmt(bits=(3, 20), frac_min=5 if pwl else 0, int_min=2))
    sr, tr = draw(st.integers(0, 4)), draw(st.integers(0, 3))
    lut_bits = draw(st.integers(1, max(1, min(10, pre.frac + min(sr, tr) + 1))))
    return DatapathConfig(
        x=draw(fmt(bits=(2, wide))),
        h=draw(fmt(bits=(2, wide))),
        c=draw(fmt(bits=(2, 24))),
        pre=pre,
        act=act,
        out=draw(fmt(bits=(2, 20))),
        rounding=draw(st.sampled_from(ROUNDINGS)),
        overflow=draw(st.sampled_from(["saturate", "wrap"])),
        activation=activation,
        lut_bits=lut_bits,
        sigmoid_range_log2=sr,
        tanh_range_log2=tr,
        bias_int_bits=draw(st.integers(0, 6)),
    )


@st.composite
def mixed(draw, cfg: DatapathConfig, layers: int, *, narrow: bool | None = None) -> DatapathConfig:
    """``cfg`` with per-layer precision: each layer keeps the global contract, sets only its h, or sets
    every layer field from another random contract; the head may set out, rounding and overflow."""
    overrides = []
    for k in range(layers):
        kind = draw(st.sampled_from(["none", "h", "all"]))
        other = draw(configs(narrow=narrow))
        if kind != "none":
            fields = ("h",) if kind == "h" else LAYER_FIELDS
            overrides.append(Override(index=k, **{f: getattr(other, f) for f in fields}))
    head = None
    if draw(st.booleans()):
        other = draw(configs(narrow=narrow))
        head = Override(**{f: getattr(other, f) for f in HEAD_FIELDS})
    return cfg.replace(layers=tuple(overrides), head=head)


@st.composite
def cases(draw, *, narrow: bool | None = None, max_size: int = 7, max_steps: int = 5, per_layer: bool = False,
          rows: bool = False):
    """(plan, x_int, head_all_steps) for a random contract, model and input batch; ``rows``: a model
    with per-row scales (binary and ternary codes)."""
    cfg = draw(configs(narrow=narrow))
    cell = draw(st.sampled_from(CELLS))
    method = draw(st.sampled_from(["binary", "ternary"] if rows else sorted(naive.METHOD_BITS)))
    bits = draw(st.sampled_from(naive.METHOD_BITS[method]))
    if narrow:
        bits = min(bits, 8)
    sizes = [s for s in SIZES if s <= max_size]
    I, H = draw(st.sampled_from(sizes)), draw(st.sampled_from(sizes))
    layers = draw(st.integers(1, 2))
    if per_layer:
        cfg = draw(mixed(cfg, layers, narrow=narrow))
    classes = draw(st.sampled_from([None, 1, 3]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    lo = draw(st.integers(-8, 2))
    bias_bound = 2.0 ** cfg.bias_int_bits * draw(st.sampled_from([0.01, 0.3, 1.0]))
    model = naive.random_quant_model(
        rng, cell, I, H, layers, classes, method=method, bits=bits, s_range=(lo, lo + draw(st.integers(0, 4))),
        bias_bound=bias_bound * (1 - 1e-9), bias=draw(st.booleans()), row_span=draw(st.integers(1, 4)) if rows else 0,
    )  # fmt: skip
    try:
        plan = lower(model, cfg)
    except ConfigError:  # accumulator over 62 bits: the lowering refuses, nothing to simulate
        plan = None
    from hypothesis import assume

    assume(plan is not None)
    N, T = draw(st.integers(1, 3)), draw(st.integers(0, max_steps))
    # Inputs over the whole x range, or small ones; either way some cases saturate downstream.
    span = draw(st.sampled_from([cfg.x.max_int, max(1, cfg.x.max_int >> 3)]))
    x_int = rng.integers(-span - 1, span + 1, size=(N, T, I)).clip(cfg.x.min_int, cfg.x.max_int)
    return plan, x_int, draw(st.booleans())


def assert_same(plan, x_int, head_all_steps):
    sim = simulate(plan, x_int, record_gates=True, head_all_steps=head_all_steps)
    ref = naive.simulate(plan, x_int, head_all_steps=head_all_steps)
    for k in range(len(plan.layers)):
        assert_array_equal(sim.h_layers_int[k], ref["h_layers"][k], err_msg=f"h of layer {k}")
        if plan.cell == "lstm":
            assert_array_equal(sim.c_layers_int[k], ref["c_layers"][k], err_msg=f"c of layer {k}")
        for g, v in ref["gates"][k].items():
            assert_array_equal(sim.gates_int[k][g], v, err_msg=f"gate {g} of layer {k}")
    if plan.head is None:
        assert sim.y_int is None
    else:
        assert_array_equal(sim.y_int, ref["y"], err_msg="head")
    assert sim.saturations == ref["saturations"]
    assert list(sim.saturations) == node_names(plan)
    # without recording, the int16 path takes the tile passes (int32 ones where int32_ok proves them
    # exact): the same integers again
    fast = simulate(plan, x_int, head_all_steps=head_all_steps)
    for k in range(len(plan.layers)):
        assert_array_equal(fast.h_layers_int[k], ref["h_layers"][k], err_msg=f"h of layer {k}, not recorded")
        if plan.cell == "lstm":
            assert_array_equal(fast.c_layers_int[k], ref["c_layers"][k], err_msg=f"c of layer {k}, not recorded")
    if plan.head is not None:
        assert_array_equal(fast.y_int, ref["y"], err_msg="head, not recorded")
    assert fast.saturations == ref["saturations"]
    return sim


@settings(max_examples=naive.examples(5000))
@given(cases())
def test_kernel_equals_twin(case):
    assert_same(*case)


@settings(max_examples=naive.examples(1500))
@given(cases(per_layer=True))
def test_kernel_equals_twin_per_layer_precision(case):
    """Mixed contracts: every layer (and the head) in its own formats, rounding and activation unit."""
    assert_same(*case)


@settings(max_examples=naive.examples(1500))
@given(cases(rows=True))
def test_kernel_equals_twin_per_row_scales(case):
    """Per-row scales: the simulator folds the row shifts into multipliers and biases; the twin
    requantizes each row from acc_frac + its shift. The same integers, every node."""
    assert case[0].row_scaled or case[0].head is None
    assert_same(*case)


@settings(max_examples=naive.examples(800))
@given(cases(rows=True, per_layer=True, narrow=True))
def test_kernel_equals_twin_per_row_scales_per_layer_precision(case):
    assert_same(*case)


@settings(max_examples=naive.examples(3000))
@given(cases(narrow=True))
def test_kernel_equals_twin_int16_path(case):
    """Contracts within 16 bits, where the kernel mostly takes the int16 x int16 -> int32 path."""
    assert_same(*case)


@settings(max_examples=naive.examples(1500))
@given(cases(max_size=3, max_steps=12))
def test_kernel_equals_twin_long_sequences(case):
    """Longer sequences: recurrent feedback, accumulated saturation and wrap-around."""
    assert_same(*case)


@pytest.mark.parametrize("cell", CELLS)
def test_int32_pointwise_equals_int64_and_twin(cell, monkeypatch):
    """The int32 tile passes (taken where ``int32_ok`` proves every value fits) give the integers of
    the int64 passes and of the twin, saturation counts included, on inputs that saturate."""
    from hwsim.sim import _sim as SM

    rng = np.random.default_rng(5)
    m = naive.random_quant_model(rng, cell, 6, 20, 2, 3, method="exp", bits=4)
    for cfg in (DatapathConfig(), DatapathConfig(rounding="half_even", overflow="wrap"), DatapathConfig(rounding="zero")):
        plan = lower(m, cfg)
        assert narrow_ok(plan) and all(SM.int32_ok(plan, k, plan.layer_tables(k)) for k in range(2))
        x = rng.integers(cfg.x.min_int, cfg.x.max_int + 1, size=(37, 9, 6))
        fast = simulate(plan, x)
        ref = naive.simulate(plan, x)
        with monkeypatch.context() as mp:
            mp.setattr(SM, "int32_ok", lambda *a: False)
            wide = simulate(plan, x)
        for k in range(2):
            assert_array_equal(fast.h_layers_int[k], ref["h_layers"][k])
            assert_array_equal(wide.h_layers_int[k], ref["h_layers"][k])
        assert fast.saturations == wide.saturations == ref["saturations"]
        assert sum(ref["saturations"].values()) > 0


def test_int32_ok_refuses_what_int32_cannot_hold():
    from hwsim.sim._sim import int32_ok

    rng = np.random.default_rng(0)
    m = naive.random_quant_model(rng, "gru", 5, 7, 1, 3, method="exp", bits=4)
    plan = lower(m, DatapathConfig())
    big = lower(m, DatapathConfig(act=FixedFormat(24, 22)))  # (ONE - z) * n needs 2**44
    assert int32_ok(plan, 0, plan.layer_tables(0)) and not int32_ok(big, 0, big.layer_tables(0))


def test_both_kernel_paths_are_exercised():
    """The int16 path is taken for narrow contracts and the int64 path otherwise."""
    rng = np.random.default_rng(0)
    m = naive.random_quant_model(rng, "gru", 5, 7, 1, 3, method="ternary", bits=2)
    assert narrow_ok(lower(m, DatapathConfig()))
    assert not narrow_ok(lower(m, DatapathConfig(h=FixedFormat(20, 16))))
    wide = naive.random_quant_model(rng, "gru", 5, 7, 1, 3, method="uniform", bits=16)
    assert not narrow_ok(lower(wide, DatapathConfig()))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("method,bits", [("binary", 1), ("ternary", 2), ("exp", 4), ("uniform", 6)])
def test_saturating_inputs_are_counted_and_equal(cell, method, bits):
    """Full-scale inputs and large biases drive every node out of range at least somewhere."""
    rng = np.random.default_rng(1)
    cfg = DatapathConfig(pre=FixedFormat(8, 4), h=FixedFormat(8, 6), c=FixedFormat(8, 5), x=FixedFormat(8, 2), lut_bits=6)
    model = naive.random_quant_model(rng, cell, 7, 5, 2, 3, method=method, bits=bits, s_range=(0, 1), bias_bound=31.0)
    plan = lower(model, cfg)
    x_int = rng.choice([cfg.x.min_int, cfg.x.max_int], size=(3, 6, 7))
    sim = assert_same(plan, x_int, False)
    assert sim.saturations["l0.pre_" + plan.layers[0].accums[0].name] > 0


def test_worked_example_in_docs():
    """docs/datapath.md, "Worked example (bits)": acc 27034, pre 845, LUT index 538, r = 9864."""
    from hwsim.model._model import Layer, QuantSpec, RNNModel

    w_ih = np.zeros((3, 1))
    w_hh = np.zeros((3, 1))
    w_ih[0, 0], w_hh[0, 0] = 0.25, -0.25  # r-gate row: +0.25 on x, -0.25 on h
    b_ih = np.array([0.1, 0.0, 0.0])
    model = RNNModel(
        "gru", (Layer(w_ih, w_hh, b_ih, np.zeros(3)),), None,
        QuantSpec("ternary", 2, {"weight_ih_l0": -2, "weight_hh_l0": -2}),
    )  # fmt: skip
    plan = lower(model, DatapathConfig())
    lp = plan.layers[0]
    assert (lp.acc_frac, lp.shift_in, lp.shift_rec) == (16, 2, 0)
    r = lp.accums[0]
    assert r.name == "r" and int(r.bias[0]) == 6554
    x, h = 3072, -8192  # 0.75 in s16.12, -0.5 in s16.14
    acc = int(r.bias[0]) + ((int(r.m[0, 0]) * x) << lp.shift_in) + ((int(r.m[0, 1]) * h) << lp.shift_rec)
    assert acc == 27034
    pre, _ = naive.requant(acc, lp.acc_frac, plan.config.pre, "half_up", "saturate")
    assert pre == 845
    assert (pre + 8 * 2**11) >> (11 + 3 + 1 - 10) == 538
    assert naive.sigmoid(pre, plan) == plan.sigmoid_table[538] == 9864
    # The kernel's own requant and LUT address give the same bits.
    from hwsim.sim import _kernels as K

    assert K.requant(acc, 16, 16, 11, 1, 0) == (845, 0)
    assert K.lut_index(845, 3, 11, 5) == 538


def test_head_all_steps_matches_last_step():
    rng = np.random.default_rng(2)
    plan = lower(naive.random_quant_model(rng, "lstm", 3, 5, 2, 4), DatapathConfig())
    x_int = rng.integers(-4096, 4096, size=(2, 6, 3))
    last = simulate(plan, x_int)
    every = simulate(plan, x_int, head_all_steps=True)
    assert every.y_int.shape == (2, 6, 4)
    assert_array_equal(every.y_int[:, -1], last.y_int)
    assert_array_equal(every.h_int, last.h_int)


def test_zero_steps_gives_empty_states_and_the_bias_head():
    rng = np.random.default_rng(3)
    plan = lower(naive.random_quant_model(rng, "gru", 3, 5, 1, 2), DatapathConfig())
    sim = simulate(plan, np.zeros((2, 0, 3), np.int64))
    assert sim.h_int.shape == (2, 0, 5)
    assert_array_equal(sim.y_int, naive.simulate(plan, np.zeros((2, 0, 3), np.int64))["y"])


def test_simulate_rejects_bad_inputs():
    rng = np.random.default_rng(4)
    plan = lower(naive.random_quant_model(rng, "gru", 3, 5, 1, 2), DatapathConfig())
    with pytest.raises(ValueError, match=r"^x_int must have shape \(N, T, 3\), not \(2, 3\)$"):
        simulate(plan, np.zeros((2, 3), np.int64))
    with pytest.raises(TypeError, match=r"^x_int must be an integer array, not dtype float64$"):
        simulate(plan, np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match=r"^x_int must lie in the x format s16\.12 range \[-32768, 32767\], not \[40000, 40000\]$"):
        simulate(plan, np.full((1, 2, 3), 40000))
    with pytest.raises(TypeError, match=r"^plan must be a Plan \(from hwsim\.lower\), not dict$"):
        simulate({}, np.zeros((1, 2, 3), np.int64))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64])
def test_every_integer_input_dtype_gives_the_same_result(dtype):
    """The int16 path checks and converts the input in one kernel pass for the dtypes it reads
    exactly, and with NumPy for the rest (uint64); every dtype gives the int64 input's integers, on
    an odd input width (the operand pairs are padded) and a non-contiguous input."""
    rng = np.random.default_rng(8)
    cfg = DatapathConfig(x=FixedFormat(8, 4))
    plan = lower(naive.random_quant_model(rng, "gru", 3, 5, 1, 2), cfg)
    assert narrow_ok(plan)
    lo = 0 if np.dtype(dtype).kind == "u" else cfg.x.min_int
    x = rng.integers(lo, cfg.x.max_int + 1, size=(7, 4, 6))[:, :, ::2]  # (7, 4, 3), strided
    want = naive.simulate(plan, x.astype(np.int64))
    got = simulate(plan, x if dtype == np.int64 else x.astype(dtype))
    assert_array_equal(got.h_int, want["h_layers"][-1])
    assert_array_equal(got.y_int, want["y"])
    if dtype == np.int8:  # holds no value outside s8.4
        return
    x[3, 2, 1] = cfg.x.max_int + 1  # one value out of range, on either branch
    with pytest.raises(ValueError, match=r"^x_int must lie in the x format s8\.4 range \[-128, 127\], not \[-?\d+, 128\]$"):
        simulate(plan, x.astype(dtype))


def test_run_fixed_quantizes_counts_x_and_dequantizes():
    rng = np.random.default_rng(5)
    model = naive.random_quant_model(rng, "rnn_tanh", 3, 5, 1, 2)
    cfg = DatapathConfig()
    x = rng.normal(size=(2, 4, 3)) * 3
    x[0, 0, 0] = 100.0  # beyond s16.12's +8: saturates at node x
    res = run_fixed(model, x, cfg, record_gates=True)
    assert isinstance(res, FixedResult) and isinstance(res.sim, SimResult)
    x_int, out = quantize_float(x, cfg.x, cfg.rounding, cfg.overflow)
    assert res.saturations["x"] == int(out.sum()) == 1
    assert_array_equal(res.h_int, simulate(res.plan, x_int).h_int)
    assert_array_equal(res.h, to_float(res.h_int, cfg.h.frac))
    assert_array_equal(res.y, to_float(res.y_int, cfg.out.frac))
    assert_array_equal(res.gates[0]["a"], to_float(res.sim.gates_int[0]["a"], cfg.act.frac))
    with pytest.raises(ValueError, match=r"^x must be finite, but 1 values are NaN or inf$"):
        run_fixed(model, np.where(x == 100.0, np.nan, x), cfg)


def _sweep_model(cell):
    """A quantized model (exp, 4-bit) with biases small enough for every contract in the sweep."""
    return naive.random_quant_model(np.random.default_rng(6), cell, 4, 6, 2, 3, s_range=(-8, -7), bias_bound=0.5)


@pytest.mark.parametrize("cell", CELLS)
def test_error_vs_float_shrinks_as_fraction_bits_grow(cell):
    """Widening every format (and the LUT with it) converges to the float reference on the same
    quantized weights: the max error of h and y falls with the fraction bits."""
    model = _sweep_model(cell)
    x = np.random.default_rng(7).uniform(-1, 1, size=(8, 10, 4))
    ref = float_forward(model, x)
    errs = []
    for f in (6, 9, 12, 15):
        cfg = DatapathConfig(
            x=FixedFormat(f + 4, f), h=FixedFormat(f + 4, f), c=FixedFormat(f + 6, f), pre=FixedFormat(f + 6, f),
            act=FixedFormat(f + 3, f), out=FixedFormat(f + 6, f), lut_bits=min(16, f + 3), rounding="half_even", sigmoid_range_log2=4, tanh_range_log2=3,
        )  # fmt: skip
        res = run_fixed(model, x, cfg)
        assert sum(res.saturations.values()) == 0
        errs.append(max(np.abs(res.h - ref.h).max(), np.abs(res.y - ref.y).max()))
    assert all(b < a for a, b in zip(errs, errs[1:])), errs
    assert errs[-1] < errs[0] / 30, errs
