"""Tests of hwsim.model._quant: quantizer semantics against naive scalar twins, grid properties,
idempotence, unbiasedness of the stochastic variants, and quantize_model / decode_model_codes."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hwsim.model._codes import CODE_KIND
from hwsim._errors import QuantError
from hwsim.model._model import METHODS, Head, Layer, QuantSpec, RNNModel
from hwsim.model._quant import (
    QuantResult,
    binarize,
    decode_model_codes,
    exp_quantize,
    exp_range,
    glorot_bound,
    pow2_ternarize,
    quantize_model,
    quantize_tensor,
    round_half_away,
    ternarize,
    uniform_quantize,
)

DET = ("binary", "ternary", "pow2-ternary", "exp", "uniform")
STOCH = ("binary-stoch", "ternary-stoch", "exp-stoch")

# Weights: zero or magnitudes in [2**-40, 8], both signs (subnormals would push exp's default
# range below float32's, which is a separate, tested error).
_mag = st.floats(2.0**-40, 8.0, allow_nan=False, allow_infinity=False)
weight = st.one_of(st.just(0.0), _mag, _mag.map(lambda x: -x))
weights = arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 6)), elements=weight)


# ------------------------------------------------------------------------------ naive scalar twins


def naive_round_half_away(x: float) -> int:
    f = Fraction(x)
    n = math.floor(abs(f) + Fraction(1, 2))
    return n if f >= 0 else -n


def naive_exp_det(x: float, e_min: int, e_max: int, zero: bool) -> float:
    """Nearest power of two in linear distance (ties to the smaller), clipped to the range."""
    a = abs(x)
    if zero and a < 2.0 ** (e_min - 1):
        return 0.0
    sign = (1.0 if x >= 0 else -1.0) if zero else (1.0 if x > 0 else -1.0)
    if a <= 2.0**e_min:
        e = e_min
    elif a >= 2.0**e_max:
        e = e_max
    else:
        k = e_min
        while 2.0 ** (k + 1) <= a:
            k += 1
        e = k + 1 if a - 2.0**k > 2.0 ** (k + 1) - a else k
    return sign * 2.0**e


def naive_ternary_det(x: float, w0: float) -> float:
    if x > w0 / 2:
        return w0
    if x <= -w0 / 2:
        return -w0
    return 0.0


def check_grid(r: QuantResult, w: np.ndarray) -> None:
    """The invariants every QuantResult must hold."""
    assert r.m.dtype == np.int64 and r.m.shape == w.shape
    assert r.values.dtype == np.float64 and r.values.shape == w.shape
    assert np.isin(r.m, r.codec.valid_m()).all()
    assert (r.codes < (1 << r.codec.bits)).all()
    np.testing.assert_array_equal(r.codes, r.codec.encode(r.m))
    np.testing.assert_array_equal(r.codec.decode(r.codes), r.m)
    for mv, v in zip(r.m.flat, r.values.flat):
        assert Fraction(v) == int(mv) * Fraction(2) ** r.scale_log2  # exactly m * 2**s
    np.testing.assert_array_equal(r.values.astype(np.float32), r.values)
    assert [c for c, _ in r.table] == [c for c, _ in r.codec.table()]
    assert [v for _, v in r.table] == [m * 2.0**r.scale_log2 for _, m in r.codec.table()]


# ----------------------------------------------------------------------------- semantics, per method


@given(weights, st.sampled_from([0.25, 1.0, 4.0]))
def test_binary_det(w, H):
    r = binarize(w, H=H)
    check_grid(r, w)
    assert r.scale_log2 == math.log2(H) and r.codec.bits == 1
    np.testing.assert_array_equal(r.values, np.where(w >= 0, H, -H))


@given(weights, st.floats(0.01, 10.0))
def test_ternary_det_matches_naive(w, w0):
    r = ternarize(w, w0=w0)
    check_grid(r, w)
    w0p = 2.0**r.scale_log2
    assert w0p / math.sqrt(2) <= w0 <= w0p * math.sqrt(2)  # nearest power of two in the log domain
    assert r.values.ravel().tolist() == [naive_ternary_det(x, w0p) for x in w.flat]


def test_ternary_dead_band_edges():
    w = np.array([0.25, np.nextafter(0.25, 1), -0.25, np.nextafter(-0.25, 0), 0.0, 0.5, -0.5, 3.0, -3.0])
    r = ternarize(w, w0=0.5)
    assert r.m.tolist() == [0, 1, -1, 0, 0, 1, -1, 1, -1]  # sic: w = -W0/2 goes to -W0, w = W0/2 to 0
    assert r.scale_log2 == -1


@given(weights)
def test_pow2_ternary_matches_naive(w):
    r = pow2_ternarize(w)
    check_grid(r, w)
    assert r.scale_log2 == -1
    assert r.m.ravel().tolist() == [max(-1, min(1, naive_round_half_away(2 * x))) for x in w.flat]


def test_pow2_ternary_rounds_halves_away_from_zero():
    w = np.array([0.25, -0.25, np.nextafter(0.25, 0), np.nextafter(-0.25, 0), 0.75, -5.0])
    assert pow2_ternarize(w).values.tolist() == [0.5, -0.5, 0.0, 0.0, 0.5, -0.5]
    assert pow2_ternarize(np.array([1.0, 0.5, -1.5]), scale_log2=1).values.tolist() == [2.0, 0.0, -2.0]


@given(weights, st.integers(2, 8))
def test_uniform_matches_naive(w, bits):
    r = uniform_quantize(w, bits=bits)
    check_grid(r, w)
    top = 2 ** (bits - 1) - 1
    assert r.scale_log2 == -(bits - 1)
    assert r.m.ravel().tolist() == [max(-top, min(top, naive_round_half_away(x * 2 ** (bits - 1)))) for x in w.flat]


def test_round_half_away_is_exact():
    x = np.array([0.49999999999999994, 0.5, -0.5, 1.5, -2.5, 2.4999999999999996, 0.0, -0.0])
    assert round_half_away(x).tolist() == [0.0, 1.0, -1.0, 2.0, -3.0, 2.0, 0.0, 0.0]


@given(weights, st.integers(-8, 2), st.integers(0, 6), st.booleans())
def test_exp_det_matches_naive(w, e_min, span, zero):
    e_max = e_min + span
    r = exp_quantize(w, e_min=e_min, e_max=e_max, zero=zero)
    check_grid(r, w)
    assert r.scale_log2 == e_min
    assert r.values.ravel().tolist() == [naive_exp_det(x, e_min, e_max, zero) for x in w.flat]
    if not zero:
        assert (r.m != 0).all()


@pytest.mark.parametrize("k", [-5, -1, 0, 2])
def test_exp_det_switches_at_one_and_a_half(k):
    lo, hi = 2.0**k, 2.0 ** (k + 1)
    sw = 1.5 * lo
    w = np.array([sw, np.nextafter(sw, 0), np.nextafter(sw, 10), math.sqrt(2) * lo * 1.01, -sw, -np.nextafter(sw, 10)])
    r = exp_quantize(w, e_min=-6, e_max=3)
    assert r.values.tolist() == [lo, lo, hi, lo, -lo, -hi]


def test_exp_zero_threshold_and_paper_exact_zero():
    e_min = -4
    t = 2.0 ** (e_min - 1)
    w = np.array([t, np.nextafter(t, 0), -t, -np.nextafter(t, 0), 0.0, 100.0])
    assert exp_quantize(w, e_min=e_min, e_max=-1).values.tolist() == [2**-4, 0, -(2**-4), 0, 0, 2**-1]
    paper = exp_quantize(w, e_min=e_min, e_max=-1, zero=False)
    assert paper.values.tolist() == [2**-4, 2**-4, -(2**-4), -(2**-4), -(2**-4), 2**-1]


@pytest.mark.parametrize(
    ("span", "bits"), [(0, 2), (1, 3), (2, 3), (3, 4), (6, 4), (7, 5), (14, 5), (15, 6), (30, 6)]
)
def test_exp_range_derives_smallest_width(span, bits):
    assert exp_range(e_min=-10, e_max=-10 + span) == (bits, -10, -10 + span)


def test_exp_range_from_bits_and_one_end():
    assert exp_range(bits=4, e_max=0) == (4, -6, 0)
    assert exp_range(bits=5, e_min=-20) == (5, -20, -6)
    assert exp_range(bits=6, e_min=-3, e_max=-1) == (6, -3, -1)  # wider than needed is allowed


def test_exp_default_range_follows_the_tensor():
    w = np.array([0.1, -1.4, 0.02])  # 1.4 rounds (linearly) to 1 = 2**0
    assert exp_range(w) == (4, -6, 0)
    assert exp_range(w, stochastic=True) == (4, -5, 1)  # may round up to 2, so ceil(log2 1.4)
    w2 = np.array([1.6, 0.1])
    assert exp_range(w2) == (4, -5, 1)
    assert exp_range(np.array([0.25]), stochastic=True) == (4, -8, -2)  # exact power of two: no room above
    assert exp_range(np.zeros(3)) == (4, -6, 0)
    r = exp_quantize(np.array([5.0, 0.3, -0.01]), bits=3)
    assert np.abs(r.m).max() == r.codec.m_max  # the top code is used
    assert (r.scale_log2, r.values.tolist()) == (0, [4.0, 0.0, 0.0])  # range [1, 4]; 0.3 < 1/2 -> 0


# ------------------------------------------------------------------------- stochastic: unbiasedness

N_DRAWS = 4000


#: Hoeffding: P(|mean of N draws in [lo, hi] - expectation| >= t (hi - lo)) <= 2 exp(-2 N t**2),
#: for every probability p of ``hi``. With this t the bound is 1e-12 per example whatever p is
#: (a sigma bound from p's own variance is not: at p ~ 1e-6 a single draw of ``hi`` breaks it).
HOEFFDING_T = math.sqrt(math.log(2 / 1e-12) / (2 * N_DRAWS))


def _check_two_point(values: np.ndarray, lo: float, hi: float, mean: float) -> None:
    """values are draws from {lo, hi} with expectation ``mean``: support, and a Hoeffding bound."""
    assert np.isin(values, [lo, hi]).all(), (lo, hi, np.unique(values))
    assert abs(values.mean() - mean) <= HOEFFDING_T * (hi - lo) + 1e-12


@settings(max_examples=40, deadline=None)
@given(st.floats(-3.0, 3.0), st.sampled_from([0.5, 1.0, 2.0]), st.integers(0, 2**32 - 1))
def test_binary_stoch_expectation_is_clipped_w(x, H, seed):
    r = binarize(np.full(N_DRAWS, x), H=H, stochastic=True, rng=seed)
    _check_two_point(r.values, -H, H, min(max(x, -H), H))


@settings(max_examples=40, deadline=None)
@given(st.floats(-0.6, 0.6), st.integers(0, 2**32 - 1))
def test_ternary_stoch_unbiased_inside_w0(x, seed):
    r = ternarize(np.full(N_DRAWS, x), w0=0.5, stochastic=True, rng=seed)
    w0 = 0.5
    clipped = min(max(x, -w0), w0)
    lo, hi = (0.0, w0) if x >= 0 else (-w0, 0.0)
    _check_two_point(r.values, lo, hi, clipped)


@settings(max_examples=60, deadline=None)
@given(st.floats(2.0**-12, 2.0**3), st.booleans(), st.integers(0, 2**32 - 1))
def test_exp_stoch_unbiased_inside_range(a, negative, seed):
    e_min, e_max = -8, 3  # a up to 2**3 = 2**e_max, so the range holds every draw
    x = -a if negative else a
    r = exp_quantize(np.full(N_DRAWS, x), e_min=e_min, e_max=e_max, stochastic=True, rng=seed)
    if a < 2.0**e_min:
        lo, hi = 0.0, 2.0**e_min  # explicit zero: unbiased below the smallest power too
    else:
        k = math.frexp(a)[1] - 1
        lo, hi = 2.0**k, 2.0 ** min(k + 1, e_max)
    if negative:
        lo, hi = -hi, -lo
    _check_two_point(r.values, lo, hi, x)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.0, 1.0), st.booleans(), st.integers(0, 2**32 - 1))
def test_exp_stoch_unbiased_below_smallest_power(frac, negative, seed):
    x = frac * 2.0**-8 * (-1 if negative else 1)
    r = exp_quantize(np.full(N_DRAWS, x), e_min=-8, e_max=-2, stochastic=True, rng=seed)
    lo, hi = (-(2.0**-8), 0.0) if negative else (0.0, 2.0**-8)
    _check_two_point(r.values, lo, hi, x)


def test_exp_stoch_paper_exact_never_draws_zero():
    r = exp_quantize(np.array([0.0, 1e-9, -1e-9] * 100), e_min=-4, e_max=0, stochastic=True, zero=False, rng=1)
    assert set(r.values.tolist()) == {2.0**-4, -(2.0**-4)}
    assert (r.values[0::3] < 0).all()  # w = 0 -> -2**e_min, as in the paper's code


@pytest.mark.parametrize("method", STOCH)
def test_stochastic_needs_the_rng_for_reproducibility(method):
    w = np.linspace(-1, 1, 101)
    kw = {"w0": 0.5} if "ternary" in method else {}
    a = quantize_tensor(w, method, rng=7, **kw).m
    b = quantize_tensor(w, method, rng=np.random.default_rng(7), **kw).m
    c = quantize_tensor(w, method, rng=8, **kw).m
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# ------------------------------------------------------------------------------------- idempotence


def _tensor_kwargs(method: str) -> dict:
    return {"w0": 0.3} if method in ("ternary", "ternary-stoch") else {}


@given(weights, st.sampled_from(DET), st.sampled_from([None, (-5, 0), (-3, -3)]))
def test_deterministic_quantizers_are_idempotent(w, method, rng_):
    kw = _tensor_kwargs(method)
    if CODE_KIND[method] == "exp" and rng_ is not None:
        kw.update(e_min=rng_[0], e_max=rng_[1])
    r1 = quantize_tensor(w, method, **kw)
    r2 = quantize_tensor(r1.values, method, **kw)
    np.testing.assert_array_equal(r2.values, r1.values)
    np.testing.assert_array_equal(r2.m, r1.m)
    assert r2.scale_log2 == r1.scale_log2


@given(weights, st.sampled_from(STOCH), st.integers(0, 2**32 - 1))
def test_stochastic_quantizers_fix_grid_values(w, method, seed):
    det = method.removesuffix("-stoch")
    kw = _tensor_kwargs(method)
    on_grid = quantize_tensor(w, det, **kw)
    r = quantize_tensor(on_grid.values, method, rng=seed, **kw)
    np.testing.assert_array_equal(r.values, on_grid.values)


# ------------------------------------------------------------------------ tensor-level validation


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: binarize([1.0], H=3.0), r"^H must be a power of two \(\.\.\., 0\.5, 1, 2, \.\.\.\), not 3$"),
        (lambda: binarize([1.0], H=-2.0), r"^H must be a positive power of two, not -2$"),
        (lambda: ternarize([1.0], w0=0.0), r"^w0 must be a positive number, not 0$"),
        (lambda: uniform_quantize([1.0], bits=1), r"^uniform codes must be 2 to 16 bits wide, not 1$"),
        (lambda: exp_quantize([1.0], bits=7), r"^exp codes must be 2 to 6 bits wide, not 7$"),
        (lambda: exp_quantize([1.0], e_min=0, e_max=-1), r"^e_min must be at most e_max, not e_min=0 > e_max=-1$"),
        (lambda: exp_quantize([1.0], e_min=-31, e_max=0), r"^e_max - e_min must be at most 30 \(6-bit codes\), not 31$"),
        (lambda: exp_quantize([1.0], bits=3, e_min=-3, e_max=0), r"^e_max - e_min = 3 needs codes of at least 4 bits, not 3$"),
        (lambda: exp_quantize([1e-300]), r"^e_min must lie in \[-126, 127\] \(float32 exponents\), not -1003$"),
        (lambda: quantize_tensor([1.0], "ternary"), r"^ternary needs w0 "),
        (lambda: quantize_tensor([1.0], "binary", bits=2), r"^bits must be 1 for binary \(a fixed code width\), not 2$"),
        (lambda: quantize_tensor([1.0], "pow2-ternary", bits=4), r"^bits must be 2 for pow2-ternary \(a fixed code width\), not 4$"),
        (lambda: quantize_tensor([1.0], "int8"), r"^method must be one of binary, binary-stoch, .*, uniform, not 'int8'$"),
        (lambda: uniform_quantize([np.nan, 1.0]), r"^weights must be finite, but 1 values are NaN or inf$"),
    ],
)
def test_tensor_level_errors(call, message):
    with pytest.raises(QuantError, match=message):
        call()


def test_type_errors():
    with pytest.raises(TypeError, match=r"^bits must be an int, not float$"):
        uniform_quantize([1.0], bits=4.0)
    with pytest.raises(TypeError, match=r"^rng must be a numpy Generator, an int seed or None, not str$"):
        binarize([1.0], stochastic=True, rng="x")
    with pytest.raises(TypeError, match=r"^weights must be a real numeric array, not dtype <U1$"):
        binarize(["a"])


def test_results_are_read_only():
    r = uniform_quantize(np.array([0.3]))
    with pytest.raises(ValueError):
        r.m[0] = 5


# ------------------------------------------------------------------------------------------ models


def small_model(cell: str = "gru", *, num_layers: int = 2, I: int = 3, H: int = 4, C: int = 5,
               bias: bool = True, head: bool = True, seed: int = 0, scale: float = 0.6) -> RNNModel:
    rng = np.random.default_rng(seed)
    G = {"rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "lstm": 4}[cell]
    layers = []
    for k in range(num_layers):
        n_in = I if k == 0 else H
        layers.append(Layer(
            w_ih=rng.normal(0, scale, (G * H, n_in)),
            w_hh=rng.normal(0, scale, (G * H, H)),
            b_ih=rng.normal(0, scale, G * H) if bias else None,
            b_hh=rng.normal(0, scale, G * H) if bias else None,
        ))
    hd = Head(weight=rng.normal(0, scale, (C, H)), bias=rng.normal(0, scale, C) if bias else None) if head else None
    return RNNModel(cell=cell, layers=tuple(layers), head=hd, prefix="rnn.", head_prefix="fc.")


def _is_bias(key: str) -> bool:
    return "bias" in key


def _kwargs(method: str) -> dict:
    return {"bits": 3} if CODE_KIND[method] in ("exp", "uniform") else {}


@pytest.mark.parametrize("biases", ["fixed", "quantized"])
@pytest.mark.parametrize("method", METHODS)
def test_quantize_model_every_method(method, biases):
    model = small_model("lstm")
    before = {k: model.tensor(k).copy() for k in model.tensor_keys()}
    q = quantize_model(model, method, biases=biases, **_kwargs(method))
    spec = q.quant
    assert isinstance(spec, QuantSpec) and spec.method == method and spec.biases == biases
    expected_keys = [k for k in model.tensor_keys() if biases == "quantized" or not _is_bias(k)]
    assert list(spec.scales) == expected_keys
    assert spec.bits == {"binary": 1, "ternary": 2}.get(CODE_KIND[method], 3)
    codes = decode_model_codes(q)
    assert list(codes) == expected_keys
    for key in model.tensor_keys():
        np.testing.assert_array_equal(model.tensor(key), before[key])  # input untouched
        v = q.tensor(key)
        assert v.dtype == np.float64
        if key in codes:
            m, s = codes[key]
            assert s == spec.scales[key]
            np.testing.assert_array_equal(np.ldexp(m.astype(float), s), v)
            np.testing.assert_array_equal(v.astype(np.float32), v)
        else:
            np.testing.assert_array_equal(v, before[key])  # fixed biases stay float
    assert QuantSpec.from_json(spec.to_json()) == spec
    assert (q.cell, q.prefix, q.head_prefix, q.num_layers) == (model.cell, model.prefix, model.head_prefix, model.num_layers)


@pytest.mark.parametrize("method", DET)
@pytest.mark.parametrize("cell", ["rnn_tanh", "gru"])
def test_quantize_model_deterministic_is_idempotent(method, cell):
    q1 = quantize_model(small_model(cell, seed=3), method, biases="quantized")
    q2 = quantize_model(q1, method, biases="quantized")
    assert q2.quant == q1.quant
    for key in q1.tensor_keys():
        np.testing.assert_array_equal(q2.tensor(key), q1.tensor(key))


@pytest.mark.parametrize("method", STOCH)
def test_quantize_model_stochastic_seeding(method):
    model = small_model("gru", H=8)
    a = quantize_model(model, method, seed=1)
    b = quantize_model(model, method, seed=1)
    c = quantize_model(model, method, seed=2)
    d = quantize_model(model, method, seed=1, biases="quantized")
    assert a.quant.params["seed"] == 1
    for key in a.quant.scales:
        np.testing.assert_array_equal(a.tensor(key), b.tensor(key))
        np.testing.assert_array_equal(a.tensor(key), d.tensor(key))  # one stream per tensor
    assert any(not np.array_equal(a.tensor(k), c.tensor(k)) for k in a.quant.scales)


def test_glorot_bounds():
    I, H, C = 3, 4, 5
    model = small_model("lstm", I=I, H=H, C=C)
    expected = {
        "rnn.weight_ih_l0": math.sqrt(6 / (I + H)),
        "rnn.bias_ih_l0": math.sqrt(6 / (I + H)),
        "rnn.bias_hh_l0": math.sqrt(6 / (I + H)),
        "rnn.weight_hh_l0": math.sqrt(6 / (2 * H)),
        "rnn.weight_ih_l1": math.sqrt(6 / (2 * H)),
        "rnn.weight_hh_l1": math.sqrt(6 / (2 * H)),
        "fc.weight": math.sqrt(6 / (H + C)),
        "fc.bias": math.sqrt(6 / (H + C)),
    }
    for key, v in expected.items():
        assert glorot_bound(model, key) == pytest.approx(v, rel=1e-15)
    with pytest.raises(QuantError, match=r"^model has no tensor 'x'; it has rnn\.weight_ih_l0, "):
        glorot_bound(model, "x")


def test_ternary_model_records_glorot_and_pow2_w0():
    model = small_model("gru", I=60, H=16, C=2, scale=0.3)  # input bound sqrt(6/76) = 0.28 -> 2**-2
    q = quantize_model(model, "ternary", biases="quantized")
    glorot = q.quant.params["w0_glorot"]
    pow2 = q.quant.params["w0_pow2"]
    assert set(glorot) == set(pow2) == set(q.quant.scales)
    for key, s in q.quant.scales.items():
        assert glorot[key] == glorot_bound(model, key)
        assert pow2[key] == 2.0**s
        assert s == round(math.log2(glorot[key]))
        assert set(np.unique(q.tensor(key))) <= {-(2.0**s), 0.0, 2.0**s}
    assert q.quant.scales["rnn.weight_ih_l0"] == -2
    given_ = quantize_model(model, "ternary-stoch", w0=0.1)
    assert set(given_.quant.scales.values()) == {-3}  # log2 0.1 = -3.32 -> -3
    assert given_.quant.params["w0"] == 0.1 and "w0_given" in given_.quant.params


def test_exp_model_global_and_per_tensor_ranges():
    model = small_model("gru")
    g = quantize_model(model, "exp", e_min=-7, e_max=-1)
    assert (g.quant.e_min, g.quant.e_max, g.quant.bits) == (-7, -1, 4)
    assert set(g.quant.scales.values()) == {-7}
    assert max(np.abs(g.tensor(k)).max() for k in g.quant.scales) == 0.5
    p = quantize_model(model, "exp", bits=5)
    assert (p.quant.e_min, p.quant.e_max, p.quant.bits) == (None, None, 5)
    for key, s in p.quant.scales.items():
        assert s == exp_range(model.tensor(key), bits=5)[1]
    paper = quantize_model(model, "exp-stoch", e_max=0, zero=False, bits=3)
    assert paper.quant.zero is False and paper.quant.e_min == -2
    assert all((decode_model_codes(paper)[k][0] != 0).all() for k in paper.quant.scales)


def test_binary_model_H():
    q = quantize_model(small_model("rnn_relu"), "binary-stoch", H=0.5)
    assert set(q.quant.scales.values()) == {-1} and q.quant.params["H"] == 0.5


def test_model_without_bias_or_head():
    model = small_model("rnn_tanh", bias=False, head=False, num_layers=1)
    q = quantize_model(model, "pow2-ternary", biases="quantized")
    assert list(q.quant.scales) == ["rnn.weight_ih_l0", "rnn.weight_hh_l0"] and q.head is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "fp16"}, r"^method must be one of binary, binary-stoch, ternary, ternary-stoch, pow2-ternary, exp, exp-stoch, uniform, not 'fp16'$"),
        ({"method": "binary", "bits": 2}, r"^bits must be 1 for binary \(a fixed code width\), not 2$"),
        ({"method": "exp", "bits": 7}, r"^exp codes must be 2 to 6 bits wide, not 7$"),
        ({"method": "uniform", "bits": 17}, r"^uniform codes must be 2 to 16 bits wide, not 17$"),
        ({"method": "binary", "H": 0.3}, r"^H must be a power of two \(\.\.\., 0\.5, 1, 2, \.\.\.\), not 0\.3$"),
        ({"method": "ternary", "w0": -1.0}, r"^w0 must be a positive number, not -1$"),
        ({"method": "exp", "e_min": 2, "e_max": 1}, r"^e_min must be at most e_max, not e_min=2 > e_max=1$"),
        ({"method": "gru", "biases": "float"}, r"^method must be one of "),
        ({"method": "exp", "biases": "float"}, r"^biases must be 'fixed' or 'quantized', not 'float'$"),
        ({"method": "exp", "w0": 0.5}, r"^w0 applies to ternary and ternary-stoch only, not exp$"),
        ({"method": "pow2-ternary", "w0": 0.5}, r"^w0 applies to ternary and ternary-stoch only, not pow2-ternary$"),
        ({"method": "ternary", "e_min": -3}, r"^e_min/e_max apply to exp and exp-stoch only, not ternary$"),
        ({"method": "uniform", "zero": False}, r"^zero=False \(paper-exact\) applies to exp and exp-stoch only, not uniform$"),
        ({"method": "exp", "H": 2.0}, r"^H applies to binary and binary-stoch only, not exp$"),
        ({"method": "binary-stoch", "seed": -1}, r"^seed must be a non-negative int, not -1$"),
    ],
)
def test_quantize_model_errors(kwargs, message):
    with pytest.raises(QuantError, match=message):
        quantize_model(small_model(), **kwargs)


def test_quantize_model_errors_name_the_tensor():
    model = small_model("gru", num_layers=1)
    bad = RNNModel("gru", (Layer(model.layers[0].w_ih * np.nan, *[getattr(model.layers[0], f) for f in ("w_hh", "b_ih", "b_hh")]),))
    with pytest.raises(QuantError, match=r"^tensor 'weight_ih_l0': weights must be finite, but 36 values are NaN or inf$"):
        quantize_model(bad, "exp")
    tiny = dataclass_replace_tensor(model, "rnn.weight_hh_l0", model.layers[0].w_hh * 1e-300)
    with pytest.raises(QuantError, match=r"^tensor 'rnn\.weight_hh_l0': e_min must lie in \[-126, 127\] \(float32 exponents\), not -\d+$"):
        quantize_model(tiny, "exp")


def dataclass_replace_tensor(model: RNNModel, key: str, arr: np.ndarray) -> RNNModel:
    from hwsim.model._quant import _replace_tensors

    return _replace_tensors(model, {key: arr}, model.quant)


def test_decode_model_codes_errors():
    model = small_model("gru")
    with pytest.raises(QuantError, match=r"^model is not quantized \(it has no QuantSpec\); run hwsim quantize first$"):
        decode_model_codes(model)
    q = quantize_model(model, "exp", e_min=-6, e_max=0)
    w = q.tensor("rnn.weight_hh_l1").copy()
    w[2, 1] = 0.3
    off = dataclass_replace_tensor(q, "rnn.weight_hh_l1", w)
    with pytest.raises(QuantError, match=r"^tensor 'rnn\.weight_hh_l1' is not on the exp 4-bit grid: value 0\.3 at index \(2, 1\) is not m \* 2\*\*-6 with m in \{-64, \.\.\., 64\}$"):
        decode_model_codes(off)
    w[2, 1] = 2.0  # a power of two the code could hold with another e_min, but outside [e_min, e_max]
    big = dataclass_replace_tensor(q, "rnn.weight_hh_l1", w)
    with pytest.raises(QuantError, match=r"^tensor 'rnn\.weight_hh_l1' is not on the exp 4-bit grid: value 2\.0 "):
        decode_model_codes(big)
    # the same values under a record whose range stops at 2**-2: every 0.5 is now off the grid
    narrow = RNNModel(**{**q.__dict__, "quant": QuantSpec(**{**q.quant.__dict__, "e_min": -6, "e_max": -2})})
    assert np.abs(q.tensor("rnn.weight_ih_l0")).max() > 2.0**-2
    with pytest.raises(QuantError, match=r"^tensor 'rnn\.weight_ih_l0' is not on the exp 4-bit grid: value -?(0\.5|1\.0) at index \(\d+, \d+\) is not m \* 2\*\*-6 with m in \{-16, \.\.\., 16\}$"):
        decode_model_codes(narrow)
    paper = quantize_model(model, "exp", zero=False, bits=3)
    z = dataclass_replace_tensor(paper, "fc.weight", np.zeros_like(paper.tensor("fc.weight")))
    with pytest.raises(QuantError, match=r"^tensor 'fc\.weight' is not on the exp 3-bit grid: value 0\.0 at index \(0, 0\) is not m \* 2\*\*-?\d+ with m in \{-4, -2, -1, 1, 2, 4\}$"):
        decode_model_codes(z)
    missing = RNNModel(**{**q.__dict__, "quant": QuantSpec("exp", 4, {"rnn.weight_ih_l0": -6})})
    with pytest.raises(QuantError, match=r"^QuantSpec has no scale for tensor 'rnn\.weight_hh_l0'$"):
        decode_model_codes(missing)
    extra = RNNModel(**{**q.__dict__, "quant": QuantSpec("exp", 4, {**q.quant.scales, "x": 0})})
    with pytest.raises(QuantError, match=r"^QuantSpec names tensor 'x', which the model does not have$"):
        decode_model_codes(extra)


@pytest.mark.parametrize("hidden, same", [(20, True), (24, True), (25, False), (6, False)])
def test_pow2_ternary_is_ternary_where_every_glorot_bound_rounds_to_half(make_model, hidden, same):
    """docs/training.md: ternary's W0 is 0.5 when fan_in + H (2H for w_hh) lies in 13..48, and then the
    two methods are the same quantizer (issue 24: byte-identical files for a 2-layer LSTM, H = 20)."""
    from hwsim.model._quant import quantize_model

    fm = make_model("lstm", 1, hidden, 2, 1, seed=0)
    layers = tuple(type(l)(*(None if a is None else a * 4.0 for a in (l.w_ih, l.w_hh, l.b_ih, l.b_hh)))
                   for l in fm.layers)  # spread the weights over both thresholds
    fm = type(fm)(cell=fm.cell, layers=layers, head=type(fm.head)(fm.head.weight * 4.0, fm.head.bias),
                  prefix=fm.prefix, head_prefix=fm.head_prefix)
    a, b = quantize_model(fm, "ternary"), quantize_model(fm, "pow2-ternary")
    assert all(np.array_equal(a.tensor(k), b.tensor(k)) for k in a.tensor_keys()) == same
    assert any(np.count_nonzero(a.tensor(k)) for k in a.tensor_keys())


# ------------------------------------------------------------------------------- per-row scales


@pytest.mark.parametrize("method", ["binary", "binary-stoch", "ternary", "ternary-stoch", "pow2-ternary"])
@pytest.mark.parametrize("cell", ["rnn_tanh", "gru", "lstm"])
def test_row_scales_follow_each_rows_magnitude(method, cell):
    from hwsim.model._quant import ROW_OFFSET_LIMIT, row_offsets

    model = small_model(cell, H=6, scale=0.3)
    # rows of very different magnitude: row r of layer 0 is scaled by 2**(r % 5 - 2) in both matrices
    f = 2.0 ** (np.arange(model.layers[0].w_ih.shape[0]) % 5 - 2)[:, None]
    l0 = model.layers[0]
    model = RNNModel(**{**model.__dict__, "layers": (Layer(l0.w_ih * f, l0.w_hh * f, l0.b_ih, l0.b_hh),) + model.layers[1:]})
    q = quantize_model(model, method, scale="row", seed=2)
    assert q.quant.granularity == "row" and q.quant.params["row_scale"] == "mean"
    codes = decode_model_codes(q)
    for k in range(2):
        (m_ih, s_ih), (m_hh, s_hh) = codes[f"rnn.weight_ih_l{k}"], codes[f"rnn.weight_hh_l{k}"]
        assert s_ih.shape == (m_ih.shape[0],) and s_hh.shape == (m_hh.shape[0],)
        assert len(set((s_ih - s_hh).tolist())) == 1  # one offset per row, shared by w_ih and w_hh
        base_ih = _quant_base(q, method, f"rnn.weight_ih_l{k}")
        parts = [(getattr(model.layers[k], n), _quant_base(q, method, f"rnn.weight_{n[2:]}_l{k}")) for n in ("w_ih", "w_hh")]
        np.testing.assert_array_equal(s_ih - base_ih, row_offsets(parts, method))
        assert np.abs(s_ih - base_ih).max() <= ROW_OFFSET_LIMIT
        np.testing.assert_array_equal(q.tensor(f"rnn.weight_ih_l{k}"), np.ldexp(m_ih.astype(float), s_ih[:, None]))
    # layer 0's rows follow their factor (up to the rounding of a noisy mean)
    s0 = codes["rnn.weight_ih_l0"][1]
    steps = np.diff(s0[: 5])
    assert (steps >= 0).all() and s0[4] - s0[0] >= 3
    # the tensor method with per-row scales equals the plain quantizer on each row at its level
    w = model.layers[0].w_ih
    for r in range(0, w.shape[0], 4):
        want = quantize_tensor(w[r : r + 1], method, row_scales=s0[r : r + 1], rng=0).values
        if not method.endswith("-stoch"):
            np.testing.assert_array_equal(q.tensor("rnn.weight_ih_l0")[r : r + 1], want)


def _quant_base(q: RNNModel, method: str, key: str) -> int:
    from hwsim.model._quant import _tensor_scale

    return _tensor_scale(q, key, method, None, 1.0)


def test_row_scales_given_and_record_round_trip(tmp_path):
    from hwsim.model._modelfile import load_model, save_model

    model = small_model("gru", num_layers=1, H=4)
    rows = {"rnn.weight_ih_l0": np.arange(12) % 3 - 3, "rnn.weight_hh_l0": np.arange(12) % 3 - 2,
            "fc.weight": np.array([-1, -2, -3, -1, 0])}
    q = quantize_model(model, "ternary", scale="row", row_scales=rows)
    assert q.quant.params["row_scale"] == "given"
    for key, s in rows.items():
        assert q.quant.scales[key] == tuple(int(v) for v in s)
        np.testing.assert_array_equal(decode_model_codes(q)[key][1], s)
    for suffix in (".safetensors", ".npz"):
        path = tmp_path / f"q{suffix}"
        save_model(q, path)
        back = load_model(path)
        assert back.quant == q.quant and back.quant.granularity == "row"
    # a tensor-scaled record is unchanged: ints, granularity "tensor"
    t = quantize_model(model, "ternary")
    assert t.quant.granularity == "tensor" and all(isinstance(v, int) for v in t.quant.scales.values())


def test_row_scale_errors():
    model = small_model("gru", num_layers=1, H=4)
    with pytest.raises(QuantError, match=r"^per-row scales apply to binary, binary-stoch, ternary, ternary-stoch, "
                       r"pow2-ternary, not exp$"):
        quantize_model(model, "exp", scale="row")
    with pytest.raises(QuantError, match=r"^scale must be one of tensor, row, not 'rows'$"):
        quantize_model(model, "ternary", scale="rows")
    with pytest.raises(QuantError, match=r"^row_scales apply to scale='row' only$"):
        quantize_model(model, "ternary", row_scales={})
    with pytest.raises(QuantError, match=r"^row_scales must name exactly the weight matrices \(fc\.weight, "
                       r"rnn\.weight_hh_l0, rnn\.weight_ih_l0\), not fc\.weight$"):
        quantize_model(model, "ternary", scale="row", row_scales={"fc.weight": [0] * 5})
    with pytest.raises(QuantError, match=r"^row_scales\['fc\.weight'\] must hold one int per row of the tensor \(5\), "
                       r"not float64 of shape \(5,\)$"):
        quantize_model(model, "ternary", scale="row", row_scales={
            "rnn.weight_ih_l0": [0] * 12, "rnn.weight_hh_l0": [0] * 12, "fc.weight": [0.5] * 5})
    q = quantize_model(model, "ternary", scale="row")
    bad = RNNModel(**{**q.__dict__, "quant": QuantSpec(**{**q.quant.__dict__, "scales": {
        **q.quant.scales, "fc.weight": (0, 0)}})})
    with pytest.raises(QuantError, match=r"^tensor 'fc\.weight' has 2 per-row scales, but its shape is \(5, 4\)$"):
        decode_model_codes(bad)
