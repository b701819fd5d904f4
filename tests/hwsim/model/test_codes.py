"""Tests of hwsim.model._codes: the weight-code layouts of docs/datapath.md, against a naive twin."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwsim.model._codes import CODE_KIND, KIND_CODE, WeightCodec
from hwsim._errors import QuantError
from hwsim.model._model import METHODS

ALL_CODECS = (
    [WeightCodec("binary", 1), WeightCodec("ternary", 2)]
    + [WeightCodec("exp", b) for b in range(2, 7)]
    + [WeightCodec("uniform", b) for b in range(2, 17)]
)


def naive_decode(kind: str, bits: int, code: int) -> int | None:
    """The layout table of _codes.py written out bit by bit; None for a never-written code."""
    msb = (code >> (bits - 1)) & 1
    if kind == "binary":
        return -1 if code else 1
    if kind == "exp":
        f = code & ((1 << (bits - 1)) - 1)
        if f == 0:
            return None if msb else 0
        return (-1 if msb else 1) * 2 ** (f - 1)
    value = code - (1 << bits) if msb else code  # two's complement
    if kind == "ternary" and value == -2:
        return None
    return value


def _id(c: WeightCodec) -> str:
    return f"{c.kind}{c.bits}"


@pytest.mark.parametrize("codec", ALL_CODECS, ids=_id)
def test_decode_matches_naive_table_for_every_written_code(codec):
    written = dict(codec.table())
    for code in range(1 << codec.bits):
        expected = naive_decode(codec.kind, codec.bits, code)
        if expected is None:
            assert code not in written
            with pytest.raises(QuantError, match=r"^(ternary code 0b10|exp code 0x\w+ \(negative zero\)) is never written$"):
                codec.decode(np.array([code]))
        elif expected < codec.m_min:  # uniform's most negative code is never written
            assert code not in written
            with pytest.raises(QuantError, match=r"^uniform code 0x\w+ \(-2\*\*\d+\) is never written$"):
                codec.decode(np.array([code]))
        else:
            assert written[code] == expected
            assert codec.decode(np.array([code]))[0] == expected


@pytest.mark.parametrize("codec", ALL_CODECS, ids=_id)
def test_valid_m_is_the_range_and_roundtrips(codec):
    ms = codec.valid_m()
    assert ms.dtype == np.int64
    assert np.all(np.diff(ms) > 0)
    assert ms[0] == codec.m_min and ms[-1] == codec.m_max
    codes = codec.encode(ms)
    assert codes.dtype == np.uint32
    assert np.all(codes < (1 << codec.bits))
    assert len(set(codes.tolist())) == len(ms)  # injective
    np.testing.assert_array_equal(codec.decode(codes), ms)
    table = codec.table()
    assert [c for c, _ in table] == sorted(c for c, _ in table)
    assert sorted(m for _, m in table) == ms.tolist()


@pytest.mark.parametrize("bits", range(2, 7))
def test_exp_range_and_shift(bits):
    c = WeightCodec("exp", bits)
    assert c.max_shift == 2 ** (bits - 1) - 2
    assert c.m_max == 2**c.max_shift == -c.m_min
    mags = c.valid_m()[c.valid_m() > 0]
    np.testing.assert_array_equal(mags, 2 ** np.arange(c.max_shift + 1))
    assert 0 in c.valid_m()


@pytest.mark.parametrize("bits", range(2, 17))
def test_uniform_range_is_symmetric(bits):
    c = WeightCodec("uniform", bits)
    assert c.m_max == 2 ** (bits - 1) - 1 == -c.m_min
    assert c.max_shift == 0


def test_named_layouts():
    assert WeightCodec("binary", 1).encode([1, -1]).tolist() == [0, 1]
    assert WeightCodec("ternary", 2).encode([0, 1, -1]).tolist() == [0b00, 0b01, 0b11]
    assert WeightCodec("exp", 4).encode([0, 1, 2, 64, -1, -64]).tolist() == [0, 1, 2, 7, 0b1001, 0b1111]
    assert WeightCodec("uniform", 4).encode([-7, -1, 0, 7]).tolist() == [0b1001, 0b1111, 0, 0b0111]


@given(st.sampled_from(ALL_CODECS), st.data())
def test_encode_decode_roundtrip_property(codec, data):
    ms = data.draw(st.lists(st.sampled_from(codec.valid_m().tolist()), min_size=1, max_size=20))
    m = np.array(ms, dtype=np.int64).reshape(-1, 1)
    codes = codec.encode(m)
    assert codes.shape == m.shape
    np.testing.assert_array_equal(codec.decode(codes), m)


@pytest.mark.parametrize(
    ("codec", "m", "grid"),
    [
        (WeightCodec("binary", 1), 0, r"-1, 1"),
        (WeightCodec("ternary", 2), 2, r"-1, 0, 1"),
        (WeightCodec("exp", 3), 3, r"-4, -2, -1, 0, 1, 2, 4"),
        (WeightCodec("exp", 4), 128, r"-64, \.\.\., 64"),
        (WeightCodec("uniform", 4), -8, r"-7, \.\.\., 7"),
    ],
    ids=lambda v: _id(v) if isinstance(v, WeightCodec) else None,
)
def test_encode_off_grid_raises(codec, m, grid):
    with pytest.raises(QuantError, match=rf"^{codec.kind} {codec.bits}-bit codes hold m in \{{{grid}\}}, not {m}$"):
        codec.encode(np.array([0, m]))


def test_decode_out_of_range_raises():
    with pytest.raises(QuantError, match=r"^4-bit codes must lie in \[0, 15\]"):
        WeightCodec("exp", 4).decode([16])
    with pytest.raises(QuantError, match=r"^2-bit codes must lie in \[0, 3\]"):
        WeightCodec("ternary", 2).decode([-1])


@pytest.mark.parametrize(
    ("kind", "bits", "message"),
    [
        ("binary", 2, r"^binary codes must be 1 bits wide, not 2$"),
        ("ternary", 3, r"^ternary codes must be 2 bits wide, not 3$"),
        ("exp", 7, r"^exponential codes must be 2 to 6 bits wide, not 7$"),
        ("exp", 1, r"^exponential codes must be 2 to 6 bits wide, not 1$"),
        ("uniform", 17, r"^uniform codes must be 2 to 16 bits wide, not 17$"),
        ("shift", 4, r"^code kind must be one of binary, ternary, exp, uniform, not 'shift'$"),
    ],
)
def test_bad_codec_raises(kind, bits, message):
    with pytest.raises(QuantError, match=message):
        WeightCodec(kind, bits)


def test_for_method_covers_every_method():
    assert set(CODE_KIND) == set(METHODS)
    assert set(CODE_KIND.values()) == set(KIND_CODE)
    assert WeightCodec.for_method("pow2-ternary", 2) == WeightCodec("ternary", 2)
    assert WeightCodec.for_method("exp-stoch", 5) == WeightCodec("exp", 5)
    with pytest.raises(QuantError, match=r"^method must be one of binary, .*, uniform, not 'fp8'$"):
        WeightCodec.for_method("fp8", 8)


def test_encode_rejects_non_integer_m():
    with pytest.raises(QuantError, match=r"^weight multipliers must be integers, not 0.5$"):
        WeightCodec("ternary", 2).encode(np.array([0.5]))


def test_uniform_decode_rejects_most_negative_code():
    with pytest.raises(QuantError, match=r"^uniform code 0x8 \(-2\*\*3\) is never written$"):
        WeightCodec("uniform", 4).decode(np.array([0b1000]))
