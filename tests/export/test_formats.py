"""Memory-file writers and readers (export/_formats.py): every format round-trips, odd sizes too."""

from __future__ import annotations

import numpy as np
import pytest

from hwsim._errors import FormatError
from hwsim.export import FORMATS, check_formats, format_words, parse_words, read_words, words_from_ints, words_to_ints

WIDTHS = [1, 2, 6, 7, 16, 23, 32, 33, 64, 96, 1024]
DEPTHS = [1, 2, 13, 257]


def _random_words(depth: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vals = [int.from_bytes(rng.bytes((width + 7) // 8), "little") & ((1 << width) - 1) for _ in range(depth)]
    vals[0] = (1 << width) - 1  # all ones: the top digit and the last bit must survive
    return words_from_ints(vals, width)


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("width", WIDTHS, ids=lambda w: f"W{w}")
@pytest.mark.parametrize("depth", DEPTHS, ids=lambda d: f"D{d}")
def test_round_trip(fmt, width, depth, tmp_path):
    words = _random_words(depth, width, width * 7 + depth)
    data = format_words(words, width, fmt, comment="two\nlines")
    back, w = parse_words(data, fmt, width)
    assert w == width
    np.testing.assert_array_equal(back, words)
    p = tmp_path / f"rom{FORMATS[fmt]}"
    p.write_bytes(data)
    np.testing.assert_array_equal(read_words(p, width), words)


def test_text_layouts_are_what_the_tools_expect():
    words = words_from_ints([0x1F, 0, 0x2A5], 10)
    assert format_words(words, 10, "hex") == b"01f\n000\n2a5\n"
    assert format_words(words, 10, "memb") == b"0000011111\n0000000000\n1010100101\n"
    assert format_words(words, 10, "bin") == bytes([0x1F, 0, 0, 0, 0xA5, 0x02])
    assert format_words(words, 10, "coe", comment="c") == (
        b"; c\nmemory_initialization_radix=16;\nmemory_initialization_vector=\n01f,\n000,\n2a5;\n"
    )
    assert format_words(words, 10, "mif") == (
        b"WIDTH=10;\nDEPTH=3;\n\nADDRESS_RADIX=HEX;\nDATA_RADIX=HEX;\n\nCONTENT BEGIN\n"
        b"\t0 : 01f;\n\t1 : 000;\n\t2 : 2a5;\nEND;\n"
    )


def test_hex_agrees_with_python_formatting():
    rng = np.random.default_rng(3)
    vals = [int(v) for v in rng.integers(0, 1 << 62, size=100)]
    text = format_words(words_from_ints(vals, 62), 62, "hex").decode()
    assert text.splitlines() == [f"{v:016x}" for v in vals]


def test_readers_accept_hand_written_files():
    assert words_to_ints(parse_words(b"// c\n0F_f /* x */\n\n1\n", "hex", 12)[0], 12, signed=False) == [0xFF, 1]
    mif = b"WIDTH=8;\nDEPTH=4;\nADDRESS_RADIX=DEC;\nDATA_RADIX=BIN;\nCONTENT BEGIN\n[0..2] : 101;\n3 : 1;\nEND;\n"
    words, w = parse_words(mif, "mif")
    assert w == 8 and words_to_ints(words, 8, signed=False) == [5, 5, 5, 1]
    coe = b"memory_initialization_radix=10;\nmemory_initialization_vector=1 2,3;\n"
    assert words_to_ints(parse_words(coe, "coe", 4)[0], 4, signed=False) == [1, 2, 3]


@pytest.mark.parametrize(
    ("data", "fmt", "width", "message"),
    [
        (b"1ff\n", "hex", 8, r"^<memory file>:1: word '1ff' does not fit 8 bits$"),
        (b"12\nzz\n", "hex", 8, r"^<memory file>:2: word must be a radix-16 number, not 'zz'$"),
        (b"@10\n00\n", "hex", 8, r"^<memory file>:1: address records \(@10\) are not supported; words must be consecutive$"),
        (b"\x00\x01\x02", "bin", 16, r"^<memory file>: a raw file of 16-bit words has a multiple of 2 bytes, not 3$"),
        (b"\xff", "bin", 7, r"^<memory file>: a word has bits set above bit 6$"),
        (b"WIDTH=8;\nDEPTH=2;\nCONTENT BEGIN\n0 : 1;\nEND;\n", "mif", None, r"^<memory file>: MIF leaves address 0x1 unset$"),
        (b"WIDTH=8;\nDEPTH=1;\nCONTENT BEGIN\n0 : 1;\nEND;\n", "mif", 9, r"^<memory file>: MIF WIDTH is 8, expected 9$"),
        (b"memory_initialization_vector=1;", "coe", 8, r"^<memory file>: a COE file must set memory_initialization_radix"),
        (b"00\n", "hex", None, r"^<memory file>: the hex format does not record the word width; pass it$"),
        (b"00\n", "txt", 8, r"^format must be one of hex, memb, coe, mif, bin, not 'txt'$"),
    ],
)
def test_readers_refuse_bad_files(data, fmt, width, message):
    with pytest.raises(FormatError, match=message):
        parse_words(data, fmt, width)


def test_check_formats():
    assert check_formats("bin, hex") == ("hex", "bin")
    assert check_formats(["mif"]) == ("mif",)
    with pytest.raises(FormatError, match=r"^format must be one of hex, memb, coe, mif, bin, not 'vhd'$"):
        check_formats("hex,vhd")
    with pytest.raises(FormatError, match=r"^at least one format is needed; choose from hex, memb, coe, mif, bin$"):
        check_formats(" , ")


def test_read_words_refuses_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(FormatError, match=r"^memory file suffix must be one of \.hex, \.memb, \.coe, \.mif, \.bin, not '\.txt'"):
        read_words(tmp_path / "a.txt", 8)
    with pytest.raises(FormatError, match=r"^memory file must exist, not found: "):
        read_words(tmp_path / "a.hex", 8)
