"""Weight quantizers of the seed paper (Ott et al., arXiv 1608.06902) and the uniform baseline.

Every quantized weight is exactly ``m * 2**s``: ``m`` an integer that the method's
:class:`~hwsim.model._codes.WeightCodec` can store, ``s`` one integer per tensor (``QuantSpec.scales``)
or, with per-row scales (``scale="row"``), one integer per output row. All scales are powers of
two, so the datapath never multiplies a weight by a scale; only the uniform baseline multiplies
``m * x`` (docs/datapath.md, "Weights").

Methods (formulas from the paper and its released code, /work/shared/SEED_NOTES.md):

``binary``, ``binary-stoch``
    BinaryConnect with scale ``H`` (a power of two): ``m = +1`` if ``w >= 0`` else ``-1``;
    stochastic ``+1`` with probability ``clip((w/H + 1)/2, 0, 1)``. ``s = log2 H``.
``ternary``, ``ternary-stoch``
    TernaryConnect with ``W0`` the tensor's Glorot bound (or a given ``w0``), rounded to the nearest
    power of two in the log domain so the scale is a shift: ``m = +1`` if ``w > W0/2``, ``-1`` if
    ``w <= -W0/2`` (sic, as in the paper), else 0; stochastic ``sign(w) * Bernoulli(|w|/W0)``.
``pow2-ternary``
    ``clip(round(2w), -1, 1) / 2`` with C ``round`` (half away from zero): ``s = -1``.
``exp``, ``exp-stoch``
    Exponential quantization onto ``{0, +/-2**e : e_min <= e <= e_max}``. With
    ``k = clip(floor(log2|w|), e_min, e_max)`` and ``p = |w|/2**k - 1``: deterministic
    ``e = k + [p > 0.5]`` (nearest power of two in *linear* distance: the switch sits at
    ``1.5 * 2**k``, not ``sqrt(2) * 2**k``); stochastic ``e = k + Bernoulli(p)``, unbiased inside
    the range. ``m = sign * 2**(e - e_min)``, ``s = e_min``.
``uniform``
    Hubara et al.'s k-bit uniform weights on [-1, 1]:
    ``m = clip(round(w * 2**(k-1)), -(2**(k-1) - 1), 2**(k-1) - 1)``, ``s = -(k - 1)``.

Per-row scales (``scale="row"``, the binary and ternary methods: :data:`ROW_SCALE_METHODS`): row
``r`` of a weight matrix gets ``s_r = s + d_r``, ``s`` the tensor's scale above and ``d_r`` one
integer per output row of the layer, shared by ``w_ih`` and ``w_hh`` (the rows that add up in one
accumulator, so the datapath applies ``d_r`` as one more shift of that accumulator: docs/datapath.md).
:func:`row_offsets` picks ``d_r`` from the row's mean magnitude (the per-channel statistic of
XNOR-Net and TWN, rounded to a power of two); training may learn it instead (hwsim.torch, ``row_scale="learned"``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ._codes import CODE_KIND, WeightCodec
from .._errors import QuantError
from ._model import METHODS, Head, Layer, QuantSpec, RNNModel
from .._repr import short_repr

#: Code width of the methods whose width is fixed.
FIXED_BITS = {"binary": 1, "ternary": 2}
#: Default code width of the methods whose width is a choice.
DEFAULT_BITS = {"exp": 4, "uniform": 4}
#: Exponents stay inside float32's normal range, so every quantized value survives a float32 file.
EXP_LIMITS = (-126, 127)
#: Scale granularities: one power-of-two scale per tensor (the paper's), or one per output row.
SCALE_GRANULARITIES = ("tensor", "row")
#: The methods that take per-row scales (exp and uniform codes carry their own magnitudes).
ROW_SCALE_METHODS = ("binary", "binary-stoch", "ternary", "ternary-stoch", "pow2-ternary")
#: Per-row offsets ``d_r`` stay within this many octaves of the tensor's scale.
ROW_OFFSET_LIMIT = 8

_RngLike = np.random.Generator | int | None


@dataclass(frozen=True, eq=False)
class QuantResult:
    """One quantized tensor.

    Attributes
    ----------
    m : ndarray of int64
        Integer multipliers, same shape as the input.
    codes : ndarray of uint32
        The stored codes, ``codec.encode(m)``.
    scale_log2 : int or ndarray of int64
        ``s``: every value is ``m * 2**s``; per-row scales: one ``s`` per row (shape ``(rows,)``).
    values : ndarray of float64
        The dequantized weights, exactly ``m * 2**s``.
    table : list of (int, float)
        ``(code, value)`` for every code the codec may write, ascending by code.
    codec : WeightCodec
        The code layout ``m`` is stored in.
    """

    __repr__ = short_repr

    m: np.ndarray
    codes: np.ndarray
    scale_log2: int | np.ndarray
    values: np.ndarray
    table: list[tuple[int, float]]
    codec: WeightCodec


def _result(m: np.ndarray, s: int | np.ndarray, codec: WeightCodec) -> QuantResult:
    """``m * 2**s``; ``s`` an int, or per-row scales (the table is then the row of scale 2**0)."""
    m = np.asarray(m, dtype=np.int64)
    codes = codec.encode(m)
    values = np.ldexp(m.astype(np.float64), _per_row(s, m))
    s = s.copy() if isinstance(s, np.ndarray) else int(s)
    table = [(code, math.ldexp(mv, 0 if isinstance(s, np.ndarray) else s)) for code, mv in codec.table()]
    for arr in (m, codes, values) + ((s,) if isinstance(s, np.ndarray) else ()):
        arr.flags.writeable = False
    return QuantResult(m=m, codes=codes, scale_log2=s, values=values, table=table, codec=codec)


def _per_row(s: int | np.ndarray, w: np.ndarray) -> int | np.ndarray:
    """``s`` shaped to broadcast over ``w``: an int as it is, per-row scales as a column."""
    if isinstance(s, np.ndarray):
        return s.reshape((-1,) + (1,) * (w.ndim - 1))
    return s


def _row_scales(name: str, s: Any, w: np.ndarray) -> np.ndarray:
    """Validated per-row scales for ``w``: one int per row (the first axis)."""
    a = np.asarray(s)
    if w.ndim < 1 or a.dtype.kind not in "iu" or a.shape != (w.shape[0],):
        raise QuantError(f"{name} must hold one int per row of the tensor ({w.shape[0] if w.ndim else 0}), "
                         f"not {a.dtype} of shape {a.shape}")
    a = a.astype(np.int64)
    if a.size and not (EXP_LIMITS[0] <= a.min() and a.max() <= EXP_LIMITS[1]):
        raise QuantError(f"{name} must lie in [{EXP_LIMITS[0]}, {EXP_LIMITS[1]}], not {int(a.min())}..{int(a.max())}")
    return a


# ----------------------------------------------------------------------------------------- helpers


def _as_weights(w: Any, what: str = "weights") -> np.ndarray:
    a = np.asarray(w)
    if a.dtype.kind not in "fiu" or a.dtype.kind == "b":
        raise TypeError(f"{what} must be a real numeric array, not dtype {a.dtype}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise QuantError(f"{what} must be finite, but {int((~np.isfinite(a)).sum())} values are NaN or inf")
    return a


def _rng(rng: _RngLike) -> np.random.Generator:
    """A Generator from a Generator, an int seed, or None (fresh OS entropy, numpy's convention)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, not {type(rng).__name__}")


def _int(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name} must be an int, not {type(v).__name__}")
    return int(v)


def _log2_pow2(name: str, v: Any) -> int:
    """log2 of a positive power of two, or QuantError."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, not {type(v).__name__}")
    v = float(v)
    if not (math.isfinite(v) and v > 0):
        raise QuantError(f"{name} must be a positive power of two, not {v:g}")
    mant, ex = math.frexp(v)
    if mant != 0.5:
        raise QuantError(f"{name} must be a power of two (..., 0.5, 1, 2, ...), not {v:g}")
    return ex - 1


def round_half_away(x: np.ndarray) -> np.ndarray:
    """Round to the nearest integer, halves away from zero (C ``round``), exactly.

    ``floor(|x| + 0.5)`` is not exact (0.49999999999999994 + 0.5 rounds up to 1.0); splitting off
    the integer part with ``trunc`` is.
    """
    x = np.asarray(x, dtype=np.float64)
    t = np.trunc(x)
    return t + np.where(np.abs(x - t) >= 0.5, np.sign(x), 0.0)


def _floor_log2(a: np.ndarray) -> np.ndarray:
    """Exact ``floor(log2(a))`` for a > 0 (frexp, not log2, which rounds near powers of two)."""
    _, ex = np.frexp(a)
    return ex.astype(np.int64) - 1


#: round(log2 a) rounds up from a mantissa (in [0.5, 1)) of sqrt(1/2) on; hwsim.torch uses this constant too.
SQRT_HALF = math.sqrt(0.5)


def round_log2(a: np.ndarray) -> np.ndarray:
    """``round(log2 a)`` for ``a > 0``, from frexp and one comparison (the same in NumPy and PyTorch)."""
    mant, ex = np.frexp(np.asarray(a, dtype=np.float64))
    return ex.astype(np.int64) - 1 + (mant >= SQRT_HALF)


def row_offsets(parts: list[tuple[Any, int]], method: str) -> np.ndarray:
    """Per-row scale offsets ``d_r`` of the tensors ``parts`` (``(w, s)`` pairs) that share rows.

    Each weight is measured in units of its tensor's level (``|w| / 2**s``), the units are pooled
    over the row (the layer's ``w_ih`` and ``w_hh`` rows add up in one accumulator), and
    ``d_r = round(log2(c * mean))`` with ``c = 2`` for the ternary methods (their level is twice
    the mean magnitude of a uniform row, as the Glorot bound is for Glorot-uniform weights) and
    ``c = 1`` for binary (XNOR-Net's ``mean|w|``). An all-zero row keeps ``d_r = 0``; ``d_r`` is
    clipped to ``+/-ROW_OFFSET_LIMIT``.
    """
    u = np.concatenate([np.abs(np.ldexp(_as_weights(w), -int(s))) for w, s in parts], axis=1)
    a = u.mean(axis=1) * (1.0 if CODE_KIND[method] == "binary" else 2.0)
    d = np.where(a > 0, round_log2(np.where(a > 0, a, 1.0)), 0)
    return np.clip(d, -ROW_OFFSET_LIMIT, ROW_OFFSET_LIMIT).astype(np.int64)


# -------------------------------------------------------------------------------------- quantizers


def binarize(w: Any, *, H: float = 1.0, stochastic: bool = False, rng: _RngLike = None,
             row_scales: Any = None) -> QuantResult:
    """BinaryConnect: ``+/-H`` with ``H`` a power of two (``m`` in {-1, +1}, ``s = log2 H``).

    Deterministic: ``+H`` if ``w >= 0`` else ``-H``. Stochastic: ``+H`` with probability
    ``clip((w/H + 1)/2, 0, 1)``, so the expectation is ``clip(w, -H, H)``. ``row_scales`` (one
    ``log2 H`` per row) replaces ``H`` with a level per row.
    """
    w = _as_weights(w)
    s = _log2_pow2("H", H) if row_scales is None else _row_scales("row_scales", row_scales, w)
    if stochastic:
        p = np.clip((np.ldexp(w, -_per_row(s, w)) + 1.0) / 2.0, 0.0, 1.0)
        m = np.where(_rng(rng).random(w.shape) < p, 1, -1)
    else:
        m = np.where(w >= 0, 1, -1)
    return _result(m, s, WeightCodec("binary", 1))


def pow2_round_w0(w0: float) -> int:
    """``round(log2 w0)``: the power-of-two exponent that replaces TernaryConnect's ``W0``."""
    if isinstance(w0, bool) or not isinstance(w0, (int, float, np.integer, np.floating)):
        raise TypeError(f"w0 must be a number, not {type(w0).__name__}")
    if not (math.isfinite(w0) and w0 > 0):
        raise QuantError(f"w0 must be a positive number, not {w0:g}")
    s = math.floor(math.log2(w0) + 0.5)
    if not EXP_LIMITS[0] <= s <= EXP_LIMITS[1]:
        raise QuantError(f"w0 must round to 2**s with s in [{EXP_LIMITS[0]}, {EXP_LIMITS[1]}], not 2**{s}")
    return s


def ternarize(w: Any, *, w0: float | None = None, stochastic: bool = False, rng: _RngLike = None,
              row_scales: Any = None) -> QuantResult:
    """TernaryConnect with ``W0 = 2**round(log2 w0)`` (``m`` in {-1, 0, +1}, ``s = log2 W0``).

    Deterministic: ``+W0`` if ``w > W0/2``, ``-W0`` if ``w <= -W0/2``, else 0 (the asymmetric
    comparison is the paper's). Stochastic: ``W0 * sign(w) * Bernoulli(clip(|w|/W0, 0, 1))``.
    ``row_scales`` (one ``log2 W0`` per row) replaces ``w0`` with a level per row.
    """
    w = _as_weights(w)
    if row_scales is not None:
        s = _row_scales("row_scales", row_scales, w)
    elif w0 is None:
        raise QuantError("ternarize needs w0 (the tensor's level) or row_scales (one per row)")
    else:
        s = pow2_round_w0(w0)
    u = np.ldexp(w, -_per_row(s, w))  # w / W0, exact
    if stochastic:
        keep = _rng(rng).random(w.shape) < np.clip(np.abs(u), 0.0, 1.0)
        m = np.where(keep, np.sign(u), 0).astype(np.int64)
    else:
        m = np.where(u > 0.5, 1, np.where(u <= -0.5, -1, 0))
    return _result(m, s, WeightCodec("ternary", 2))


def pow2_ternarize(w: Any, *, scale_log2: int = -1, row_scales: Any = None) -> QuantResult:
    """Pow2-ternarization: ``clip(round(w / 2**s), -1, 1) * 2**s``, default ``s = -1`` ({-0.5, 0, 0.5}).

    Rounding is C ``round`` (halves away from zero), as in the paper's code. ``row_scales`` (one
    ``s`` per row) replaces ``scale_log2``.
    """
    w = _as_weights(w)
    s = _int("scale_log2", scale_log2) if row_scales is None else _row_scales("row_scales", row_scales, w)
    m = np.clip(round_half_away(np.ldexp(w, -_per_row(s, w))), -1, 1)
    return _result(m, s, WeightCodec("ternary", 2))


def uniform_quantize(w: Any, *, bits: int = 4) -> QuantResult:
    """Hubara et al.'s uniform k-bit weights on [-1, 1], the multiplier baseline.

    ``m = clip(round(w * 2**(k-1)), -(2**(k-1) - 1), 2**(k-1) - 1)`` (halves away from zero),
    ``s = -(k - 1)``: symmetric, so weights are effectively clipped to ``[-1 + 2**-(k-1), 1 - 2**-(k-1)]``.
    """
    w = _as_weights(w)
    bits = _check_bits("uniform", bits)
    codec = WeightCodec("uniform", bits)
    m = np.clip(round_half_away(np.ldexp(w, bits - 1)), codec.m_min, codec.m_max)
    return _result(m, -(bits - 1), codec)


def exp_range(
    w: Any | None = None,
    *,
    bits: int | None = None,
    e_min: int | None = None,
    e_max: int | None = None,
    stochastic: bool = False,
) -> tuple[int, int, int]:
    """Resolve the exponent range of exponential quantization: ``(bits, e_min, e_max)``.

    ``bits``-wide codes hold ``2**(bits-1) - 1`` exponents (plus zero), so
    ``e_max - e_min <= 2**(bits-1) - 2``.

    - ``e_min`` and ``e_max`` given: the range is exactly that; ``bits`` defaults to the smallest
      width that holds it (a wider ``bits`` is allowed, a narrower one is an error).
    - one of them given: ``bits`` (default 4) sets the other so the range is full.
    - neither: the tensor ``w`` sets ``e_max`` to the largest exponent any of its weights can be
      quantized to, so no weight is clipped and the top code is used: ``e_max`` = the deterministic
      rounding of ``max|w|`` (``exp``) or ``ceil(log2 max|w|)`` (``exp-stoch``, which may round up).
      It is not clipped to 0: weights above 1 cost only a longer left shift. A quantized tensor gives
      back its own range, which keeps re-quantization the identity. An all-zero tensor gets 0.
    """
    if e_min is not None:
        e_min = _int("e_min", e_min)
    if e_max is not None:
        e_max = _int("e_max", e_max)
    if bits is not None:
        bits = _check_bits("exp", bits)
    if e_min is not None and e_max is not None:
        if e_min > e_max:
            raise QuantError(f"e_min must be at most e_max, not e_min={e_min} > e_max={e_max}")
        span = e_max - e_min
        need = next((n for n in range(2, 7) if (1 << (n - 1)) - 2 >= span), None)
        if need is None:
            raise QuantError(f"e_max - e_min must be at most 30 (6-bit codes), not {span}")
        if bits is None:
            bits = need
        elif bits < need:
            raise QuantError(f"e_max - e_min = {span} needs codes of at least {need} bits, not {bits}")
    else:
        bits = DEFAULT_BITS["exp"] if bits is None else bits
        shift = (1 << (bits - 1)) - 2
        if e_min is not None:
            e_max = e_min + shift
        else:
            if e_max is None:
                if w is None:
                    raise TypeError("exp_range needs the weights w when neither e_min nor e_max is given")
                e_max = _top_exponent(_as_weights(w), stochastic)
            e_min = e_max - shift
    for name, v in (("e_min", e_min), ("e_max", e_max)):
        if not EXP_LIMITS[0] <= v <= EXP_LIMITS[1]:
            raise QuantError(
                f"{name} must lie in [{EXP_LIMITS[0]}, {EXP_LIMITS[1]}] (float32 exponents), not {v}"
            )
    return bits, e_min, e_max


def _top_exponent(w: np.ndarray, stochastic: bool) -> int:
    top = float(np.max(np.abs(w))) if w.size else 0.0
    if top == 0.0:
        return 0
    mant, ex = math.frexp(top)  # top = mant * 2**ex, mant in [0.5, 1)
    k = ex - 1
    if stochastic:
        return k if mant == 0.5 else k + 1  # ceil(log2 top)
    return k + (2.0 * mant - 1.0 > 0.5)  # same switch point as exp_quantize: 1.5 * 2**k


def exp_quantize(
    w: Any,
    *,
    bits: int | None = None,
    e_min: int | None = None,
    e_max: int | None = None,
    stochastic: bool = False,
    zero: bool = True,
    rng: _RngLike = None,
) -> QuantResult:
    """Exponential quantization to ``{0, +/-2**e : e_min <= e <= e_max}`` (range: :func:`exp_range`).

    With ``k = clip(floor(log2|w|), e_min, e_max)`` and ``p = |w|/2**k - 1``: deterministic
    ``e = k + [p > 0.5]``, stochastic ``e = k + Bernoulli(clip(p, 0, 1))``, then ``e <= e_max``.

    ``zero=True`` (default, the hardware code has a zero): deterministic maps ``|w| < 2**(e_min-1)``
    to 0; stochastic maps ``|w| < 2**e_min`` to ``2**e_min`` with probability ``|w|/2**e_min``, else
    to 0, so it stays unbiased. ``zero=False`` is the paper-exact variant: no zero, small weights go
    to ``+/-2**e_min`` and ``w = 0`` to ``-2**e_min``, as the authors' code did.
    """
    w = _as_weights(w)
    if not isinstance(zero, bool):
        raise TypeError(f"zero must be a bool, not {type(zero).__name__}")
    bits, e_min, e_max = exp_range(w, bits=bits, e_min=e_min, e_max=e_max, stochastic=stochastic)
    a = np.abs(w)
    k = np.clip(np.where(a > 0, _floor_log2(a), e_min), e_min, e_max)  # w = 0 sits at the bottom
    p = np.ldexp(a, -k) - 1.0  # exact for a in [2**k, 2**(k+1))
    if stochastic:
        u = _rng(rng).random(w.shape)
        e = k + (u < np.clip(p, 0.0, 1.0))
    else:
        e = k + (p > 0.5)
    mag = np.left_shift(np.int64(1), np.minimum(e, e_max) - e_min)
    if zero:
        if stochastic:
            small = a < math.ldexp(1.0, e_min)
            # The same u: below 2**e_min, e is always e_min, so u is still unused there.
            mag = np.where(small & (u >= np.ldexp(a, -e_min)), 0, mag)
        else:
            mag = np.where(a < math.ldexp(1.0, e_min - 1), 0, mag)
        sign = np.where(w < 0, -1, 1)
    else:
        sign = np.where(w > 0, 1, -1)  # the paper's code turned w = 0 into -2**e_min
    return _result(sign * mag, e_min, WeightCodec("exp", bits))


def _check_bits(method: str, bits: Any) -> int:
    """Code width for a method (binary/ternary/... name or code kind), validated."""
    kind = CODE_KIND.get(method, method)
    bits = _int("bits", bits)
    if kind in FIXED_BITS and bits != FIXED_BITS[kind]:
        raise QuantError(f"bits must be {FIXED_BITS[kind]} for {method} (a fixed code width), not {bits}")
    if kind == "exp" and not 2 <= bits <= 6:
        raise QuantError(f"{method} codes must be 2 to 6 bits wide, not {bits}")
    if kind == "uniform" and not 2 <= bits <= 16:
        raise QuantError(f"{method} codes must be 2 to 16 bits wide, not {bits}")
    return bits


def quantize_tensor(
    w: Any,
    method: str,
    *,
    bits: int | None = None,
    w0: float | None = None,
    e_min: int | None = None,
    e_max: int | None = None,
    zero: bool = True,
    H: float = 1.0,
    rng: _RngLike = None,
    row_scales: Any = None,
) -> QuantResult:
    """Quantize one tensor with a method named as in ``hwsim quantize --method`` (:data:`METHODS`).

    ``w0`` is required for the ternary methods (quantize_model passes the tensor's Glorot bound)
    unless ``row_scales`` (one log2 level per row, :data:`ROW_SCALE_METHODS` only) is given.
    """
    _check_method(method)
    if row_scales is not None and method not in ROW_SCALE_METHODS:
        raise QuantError(f"per-row scales apply to {', '.join(ROW_SCALE_METHODS)}, not {method}")
    kind = CODE_KIND[method]
    stochastic = method.endswith("-stoch")
    if bits is not None or kind in FIXED_BITS:
        bits = _check_bits(method, FIXED_BITS.get(kind, bits) if bits is None else bits)
    if method in ("binary", "binary-stoch"):
        return binarize(w, H=H, stochastic=stochastic, rng=rng, row_scales=row_scales)
    if method in ("ternary", "ternary-stoch"):
        if w0 is None and row_scales is None:
            raise QuantError(f"{method} needs w0 (the Glorot bound of the tensor, or a given value)")
        return ternarize(w, w0=w0, stochastic=stochastic, rng=rng, row_scales=row_scales)
    if method == "pow2-ternary":
        return pow2_ternarize(w, row_scales=row_scales)
    if kind == "exp":
        return exp_quantize(w, bits=bits, e_min=e_min, e_max=e_max, stochastic=stochastic, zero=zero, rng=rng)
    return uniform_quantize(w, bits=DEFAULT_BITS["uniform"] if bits is None else bits)


def _check_method(method: Any) -> None:
    if method not in METHODS:
        raise QuantError(f"method must be one of {', '.join(METHODS)}, not {method!r}")


# ------------------------------------------------------------------------------------------ models


def glorot_bound(model: RNNModel, key: str) -> float:
    """TernaryConnect's ``W0`` for one tensor: the Glorot/Xavier uniform bound.

    Input weights and every bias of a layer: ``sqrt(6/(n_in + H))``; recurrent weights:
    ``sqrt(6/(2 H))``; head weight and bias: ``sqrt(6/(H + C))``. ``H`` is the hidden size (one
    gate's width, not ``G*H``), ``n_in`` the layer's input width, ``C`` the number of classes.
    """
    keys = model.tensor_keys()
    if key not in keys:
        raise QuantError(f"model has no tensor {key!r}; it has {', '.join(keys)}")
    kind, k, name = keys[key]
    H = model.hidden_size
    if kind == "head":
        C, h_in = model.head.weight.shape
        return math.sqrt(6.0 / (h_in + C))
    if name == "w_hh":
        return math.sqrt(6.0 / (2 * H))
    return math.sqrt(6.0 / (model.layers[k].w_ih.shape[1] + H))


def _is_bias(name: str) -> bool:
    return name in ("b_ih", "b_hh", "bias")


def quantize_model(
    model: RNNModel,
    method: str,
    *,
    bits: int | None = None,
    seed: int = 0,
    w0: float | None = None,
    e_min: int | None = None,
    e_max: int | None = None,
    biases: str = "fixed",
    zero: bool = True,
    H: float = 1.0,
    scale: str = "tensor",
    row_scales: Mapping[str, Any] | None = None,
) -> RNNModel:
    """Quantize every weight tensor of a model; return a new model holding the dequantized values.

    Every layer's ``w_ih`` and ``w_hh`` and the head weight are quantized; biases stay float with
    ``biases="fixed"`` or are quantized like the weights with ``biases="quantized"``. The result's
    tensors are float64 arrays equal to ``m * 2**s`` (their float32 cast is exact), and its ``quant``
    records the method, code width, per-tensor ``s`` and the parameters (seed, Glorot and
    power-of-two ``W0``, ``H``), so :func:`decode_model_codes` recovers the integer codes.

    Stochastic methods draw from ``numpy.random.default_rng``, one independent stream per tensor
    spawned from ``seed`` in tensor-key order, so a tensor's draw does not depend on which other
    tensors are quantized. Deterministic methods are idempotent: quantizing their output again
    gives the same values and the same scales.

    ``scale="row"`` (:data:`ROW_SCALE_METHODS`) gives every weight matrix one scale per output row:
    the tensor's scale plus :func:`row_offsets` of its layer (``w_ih`` and ``w_hh`` share them; the
    head has its own), or the per-row scales ``row_scales[key]`` where given (learned in training).
    Quantized biases keep one scale per tensor. The record then holds a list of scales per matrix.
    Re-quantizing a row-scaled model with the statistic may pick other levels; pass its scales.

    Raises
    ------
    QuantError
        For parameters the method cannot honour, or parameters that do not apply to it.
    """
    if not isinstance(model, RNNModel):
        raise TypeError(f"model must be an RNNModel, not {type(model).__name__}")
    _check_method(method)
    kind = CODE_KIND[method]
    stochastic = method.endswith("-stoch")
    if biases not in ("fixed", "quantized"):
        raise QuantError(f"biases must be 'fixed' or 'quantized', not {biases!r}")
    seed = _int("seed", seed)
    if seed < 0:
        raise QuantError(f"seed must be a non-negative int, not {seed}")
    # Parameters that do not apply to the method are errors rather than silently ignored.
    if w0 is not None and method not in ("ternary", "ternary-stoch"):
        raise QuantError(f"w0 applies to ternary and ternary-stoch only, not {method}")
    if (e_min is not None or e_max is not None) and kind != "exp":
        raise QuantError(f"e_min/e_max apply to exp and exp-stoch only, not {method}")
    if zero is not True and kind != "exp":
        raise QuantError(f"zero=False (paper-exact) applies to exp and exp-stoch only, not {method}")
    if H != 1.0 and kind != "binary":
        raise QuantError(f"H applies to binary and binary-stoch only, not {method}")
    if kind == "binary":
        _log2_pow2("H", H)
    if w0 is not None:
        pow2_round_w0(w0)
    if scale not in SCALE_GRANULARITIES:
        raise QuantError(f"scale must be one of {', '.join(SCALE_GRANULARITIES)}, not {scale!r}")
    if scale == "row" and method not in ROW_SCALE_METHODS:
        raise QuantError(f"per-row scales apply to {', '.join(ROW_SCALE_METHODS)}, not {method}")
    if row_scales is not None and scale != "row":
        raise QuantError("row_scales apply to scale='row' only")
    global_range = kind == "exp" and (e_min is not None or e_max is not None)
    if global_range:  # one range for every tensor; bits may follow from it
        bits = None if bits is None else _check_bits(method, bits)
        bits, e_min, e_max = exp_range(bits=bits, e_min=e_min, e_max=e_max)
    else:
        default = FIXED_BITS.get(kind, DEFAULT_BITS.get(kind))
        bits = _check_bits(method, default if bits is None else bits)

    keys = model.tensor_keys()
    streams = np.random.SeedSequence(seed).spawn(len(keys))
    new: dict[str, np.ndarray] = {}
    scales: dict[str, int] = {}
    w0_used: dict[str, float] = {}
    w0_pow2: dict[str, float] = {}
    rows = {} if scale == "tensor" else _model_row_scales(model, method, w0, H, row_scales)
    for (key, (_, _, name)), stream in zip(keys.items(), streams):
        if _is_bias(name) and biases == "fixed":
            continue
        w = model.tensor(key)
        tw0 = None
        if kind == "ternary" and method != "pow2-ternary":
            tw0 = glorot_bound(model, key) if w0 is None else float(w0)
            w0_used[key] = tw0
            w0_pow2[key] = math.ldexp(1.0, pow2_round_w0(tw0))
        try:
            r = quantize_tensor(
                w,
                method,
                bits=bits,
                w0=tw0,
                e_min=e_min,
                e_max=e_max,
                zero=zero,
                H=H,
                rng=np.random.default_rng(stream),
                row_scales=rows.get(key),
            )
        except QuantError as e:
            raise QuantError(f"tensor {key!r}: {e}") from None
        if not np.array_equal(r.values.astype(np.float32), r.values):
            raise QuantError(f"tensor {key!r}: quantized values do not fit float32 exactly (s = {r.scale_log2})")
        values = r.values.copy()
        values.flags.writeable = True
        new[key] = values
        scales[key] = tuple(int(v) for v in r.scale_log2) if key in rows else r.scale_log2
        bits = r.codec.bits

    params: dict[str, object] = {}
    if stochastic:
        params["seed"] = seed
    if kind == "binary":
        params["H"] = float(H)
    if w0_used:
        if w0 is not None:
            params["w0"] = float(w0)
        params["w0_glorot" if w0 is None else "w0_given"] = w0_used
        params["w0_pow2"] = w0_pow2
    if scale == "row":
        params["row_scale"] = "given" if row_scales is not None else "mean"
    spec = QuantSpec(
        method=method,
        bits=int(bits),
        scales=scales,
        biases=biases,
        e_min=e_min if global_range else None,
        e_max=e_max if global_range else None,
        zero=zero,
        params=params,
    )
    return _replace_tensors(model, new, spec)


def _tensor_scale(model: RNNModel, key: str, method: str, w0: float | None, H: float) -> int:
    """The per-tensor scale ``s`` of a binary or ternary method (the base of per-row scales)."""
    kind = CODE_KIND[method]
    if kind == "binary":
        return _log2_pow2("H", H)
    if method == "pow2-ternary":
        return -1
    return pow2_round_w0(glorot_bound(model, key) if w0 is None else float(w0))


def row_groups(model: RNNModel) -> list[list[str]]:
    """The weight matrices whose rows share per-row scales: each layer's ``[w_ih, w_hh]``, the head's weight."""
    keys = {v: k for k, v in model.tensor_keys().items()}
    groups = [[keys[("layer", k, "w_ih")], keys[("layer", k, "w_hh")]] for k in range(model.num_layers)]
    if model.head is not None:
        groups.append([keys[("head", None, "weight")]])
    return groups


def _model_row_scales(model: RNNModel, method: str, w0: float | None, H: float,
                      given: Mapping[str, Any] | None) -> dict[str, np.ndarray]:
    """Per-row scales of every weight matrix: given, or tensor scale + :func:`row_offsets` of its group."""
    out: dict[str, np.ndarray] = {}
    groups = row_groups(model)
    if given is not None:
        want = {k for g in groups for k in g}
        extra = sorted(set(given) - want)
        if extra or set(given) != want:
            raise QuantError(f"row_scales must name exactly the weight matrices ({', '.join(sorted(want))}), "
                             f"not {', '.join(sorted(given))}")
        for key in want:
            out[key] = _row_scales(f"row_scales[{key!r}]", given[key], np.asarray(model.tensor(key)))
        return out
    for group in groups:
        parts = [(model.tensor(k), _tensor_scale(model, k, method, w0, H)) for k in group]
        d = row_offsets(parts, method)
        for k, (_, s) in zip(group, parts):
            out[k] = np.clip(s + d, EXP_LIMITS[0], EXP_LIMITS[1])
    return out


def _replace_tensors(model: RNNModel, new: Mapping[str, np.ndarray], quant: QuantSpec | None) -> RNNModel:
    keys = model.tensor_keys()
    layers = [dict(w_ih=l.w_ih, w_hh=l.w_hh, b_ih=l.b_ih, b_hh=l.b_hh) for l in model.layers]
    head = None if model.head is None else dict(weight=model.head.weight, bias=model.head.bias)
    for key, arr in new.items():
        kind, k, name = keys[key]
        (layers[k] if kind == "layer" else head)[name] = arr
    return dataclasses.replace(
        model,
        layers=tuple(Layer(**l) for l in layers),
        head=None if head is None else Head(**head),
        quant=quant,
    )


def decode_model_codes(model: RNNModel) -> dict[str, tuple[np.ndarray, int | np.ndarray]]:
    """Recover ``(m, s)`` of every quantized tensor of a model from its values and ``QuantSpec``.

    ``s`` is an int, or for a matrix with per-row scales an int64 array with one scale per row.

    This is what the simulator and the exporter call: it checks that every value is exactly
    ``m * 2**s`` with ``m`` an integer the method's codec stores (and, for exponential codes with a
    recorded range, ``|m| <= 2**(e_max - e_min)``; paper-exact exp codes have no zero).

    Raises
    ------
    QuantError
        When the model is not quantized, the spec is inconsistent, or a value is off the grid
        (the message names the tensor and the first offending value).
    """
    spec = model.quant
    if spec is None:
        raise QuantError("model is not quantized (it has no QuantSpec); run hwsim quantize first")
    _check_method(spec.method)
    kind = CODE_KIND[spec.method]
    codec = WeightCodec(kind, _check_bits(spec.method, spec.bits))
    keys = model.tensor_keys()
    missing = [k for k in keys if k not in spec.scales and not (_is_bias(keys[k][2]) and spec.biases == "fixed")]
    if missing:
        raise QuantError(f"QuantSpec has no scale for tensor {missing[0]!r}")
    unknown = [k for k in spec.scales if k not in keys]
    if unknown:
        raise QuantError(f"QuantSpec names tensor {unknown[0]!r}, which the model does not have")
    out: dict[str, tuple[np.ndarray, int]] = {}
    for key in keys:  # model order, whatever order the record's JSON gave the scales
        if key not in spec.scales:
            continue
        w = np.asarray(model.tensor(key), dtype=np.float64)
        s = spec.scales[key]
        if isinstance(s, (tuple, list)):
            if w.ndim != 2 or len(s) != w.shape[0]:
                raise QuantError(f"tensor {key!r} has {len(s)} per-row scales, but its shape is {w.shape}")
            s = np.asarray(s, dtype=np.int64)
            s.flags.writeable = False
        else:
            s = int(s)
        q = np.ldexp(w, -_per_row(s, w))
        on_grid = np.isfinite(q) & (q == np.round(q)) & (np.abs(q) <= 2.0**62)
        if kind == "exp" and spec.e_min is not None and spec.e_max is not None:
            on_grid &= np.abs(q) <= 2.0 ** (spec.e_max - spec.e_min)
        if kind == "exp" and not spec.zero:
            on_grid &= q != 0
        m = np.where(on_grid, q, 0).astype(np.int64)
        on_grid &= np.isin(m, codec.valid_m())
        if not on_grid.all():
            idx = tuple(int(i) for i in np.argwhere(~on_grid)[0])
            raise QuantError(
                f"tensor {key!r} is not on the {spec.method} {spec.bits}-bit grid: value {float(w[idx])!r} at "
                f"index {idx} is not m * 2**{s if isinstance(s, int) else int(s[idx[0]])} with m in "
                f"{{{_grid(codec, spec)}}}"
            )
        out[key] = (m, s)
    return out


def _grid(codec: WeightCodec, spec: QuantSpec) -> str:
    ms = [int(v) for v in codec.valid_m()]
    if codec.kind == "exp" and spec.e_min is not None and spec.e_max is not None:
        top = 1 << (spec.e_max - spec.e_min)
        ms = [v for v in ms if abs(v) <= top]
    if codec.kind == "exp" and not spec.zero:
        ms = [v for v in ms if v != 0]
    return ", ".join(map(str, ms)) if len(ms) <= 9 else f"{ms[0]}, ..., {ms[-1]}"
