"""Reference definitions of the contract's integer operations (vectorized NumPy, int64).

These are the readable definitions of docs/datapath.md, "Requantization": the Numba kernels
re-implement them per element and the tests compare the two exactly.
"""

from __future__ import annotations

import numpy as np

from ._config import FixedFormat

#: Float inputs are clipped to +-2**40 before conversion so absurd values cannot overflow int64;
#: any such value saturates (or wraps from the clipped value) like every other out-of-range input.
_FLOAT_CLIP = float(2**40)


def shift_round(v: np.ndarray, k: int, rounding: str) -> np.ndarray:
    """``v / 2**k`` rounded to an integer by ``rounding`` (k >= 0; k == 0 is exact)."""
    v = np.asarray(v, dtype=np.int64)
    if k < 0:
        raise ValueError(f"shift must be >= 0, not {k}")
    if k == 0:
        return v.copy()
    if rounding == "floor":
        return v >> k
    if rounding == "half_up":
        return (v + (np.int64(1) << (k - 1))) >> k
    if rounding == "half_even":
        q = v >> k
        rem = v - (q << k)
        half = np.int64(1) << (k - 1)
        return q + ((rem > half) | ((rem == half) & ((q & 1) == 1)))
    if rounding == "zero":
        return np.where(v >= 0, v >> k, -((-v) >> k))
    raise ValueError(f"rounding must be floor, half_up, half_even or zero, not {rounding!r}")


def fit(q: np.ndarray, fmt: FixedFormat, overflow: str) -> tuple[np.ndarray, np.ndarray]:
    """Bring integers into ``fmt``'s range: saturate or wrap. Returns (values, out_of_range mask)."""
    q = np.asarray(q, dtype=np.int64)
    out = (q < fmt.min_int) | (q > fmt.max_int)
    if overflow == "saturate":
        return np.clip(q, fmt.min_int, fmt.max_int), out
    if overflow == "wrap":
        mask = (np.int64(1) << fmt.bits) - 1
        return ((q - fmt.min_int) & mask) + fmt.min_int, out
    raise ValueError(f"overflow must be saturate or wrap, not {overflow!r}")


def requant(
    v: np.ndarray, from_frac: int, fmt: FixedFormat, rounding: str, overflow: str
) -> tuple[np.ndarray, np.ndarray]:
    """Move integers with ``from_frac`` fraction bits into ``fmt``: one rounding, then overflow.

    A move to more fraction bits is an exact left shift. Returns (values, out_of_range mask).
    """
    v = np.asarray(v, dtype=np.int64)
    k = from_frac - fmt.frac
    q = v << -k if k < 0 else shift_round(v, k, rounding)
    return fit(q, fmt, overflow)


def quantize_float(
    x: np.ndarray, fmt: FixedFormat, rounding: str, overflow: str
) -> tuple[np.ndarray, np.ndarray]:
    """Float values -> integers of ``fmt`` (the input node "x"). Returns (values, out_of_range mask)."""
    v = np.clip(np.asarray(x, dtype=np.float64) * 2.0**fmt.frac, -_FLOAT_CLIP, _FLOAT_CLIP)
    if rounding == "floor":
        q = np.floor(v)
    elif rounding == "half_up":
        q = np.floor(v + 0.5)
    elif rounding == "half_even":
        q = np.rint(v)
    elif rounding == "zero":
        q = np.trunc(v)
    else:
        raise ValueError(f"rounding must be floor, half_up, half_even or zero, not {rounding!r}")
    return fit(q.astype(np.int64), fmt, overflow)


def to_float(q: np.ndarray, frac: int) -> np.ndarray:
    """Integers with ``frac`` fraction bits -> their float64 values (exact)."""
    return np.asarray(q, dtype=np.float64) * 2.0**-frac
