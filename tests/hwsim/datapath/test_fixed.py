"""Requantization: the NumPy reference (hwsim.datapath._fixed), the kernel scalars and the twin agree, and
all three match the rounding definitions of docs/datapath.md computed with exact fractions."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

import naive
from hwsim.sim import _kernels as K
from hwsim.datapath._config import OVERFLOW_CODE, ROUNDING_CODE, ROUNDINGS, FixedFormat
from hwsim.datapath._fixed import fit, quantize_float, requant, shift_round


def exact_round(v: Fraction, rounding: str) -> int:
    """The doc's rounding of an exact rational value."""
    if rounding == "floor":
        return math.floor(v)
    if rounding == "half_up":
        return math.floor(v + Fraction(1, 2))
    if rounding == "half_even":
        return round(v)  # Python rounds Fractions half to even
    return math.trunc(v)


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_shift_round_matches_exact_definition(rounding):
    v = np.arange(-600, 601, dtype=np.int64)
    for k in range(0, 8):
        want = [exact_round(Fraction(int(a), 2**k), rounding) for a in v]
        assert_array_equal(shift_round(v, k, rounding), want)
        code = ROUNDING_CODE[rounding]  # the kernel's requant into a 63-bit integer format is shift_round
        assert [K.requant(np.int64(a), k, 63, 0, code, 0) for a in v] == [(w, 0) for w in want]
        assert [naive.shift_round(int(a), k, rounding) for a in v] == want


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_shift_round_ties_and_extremes(rounding):
    """Ties at +-0.5, +-1.5 and values near the int64 ends that the datapath can reach (2**61)."""
    v = np.array([-3, -1, 1, 3, -(2**61), 2**61 - 1, -(2**61) + 1], dtype=np.int64)
    want = [exact_round(Fraction(int(a), 2), rounding) for a in v]
    assert_array_equal(shift_round(v, 1, rounding), want)
    assert [naive.shift_round(int(a), 1, rounding) for a in v] == want
    assert [K.requant(np.int64(a), 1, 63, 0, ROUNDING_CODE[rounding], 0)[0] for a in v] == want
    ties = {"floor": [-2, -1, 0, 1], "half_up": [-1, 0, 1, 2], "half_even": [-2, 0, 0, 2], "zero": [-1, 0, 0, 1]}
    assert shift_round(np.array([-3, -1, 1, 3]), 1, rounding).tolist() == ties[rounding]


def test_shift_round_rejects_negative_shift_and_unknown_mode():
    with pytest.raises(ValueError, match=r"^shift must be >= 0, not -1$"):
        shift_round(np.array([1]), -1, "floor")
    with pytest.raises(ValueError, match=r"^rounding must be floor, half_up, half_even or zero, not 'up'$"):
        shift_round(np.array([1]), 1, "up")


@pytest.mark.parametrize("overflow", ["saturate", "wrap"])
@pytest.mark.parametrize("bits", [2, 3, 8, 16, 24])
def test_fit_at_the_range_boundaries(bits, overflow):
    fmt = FixedFormat(bits, 0)
    lo, hi = fmt.min_int, fmt.max_int
    q = np.array([lo - 2**bits - 1, lo - 1, lo, 0, hi, hi + 1, hi + 2**bits + 1], dtype=np.int64)
    got, out = fit(q, fmt, overflow)
    assert out.tolist() == [True, True, False, False, False, True, True]
    if overflow == "saturate":
        assert got.tolist() == [lo, lo, lo, 0, hi, hi, hi]
    else:  # keep the low `bits` bits, two's complement
        assert got.tolist() == [((int(a) - lo) % 2**bits) + lo for a in q]
        assert got.tolist()[1] == hi and got.tolist()[5] == lo
    for a, g, o in zip(q, got, out):
        assert K.requant(np.int64(a), 0, bits, 0, 0, OVERFLOW_CODE[overflow]) == (g, int(o))


@settings(max_examples=naive.examples(400))
@given(
    v=st.integers(-(2**47), 2**47),
    from_frac=st.integers(0, 30),
    bits=st.integers(2, 24),
    data=st.data(),
    rounding=st.sampled_from(ROUNDINGS),
    overflow=st.sampled_from(["saturate", "wrap"]),
)
def test_requant_three_ways(v, from_frac, bits, data, rounding, overflow):
    fmt = FixedFormat(bits, data.draw(st.integers(0, bits - 1)))
    assume(abs(v) << max(0, fmt.frac - from_frac) < 2**62)  # the datapath's left shifts stay in int64
    ref, ref_out = requant(np.array([v]), from_frac, fmt, rounding, overflow)
    twin = naive.requant(v, from_frac, fmt, rounding, overflow)
    kern = K.requant(np.int64(v), np.int64(from_frac), np.int64(bits), np.int64(fmt.frac),
                     np.int64(ROUNDING_CODE[rounding]), np.int64(OVERFLOW_CODE[overflow]))  # fmt: skip
    assert (int(ref[0]), bool(ref_out[0])) == (twin[0], twin[1]) == (kern[0], bool(kern[1]))
    exact = exact_round(Fraction(v, 2**from_frac) * 2**fmt.frac, rounding)
    assert twin[1] == (not fmt.min_int <= exact <= fmt.max_int)
    if not twin[1]:
        assert twin[0] == exact


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_quantize_float_rounds_like_requant(rounding):
    """Float inputs use the same rounding: k/2**12 grid points plus exact halves between them."""
    fmt = FixedFormat(16, 4)
    a = np.arange(-300, 301, dtype=np.int64)  # a/32: the halves of s16.4's grid
    q, out = quantize_float(a / 32.0, fmt, rounding, "saturate")
    assert not out.any()
    assert_array_equal(q, shift_round(a, 1, rounding))


def test_quantize_float_saturates_and_counts_huge_values():
    fmt = FixedFormat(8, 2)
    q, out = quantize_float(np.array([1e30, -1e30, 31.75, -32.0, 31.9]), fmt, "half_up", "saturate")
    assert q.tolist() == [127, -128, 127, -128, 127] and out.tolist() == [True, True, False, False, True]
