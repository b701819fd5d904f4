"""ROM packing (export/_pack.py) against its bitstring twin, for every code kind and odd widths."""

from __future__ import annotations

import numpy as np
import pytest
from bitstring import Bits

from hwsim.model._codes import WeightCodec
from hwsim.datapath._config import DatapathConfig
from hwsim._errors import FormatError
from hwsim.datapath._plan import lower
from hwsim.model._quant import quantize_model
from hwsim.export import (
    pack_codes,
    pack_codes_naive,
    pack_ints,
    rom_images,
    unpack_codes,
    words_from_ints,
    words_to_ints,
)
from hwsim.export._pack import tile_codes, untile_codes

# (code_bits, word_bits): fast paths (B | 8, B = 16), the bit-expansion path, W not a multiple of 8,
# one code per word, and the 1024-bit maximum.
WIDTHS = [(2, 32), (1, 1024), (2, 2), (2, 6), (3, 9), (4, 32), (5, 1020), (6, 96), (7, 7), (8, 64), (16, 16), (16, 48), (2, 1024), (4, 12)]


@pytest.mark.parametrize(("code_bits", "word_bits"), WIDTHS, ids=[f"B{b}_W{w}" for b, w in WIDTHS])
@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (3, 13), (11, 97)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_pack_matches_naive_twin_and_unpacks(code_bits, word_bits, shape):
    rng = np.random.default_rng(code_bits * 1000 + word_bits)
    codes = rng.integers(0, 1 << code_bits, size=shape)
    fast = pack_codes(codes, code_bits, word_bits)
    np.testing.assert_array_equal(fast, pack_codes_naive(codes, code_bits, word_bits))
    k = word_bits // code_bits
    wpr = -(-shape[1] // k)
    assert fast.shape == (shape[0] * wpr, (word_bits + 7) // 8)
    back = unpack_codes(fast, code_bits, word_bits).reshape(shape[0], wpr * k)
    np.testing.assert_array_equal(back[:, : shape[1]], codes)
    assert not back[:, shape[1] :].any()  # padding is zero codes


def test_first_code_sits_in_least_significant_bits():
    # Row [1, 3, 0, 1] of ternary codes in 8-bit words: word = 01 00 11 01 (MSB first).
    words = pack_codes(np.array([[1, 3, 0, 1]]), 2, 8)
    assert words_to_ints(words, 8, signed=False) == [Bits("0b01001101").uint]
    # Two words per row when the row overflows one word; the second is zero-padded.
    words = pack_codes(np.array([[1, 1, 1, 1, 3]]), 2, 8)
    assert words_to_ints(words, 8, signed=False) == [0b01010101, 0b00000011]


@pytest.mark.parametrize("width", [2, 5, 8, 21, 23, 32, 33, 62, 64])
def test_pack_ints_twos_complement_round_trip(width):
    rng = np.random.default_rng(width)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    v = np.concatenate([[lo, hi, 0, -1], rng.integers(lo, hi, size=50, endpoint=True)])
    words = pack_ints(v, width)
    assert words_to_ints(words, width) == [int(x) for x in v]
    assert words_to_ints(words, width, signed=False) == [int(x) & ((1 << width) - 1) for x in v]
    np.testing.assert_array_equal(words, words_from_ints([int(x) for x in v], width))


def test_pack_ints_refuses_out_of_range():
    with pytest.raises(FormatError, match=r"^8-bit two's complement words hold \[-128, 127\], not 128$"):
        pack_ints([1, 128], 8)


def test_pack_codes_refuses_bad_widths_and_codes():
    with pytest.raises(FormatError, match=r"^word width must be a multiple of the code width \(3\), not 32$"):
        pack_codes(np.zeros((1, 1)), 3, 32)
    with pytest.raises(FormatError, match=r"^2-bit codes must lie in \[0, 3\]$"):
        pack_codes(np.array([[4]]), 2, 32)
    with pytest.raises(FormatError, match=r"^word width must be in \[1, 65536\] bits, not 65537$"):
        pack_codes(np.zeros((1, 1)), 1, 65537)


METHODS = [("ternary", None), ("exp", 4), ("exp", 3), ("binary", None), ("uniform", 5), ("pow2-ternary", None)]


FOLDS = [(1, 1), (1, 5), (3, 2), (7, 14), (2, 9)]  # (rows, lanes): 1, divisors, non-divisors, full


@pytest.mark.parametrize(("method", "bits"), METHODS, ids=[f"{m}{b or ''}" for m, b in METHODS])
@pytest.mark.parametrize(("rows", "lanes"), FOLDS, ids=[f"r{r}l{l}" for r, l in FOLDS])
@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn_tanh"])
def test_rom_images_hold_every_accumulation_in_plan_order(make_model, method, bits, cell, rows, lanes):
    model = quantize_model(make_model(cell, 5, 7, 2, 3, seed=1), method, bits=bits)
    codec = WeightCodec.for_method(method, model.quant.bits)
    word_bits = codec.bits * 5  # 5 codes per word: small tiles share a word, large ones fill it
    plan = lower(model, DatapathConfig(word_bits=word_bits, rows=rows, lanes=lanes))
    roms = rom_images(plan)
    names = [n for k in range(2) for n in (f"l{k}_weights", f"l{k}_bias")] + ["head_weights", "head_bias", "sigmoid_lut", "tanh_lut"]
    assert list(roms) == names
    tpw = max(1, 5 // (rows * lanes))
    for layer in plan.layers:
        w, b = roms[f"l{layer.index}_weights"], roms[f"l{layer.index}_bias"]
        assert [s.name for s in w.segments] == [a.name for a in layer.accums]
        tiles = sum(-(-a.rows // rows) * -(-a.cols // lanes) for a in layer.accums)
        assert w.width == tpw * rows * lanes * codec.bits and w.depth == -(-tiles // tpw)
        padded = [int(a.bias[i]) if i < a.rows else 0 for a in layer.accums for i in range(-(-a.rows // rows) * rows)]
        assert b.width == rows * layer.acc_bits and b.ints() == padded
        for seg, acc in zip(w.segments, layer.accums):
            np.testing.assert_array_equal(codec.decode(w.matrix_codes(seg)), acc.m)
    np.testing.assert_array_equal(codec.decode(roms["head_weights"].matrix_codes(roms["head_weights"].segments[0])), plan.head.m)
    assert roms["sigmoid_lut"].ints() == [int(v) for v in plan.sigmoid_table]
    assert roms["tanh_lut"].width == plan.config.act.bits


def test_rom_images_without_head_and_with_pwl(make_model):
    model = quantize_model(make_model("gru", 3, 4, 1, None), "ternary")
    roms = rom_images(lower(model, DatapathConfig(activation="pwl")))
    assert list(roms) == ["l0_weights", "l0_bias"]


def test_tiles_fold_rows_then_columns():
    # a 3 x 5 matrix in 2 x 2 tiles: row groups {0,1}, {2}; column groups {0,1}, {2,3}, {4}
    codes = np.arange(15).reshape(3, 5)
    t = tile_codes(codes, 2, 2)
    assert t.shape == (6, 4)
    assert t[0].tolist() == [0, 1, 5, 6] and t[2].tolist() == [4, 0, 9, 0] and t[3].tolist() == [10, 11, 0, 0]
    np.testing.assert_array_equal(untile_codes(t, 3, 5, 2, 2), codes)


def test_worked_example_of_rom_format_md():
    codec = WeightCodec("ternary", 2)
    words = pack_codes(codec.encode(np.array([[1, -1, 0, 1, -1]])), 2, 8)
    assert words_to_ints(words, 8, signed=False) == [0x4D, 0x03]
