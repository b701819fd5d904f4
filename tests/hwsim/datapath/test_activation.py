"""Activation units: kernel == NumPy definition == twin over every pre input, and each unit's
worst-case error measured over every input against the bound docs/datapath.md states."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import naive
from hwsim.sim import _kernels as K
from hwsim.datapath._activation import lut_eval, lut_index_shift, lut_table, pwl_eval
from hwsim.datapath._config import DatapathConfig, FixedFormat
from hwsim.datapath._plan import lower

CONFIGS = {
    "default": DatapathConfig(),
    "pwl": DatapathConfig(activation="pwl"),
    "narrow": DatapathConfig(pre=FixedFormat(9, 4), act=FixedFormat(8, 6), lut_bits=6, sigmoid_range_log2=2, tanh_range_log2=1),
    "narrow_pwl": DatapathConfig(pre=FixedFormat(9, 3), act=FixedFormat(7, 5), activation="pwl"),
    "act_frac_above_pre": DatapathConfig(pre=FixedFormat(12, 5), act=FixedFormat(20, 17), activation="pwl"),
}


def every_pre(cfg):
    return np.arange(cfg.pre.min_int, cfg.pre.max_int + 1, dtype=np.int64)


def _plan(cfg):
    rng = np.random.default_rng(0)
    return lower(naive.random_quant_model(rng, "gru", 1, 1, 1, None), cfg)


def kernel_eval(x, func, cfg):
    """The kernel's unit, element by element (the same scalar functions the layer kernel calls)."""
    pf, af = np.int64(cfg.pre.frac), np.int64(cfg.act.frac)
    if cfg.activation == "lut":
        table = lut_table(func, cfg)
        r = np.int64(cfg.sigmoid_range_log2 if func == "sigmoid" else cfg.tanh_range_log2)
        sh = np.int64(lut_index_shift(func, cfg))
        return np.array([table[K.lut_index(v, r, pf, sh)] for v in x])
    f = K.sigmoid_pwl if func == "sigmoid" else K.tanh_pwl
    return np.array([f(v, pf, af) for v in x])


@pytest.mark.parametrize("func", ["sigmoid", "tanh"])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_kernel_numpy_and_twin_agree_on_every_input(name, func):
    cfg = CONFIGS[name]
    x = every_pre(cfg)
    ref = lut_eval(x, func, cfg) if cfg.activation == "lut" else pwl_eval(x, func, cfg)
    assert_array_equal(kernel_eval(x, func, cfg), ref)
    plan = _plan(cfg)
    twin = naive.sigmoid if func == "sigmoid" else naive.tanh
    step = max(1, x.size // 4096)  # the twin is slow: every 16th input of the 16-bit formats
    assert [twin(int(v), plan) for v in x[::step]] == ref[::step].tolist()
    assert ref.min() >= -(1 << cfg.act.frac) and ref.max() <= 1 << cfg.act.frac


def measured_error(cfg, func):
    x = every_pre(cfg)
    y = lut_eval(x, func, cfg) if cfg.activation == "lut" else pwl_eval(x, func, cfg)
    xf = x * 2.0**-cfg.pre.frac
    exact = 1 / (1 + np.exp(-xf)) if func == "sigmoid" else np.tanh(xf)
    return float(np.abs(y * 2.0**-cfg.act.frac - exact).max())


def lut_bound(cfg, func):
    """docs/datapath.md: half a bin times the largest slope plus half an act LSB inside the range;
    outside it the clamp error |f(+-R) - 1| plus half a bin of slope at the edge, bounded the same way."""
    r = cfg.sigmoid_range_log2 if func == "sigmoid" else cfg.tanh_range_log2
    half_bin = 2.0 ** (r + 1) / 2**cfg.lut_bits / 2
    slope = 0.25 if func == "sigmoid" else 1.0
    R = 2.0**r
    tail = 1 - (1 / (1 + np.exp(-R)) if func == "sigmoid" else np.tanh(R))
    return max(half_bin * slope, tail + half_bin * slope) + 2.0 ** -(cfg.act.frac + 1)


@pytest.mark.parametrize("func", ["sigmoid", "tanh"])
def test_lut_worst_case_error_within_documented_bound(func):
    cfg = DatapathConfig()
    err = measured_error(cfg, func)
    assert err <= lut_bound(cfg, func)
    # The numbers docs/datapath.md quotes for the default contract (10-bit tables).
    assert err == pytest.approx({"sigmoid": 0.00197, "tanh": 0.00393}[func], abs=1e-5)


@pytest.mark.parametrize("func", ["sigmoid", "tanh"])
def test_lut_error_halves_with_each_table_bit(func):
    errs = [measured_error(DatapathConfig(lut_bits=b, pre=FixedFormat(20, 15)), func) for b in (8, 10, 12)]
    assert errs[1] < errs[0] / 3 and errs[2] < errs[1] / 3


@pytest.mark.parametrize("func,documented", [("sigmoid", 0.01895), ("tanh", 0.03789)])
def test_pwl_worst_case_error_within_documented_bound(func, documented):
    err = measured_error(DatapathConfig(activation="pwl"), func)
    assert err <= documented
    assert err > documented - 1e-5  # the documented figure is the measured one, not a loose cap


def test_lut_table_words_are_bin_midpoints():
    cfg = DatapathConfig()
    t = lut_table("sigmoid", cfg)
    assert t.shape == (1024,) and t.dtype == np.int64
    assert t[538] == 9864  # docs/datapath.md, worked example
    assert t[511] + t[512] == 1 << cfg.act.frac  # sigmoid is symmetric about the middle bin edge
    assert np.all(np.diff(t) >= 0)
