"""Lowering (hwsim.datapath._plan.lower): the numbers docs/datapath.md derives, and the refusals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

import naive
from hwsim.datapath._config import ConfigError, DatapathConfig, FixedFormat
from hwsim._errors import QuantError
from hwsim.datapath._plan import lower
from hwsim.model._quant import decode_model_codes


@settings(max_examples=naive.examples(150))
@given(
    cell=st.sampled_from(["rnn_tanh", "gru", "lstm"]),
    method=st.sampled_from(sorted(naive.METHOD_BITS)),
    lo=st.integers(-10, 3),
    span=st.integers(0, 5),
    xf=st.integers(0, 15),
    hf=st.integers(0, 15),
    seed=st.integers(0, 2**16),
)
def test_shifts_and_accumulator_width(cell, method, lo, span, xf, hf, seed):
    """acc_frac = max(U.frac - s_in, h.frac - s_rec, pre.frac), shifts >= 0, and acc_bits holds the
    worst case: every |m| at the codec's maximum, every input at the format's most negative value,
    both biases at the bias bound."""
    rng = np.random.default_rng(seed)
    bits = {"binary": 1, "ternary": 2, "exp": 4, "uniform": 8}[method]
    model = naive.random_quant_model(rng, cell, 3, 5, 2, 2, method=method, bits=bits, s_range=(lo, lo + span))
    cfg = DatapathConfig(x=FixedFormat(16, xf), h=FixedFormat(16, hf))
    plan = lower(model, cfg)
    codes = decode_model_codes(model)
    for lp in plan.layers:
        s_in, s_rec = codes[f"weight_ih_l{lp.index}"][1], codes[f"weight_hh_l{lp.index}"][1]
        assert (lp.s_in, lp.s_rec) == (s_in, s_rec)
        assert lp.acc_frac == max(lp.in_fmt.frac - s_in, cfg.h.frac - s_rec, cfg.pre.frac)
        assert lp.shift_in == lp.acc_frac - lp.in_fmt.frac + s_in >= 0
        assert lp.shift_rec == lp.acc_frac - cfg.h.frac + s_rec >= 0
        M = plan.codec.m_max
        worst = sum(
            (M * 2 ** (lp.in_fmt.bits - 1)) << lp.shift_in for _ in range(max(a.n_in for a in lp.accums))
        ) + sum((M * 2 ** (cfg.h.bits - 1)) << lp.shift_rec for _ in range(max(a.n_rec for a in lp.accums)))
        worst += 2 * (2**cfg.bias_int_bits << lp.acc_frac)
        assert worst < 2 ** (lp.acc_bits - 1) <= 2 * worst  # fits, and no wider than one spare bit


def test_gru_accumulations_split_the_candidate():
    rng = np.random.default_rng(0)
    model = naive.random_quant_model(rng, "gru", 3, 4, 1, None, method="ternary", bits=2)
    plan = lower(model, DatapathConfig())
    acc = {a.name: a for a in plan.layers[0].accums}
    assert list(acc) == ["r", "z", "n_x", "n_h"]
    m_ih, _ = decode_model_codes(model)["weight_ih_l0"]
    m_hh, _ = decode_model_codes(model)["weight_hh_l0"]
    assert (acc["n_x"].n_in, acc["n_x"].n_rec, acc["n_h"].n_in, acc["n_h"].n_rec) == (3, 0, 0, 4)
    assert_array_equal(acc["n_x"].m, m_ih[8:])
    assert_array_equal(acc["n_h"].m, m_hh[8:])
    assert_array_equal(acc["z"].m, np.concatenate([m_ih[4:8], m_hh[4:8]], axis=1))
    af = plan.layers[0].acc_frac
    layer = model.layers[0]
    assert_array_equal(acc["n_x"].bias, np.rint(layer.b_ih[8:] * 2.0**af))
    assert_array_equal(acc["n_h"].bias, np.rint(layer.b_hh[8:] * 2.0**af))
    assert_array_equal(acc["r"].bias, np.rint(layer.b_ih[:4] * 2.0**af) + np.rint(layer.b_hh[:4] * 2.0**af))


def test_lower_refuses_biases_outside_the_contract():
    rng = np.random.default_rng(1)
    model = naive.random_quant_model(rng, "rnn_tanh", 2, 3, 1, None)
    b = model.layers[0].b_hh.copy()
    b[2] = 40.0
    bad = dataclasses.replace(model, layers=(dataclasses.replace(model.layers[0], b_hh=b),))
    with pytest.raises(ConfigError, match=r"^bias 'bias_hh_l0'\[2\] = 40 must lie in \[-32, 32\) \(bias_int_bits = 5\)$"):
        lower(bad, DatapathConfig())


def test_lower_refuses_float_models_and_too_wide_accumulators(make_model):
    with pytest.raises(QuantError, match=r"^the fixed-point datapath needs a quantized model"):
        lower(make_model("gru", 3, 4, 1, 2), DatapathConfig())
    rng = np.random.default_rng(2)
    model = naive.random_quant_model(rng, "gru", 3, 4, 1, None, method="exp", bits=6, s_range=(-60, -60), bias=False)
    with pytest.raises(ConfigError, match=r"^layer 0 accumulator needs \d+ bits, at most 62 are supported"):
        lower(model, DatapathConfig())


def test_per_row_scales_become_row_shifts():
    """Per-row scales: the matrix scale is the largest row's, each row requantizes e_r = s - s_r bits
    further, and its bias is in its own units (acc_frac + e_r fraction bits)."""
    from hwsim.model._quant import quantize_model

    model = _row_model()
    q = quantize_model(model, "ternary", scale="row", row_scales={
        "rnn.weight_ih_l0": np.arange(12) % 3 - 4, "rnn.weight_hh_l0": np.arange(12) % 3 - 3, "head.weight": [-2, -4]})
    plan = lower(q, DatapathConfig())
    lp = plan.layers[0]
    assert (lp.s_in, lp.s_rec) == (-2, -1) and plan.row_scaled
    for a, g in zip(lp.accums, (0, 1, 2, 2)):  # r, z, n_x, n_h: PyTorch's gate rows
        assert_array_equal(a.row_shift, 2 - np.arange(g * 4, g * 4 + 4) % 3)
        b_ih, b_hh = (np.rint(np.ldexp(b[g * 4:(g + 1) * 4], lp.acc_frac + a.row_shift))
                      for b in (model.layers[0].b_ih, model.layers[0].b_hh))
        assert_array_equal(a.bias, {"n_x": b_ih, "n_h": b_hh}.get(a.name, b_ih + b_hh))
    assert plan.head.s == -2 and list(plan.head.row_shift) == [0, 2]
    tensor = lower(quantize_model(model, "ternary"), DatapathConfig())
    assert not tensor.row_scaled and tensor.layers[0].accums[0].row_shift is None
    assert_array_equal(tensor.layers[0].accums[0].shifts(), np.zeros(4, np.int64))


def test_per_row_scale_refusals():
    from hwsim.model._quant import quantize_model

    model = _row_model()
    q = quantize_model(model, "ternary", scale="row")
    with pytest.raises(ConfigError, match=r'^the model has per-row weight scales, but the contract says '
                       r'weight_scales = "tensor"; set weight_scales = "row" \(or "auto"\) or quantize with --scale tensor$'):
        lower(q, DatapathConfig(weight_scales="tensor"))
    lower(q, DatapathConfig(weight_scales="row"))
    bad = quantize_model(model, "ternary", scale="row", row_scales={
        "rnn.weight_ih_l0": np.arange(12) % 3 - 4, "rnn.weight_hh_l0": np.arange(12) % 2 - 3, "head.weight": [-2, -4]})
    with pytest.raises(QuantError, match=r"^layer 0: the per-row scales of 'rnn\.weight_ih_l0' and 'rnn\.weight_hh_l0' "
                       r"must differ by one constant on every row \(the rows of both add up in one accumulator, "
                       r"which has one shift\)$"):
        lower(bad, DatapathConfig())


def _row_model():
    from hwsim.model._model import Head, Layer, RNNModel

    rng = np.random.default_rng(0)
    return RNNModel("gru", (Layer(rng.normal(0, 0.3, (12, 3)), rng.normal(0, 0.3, (12, 4)),
                                  rng.normal(0, 0.3, 12), rng.normal(0, 0.3, 12)),),
                    Head(rng.normal(0, 0.3, (2, 4)), rng.normal(0, 0.3, 2)), prefix="rnn.")
