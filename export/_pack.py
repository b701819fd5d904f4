"""ROM packing: integer multipliers and table words -> ROM images (docs/rom_format.md).

A ROM image is a matrix of words held as little-endian bytes, shape ``(depth, ceil(W/8))``, with
the bits above ``W`` zero. That one representation is what every file format is printed from
(``_formats``) and what every reader parses back to, so writer and reader cannot disagree on a
bit. ``pack_codes`` puts ``K = W // B`` codes of ``B`` bits in a word: code ``j`` of a row sits in
word ``j // K`` of that row at bits ``[(j % K) * B +: B]``, the first code in the least significant
bits, so the RTL reads ``word[i*B +: B]``.

Weight ROMs are folded for the RTL's ``rows x lanes`` engine (``tile_codes``): one tile of
``rows * lanes`` codes per beat, tiles in (accumulation, row group, column group) order, and
``tiles_per_word`` tiles per ROM word (docs/rom_format.md, "Weight words").

``pack_codes_naive`` is the obviously-correct twin (one ``bitstring`` per word); the tests and the
benchmark compare the vectorized packer with it bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hwsim._errors import FormatError
from hwsim.datapath._schedule import head_folding

#: Roles a ROM plays; the manifest records one per ROM.
ROLES = ("weights", "bias", "row_shift", "sigmoid_lut", "tanh_lut")

#: The ROM check (docs/rom_format.md, "ROM check"): one more memory file beside the ROMs, one word
#: of ``ROM_CHECK_BITS`` holding ``ROM_CHECK_MAGIC`` (ASCII ``HWSR``). The top reads it through the
#: same path as every ROM and drives ``rom_ok`` from the comparison, so a ROM directory (or search
#: path) the tool did not find shows as ``rom_ok = 0`` instead of a core computing on zeros. The
#: magic has 0 and 1 bits in every nibble: neither an all-zero, all-one nor undefined memory matches.
ROM_CHECK_NAME = "rom_check"
ROM_CHECK_BITS = 32
ROM_CHECK_MAGIC = int.from_bytes(b"HWSR", "big")  # 0x48575352
#: the magic as the manifest and the top write it: ROM_CHECK_BITS / 4 hex digits
ROM_CHECK_MAGIC_HEX = f"{ROM_CHECK_MAGIC:0{ROM_CHECK_BITS // 4}x}"


def word_bytes(width: int) -> int:
    """Bytes of one word in the in-memory image and in ``.bin`` files: ``ceil(W / 8)``."""
    return (width + 7) // 8


#: Widest ROM word: a folded weight tile (rows x lanes codes) or a row group's biases.
MAX_ROM_WORD_BITS = 1 << 16


def _check_width(width: int, what: str = "word width") -> int:
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)):
        raise TypeError(f"{what} must be an int, not {type(width).__name__}")
    if not 1 <= width <= MAX_ROM_WORD_BITS:
        raise FormatError(f"{what} must be in [1, {MAX_ROM_WORD_BITS}] bits, not {width}")
    return int(width)


def _codes_per_word(code_bits: int, word_bits: int) -> int:
    _check_width(code_bits, "code width")
    _check_width(word_bits)
    if word_bits % code_bits:
        raise FormatError(f"word width must be a multiple of the code width ({code_bits}), not {word_bits}")
    return word_bits // code_bits


def _bits_to_words(bits: np.ndarray, width: int) -> np.ndarray:
    """(depth, width) 0/1 bits, least significant first -> (depth, ceil(width/8)) little-endian bytes."""
    nb = word_bytes(width)
    if width != 8 * nb:
        bits = np.concatenate([bits, np.zeros((bits.shape[0], 8 * nb - width), dtype=np.uint8)], axis=1)
    return np.packbits(bits, axis=1, bitorder="little")


def _words_to_bits(words: np.ndarray, width: int) -> np.ndarray:
    """Inverse of :func:`_bits_to_words`: (depth, nbytes) bytes -> (depth, width) bits, LSB first."""
    return np.unpackbits(words, axis=1, bitorder="little")[:, :width]


def pack_codes(codes: np.ndarray, code_bits: int, word_bits: int) -> np.ndarray:
    """Pack a code matrix into ROM words, row by row.

    Parameters
    ----------
    codes
        ``(rows, cols)`` unsigned codes, each below ``2**code_bits``.
    code_bits, word_bits
        ``B`` and ``W``; ``W`` must be a multiple of ``B``.

    Returns
    -------
    numpy.ndarray
        ``(rows * ceil(cols / K), ceil(W / 8))`` uint8, little-endian words; row ``r`` occupies words
        ``r * wpr .. (r + 1) * wpr - 1`` and its last word is padded with zero codes.
    """
    k = _codes_per_word(code_bits, word_bits)
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be a 2-D (rows, cols) array, not {codes.ndim}-D")
    if codes.size and (codes.min() < 0 or int(codes.max()) >> code_bits):
        raise FormatError(f"{code_bits}-bit codes must lie in [0, {(1 << code_bits) - 1}]")
    rows, cols = codes.shape
    wpr = -(-cols // k)
    padded = np.zeros((rows, wpr * k), dtype=np.uint32)
    padded[:, :cols] = codes
    slots = padded.reshape(rows * wpr, k)  # one line per word, code j at slot j
    nb = word_bytes(word_bits)
    if word_bits % 8 == 0 and 8 % code_bits == 0:
        # Fast path: whole bytes of 8/B codes each, OR-ed together with shifts.
        per = 8 // code_bits
        grouped = slots.reshape(-1, nb, per).astype(np.uint8)
        out = np.zeros(grouped.shape[:2], dtype=np.uint8)
        for j in range(per):
            out |= grouped[:, :, j] << np.uint8(j * code_bits)
        return out
    if word_bits % 8 == 0 and code_bits in (16, 32):
        dt = np.dtype(f"<u{code_bits // 8}")
        return np.ascontiguousarray(slots.astype(dt)).view(np.uint8).reshape(-1, nb)
    # General path: expand every code into its bits (LSB first) and pack the bit rows.
    bits = ((slots[:, :, None] >> np.arange(code_bits, dtype=np.uint32)) & 1).astype(np.uint8)
    return _bits_to_words(bits.reshape(slots.shape[0], k * code_bits), word_bits)


def unpack_codes(words: np.ndarray, code_bits: int, word_bits: int) -> np.ndarray:
    """ROM words -> ``(depth, K)`` codes (int64), slot ``j`` of each word in column ``j``."""
    k = _codes_per_word(code_bits, word_bits)
    words = _as_words(words, word_bits)
    bits = _words_to_bits(words, word_bits)[:, : k * code_bits].reshape(-1, k, code_bits).astype(np.int64)
    return (bits << np.arange(code_bits, dtype=np.int64)).sum(axis=2)


def pack_ints(values: np.ndarray, width: int) -> np.ndarray:
    """Signed integers -> ``width``-bit two's complement words (bias ROMs, activation tables).

    Values outside ``[-2**(width-1), 2**(width-1) - 1]`` are refused: a ROM never wraps silently.
    """
    width = _check_width(width)
    if width > 64:
        raise FormatError(f"integer words must be at most 64 bits wide, not {width}")
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    if v.size and (int(v.min()) < lo or int(v.max()) > hi):
        bad = int(v[(v < lo) | (v > hi)][0])
        raise FormatError(f"{width}-bit two's complement words hold [{lo}, {hi}], not {bad}")
    raw = v.astype("<i8").view(np.uint8).reshape(-1, 8)
    nb = word_bytes(width)
    out = np.ascontiguousarray(raw[:, :nb])
    if width % 8:  # clear the sign-extension bits above the word width
        out[:, -1] &= np.uint8((1 << (width % 8)) - 1)
    return out


def words_to_ints(words: np.ndarray, width: int, *, signed: bool = True) -> list[int]:
    """ROM words -> Python ints (any width); ``signed`` reads them as two's complement."""
    words = _as_words(words, width)
    out = []
    for row in words:
        v = int.from_bytes(row.tobytes(), "little")
        if signed and v >> (width - 1):
            v -= 1 << width
        out.append(v)
    return out


def words_from_ints(values: list[int], width: int) -> np.ndarray:
    """Python ints (any width, signed or unsigned) -> ROM words; the inverse of :func:`words_to_ints`."""
    width = _check_width(width)
    nb = word_bytes(width)
    mask = (1 << width) - 1
    buf = b"".join((int(v) & mask).to_bytes(nb, "little") for v in values)
    return np.frombuffer(buf, dtype=np.uint8).reshape(-1, nb).copy()


def _as_words(words: np.ndarray, width: int) -> np.ndarray:
    words = np.asarray(words)
    nb = word_bytes(width)
    if words.dtype != np.uint8 or words.ndim != 2 or words.shape[1] != nb:
        raise ValueError(f"ROM words of {width} bits must be a (depth, {nb}) uint8 array, not {words.dtype} {words.shape}")
    return words


def pack_codes_naive(codes: np.ndarray, code_bits: int, word_bits: int) -> np.ndarray:
    """The slow, obviously-correct twin of :func:`pack_codes`: one ``bitstring`` per word.

    A word printed most significant bit first is its codes in *reverse* slot order, each code MSB
    first, so the first code of the row ends up in the least significant bits.
    """
    from bitstring import Bits

    k = _codes_per_word(code_bits, word_bits)
    out = []
    for row in np.asarray(codes):
        row = [int(c) for c in row]
        row += [0] * (-len(row) % k)
        for w in range(0, len(row), k):
            word = Bits().join(Bits(uint=c, length=code_bits) for c in reversed(row[w : w + k]))
            out.append(word.uint)
    return words_from_ints(out, word_bits)


def tiles_per_word(word_bits: int, tile_bits: int) -> int:
    """Tiles of ``tile_bits`` sharing one weight ROM word of at most ``word_bits`` (at least one)."""
    return max(1, word_bits // tile_bits)


def tile_codes(codes: np.ndarray, rows: int, lanes: int) -> np.ndarray:
    """Fold a ``(n, m)`` code matrix into tiles: ``(ceil(n/rows) * ceil(m/lanes), rows * lanes)``.

    Tile ``g * ceil(m/lanes) + c`` holds rows ``g*rows ..`` and columns ``c*lanes ..``; code
    ``(i, j)`` lies at slot ``(i % rows) * lanes + j % lanes``. Padding is zero codes.
    """
    n, m = codes.shape
    rg, cg = -(-n // rows), -(-m // lanes)
    padded = np.zeros((rg * rows, cg * lanes), dtype=np.int64)
    padded[:n, :m] = codes
    return padded.reshape(rg, rows, cg, lanes).transpose(0, 2, 1, 3).reshape(rg * cg, rows * lanes)


def untile_codes(tiles: np.ndarray, n: int, m: int, rows: int, lanes: int) -> np.ndarray:
    """Inverse of :func:`tile_codes`: ``(tiles, rows * lanes)`` -> the ``(n, m)`` codes."""
    rg, cg = -(-n // rows), -(-m // lanes)
    return tiles.reshape(rg, cg, rows, lanes).transpose(0, 2, 1, 3).reshape(rg * rows, cg * lanes)[:n, :m]


@dataclass(frozen=True)
class Segment:
    """One matrix (an accumulation, the head, or a table) inside a ROM.

    Weight ROMs: ``start`` is the first tile, ``row_groups * col_groups`` tiles in all, a row
    holding ``cols = n_in + n_rec`` codes, input columns first. Bias ROMs: ``start`` is the first
    word, one word per row group. Tables: one word per row from word ``start``.
    """

    name: str
    start: int
    rows: int
    cols: int = 1
    n_in: int = 0
    n_rec: int = 0
    row_groups: int = 1
    col_groups: int = 1


@dataclass(frozen=True, eq=False)
class Rom:
    """One ROM image: its name (file stem), role, word width and words, and what lies where.

    ``words`` is ``(depth, ceil(width/8))`` uint8, little-endian per word, bits above ``width`` zero.
    Weight ROMs set ``code_bits`` and the tile shape ``tile_rows x tile_lanes`` (``tiles_per_word``
    tiles a word); bias and row-shift ROMs hold ``tile_rows`` fields of ``field_bits`` per word.
    """

    name: str
    role: str
    width: int
    words: np.ndarray
    segments: tuple[Segment, ...] = ()
    code_bits: int | None = None
    layer: int | None = None  # None for the head and the activation tables
    signed: bool = True  # bias and table fields are two's complement; weight words are code bundles
    tile_rows: int = 1
    tile_lanes: int = 1
    tiles_per_word: int = 1
    field_bits: int | None = None  # bias / row-shift ROMs: width of one field
    extra: dict = field(default_factory=dict)

    @property
    def depth(self) -> int:
        return int(self.words.shape[0])

    @property
    def codes_per_word(self) -> int | None:
        return None if self.code_bits is None else self.tiles_per_word * self.tile_rows * self.tile_lanes

    @property
    def addr_bits(self) -> int:
        """Address width the RTL needs for this ROM (at least 1)."""
        return max(1, (self.depth - 1).bit_length())

    def ints(self) -> list[int]:
        """Every word (or, for bias ROMs, every field, word by word) as a Python int."""
        if self.field_bits is None:
            return words_to_ints(self.words, self.width, signed=self.signed)
        fb = self.field_bits
        out = []
        for w in words_to_ints(self.words, self.width, signed=False):
            for r in range(self.width // fb):
                v = (w >> (r * fb)) & ((1 << fb) - 1)
                out.append(v - (1 << fb) if self.signed and v >> (fb - 1) else v)
        return out

    def codes(self) -> np.ndarray:
        """Weight ROMs: ``(depth, K)`` codes, slot ``j`` of word ``a`` at ``[a, j]``."""
        if self.code_bits is None:
            raise FormatError(f"ROM {self.name!r} holds {self.role} words, not weight codes")
        return unpack_codes(self.words, self.code_bits, self.width)

    def matrix_codes(self, segment: Segment) -> np.ndarray:
        """The ``(rows, cols)`` codes of one weight segment, padding dropped."""
        per = self.tile_rows * self.tile_lanes
        flat = self.codes().reshape(-1)
        n = segment.row_groups * segment.col_groups
        tiles = flat[segment.start * per : (segment.start + n) * per].reshape(n, per)
        return untile_codes(tiles, segment.rows, segment.cols, self.tile_rows, self.tile_lanes)


def _weight_rom(name: str, mats: list[tuple[str, np.ndarray, int, int]], codec, word_bits: int, layer: int | None,
                rows: int, lanes: int) -> Rom:
    """Encode, fold and pack (name, m, n_in, n_rec) matrices one after the other into one ROM."""
    per = rows * lanes
    tpw = tiles_per_word(word_bits, per * codec.bits)
    parts, segs, start = [], [], 0
    for mname, m, n_in, n_rec in mats:
        n, cols = m.shape
        t = tile_codes(codec.encode(m).reshape(n, cols), rows, lanes)
        parts.append(t)
        segs.append(Segment(mname, start, n, cols, n_in, n_rec, -(-n // rows), -(-cols // lanes)))
        start += t.shape[0]
    flat = np.concatenate(parts).reshape(1, -1)
    words = pack_codes(flat, codec.bits, tpw * per * codec.bits)
    return Rom(name, "weights", tpw * per * codec.bits, words, tuple(segs), codec.bits, layer, signed=False,
               tile_rows=rows, tile_lanes=lanes, tiles_per_word=tpw)


def _field_words(vectors: list[tuple[str, np.ndarray]], width: int, rows: int, *, signed: bool):
    """One word per (vector, row group): the group's ``rows`` values, row ``r`` at field ``r``; padding 0."""
    segs, vals, start = [], [], 0
    for vname, b in vectors:
        b = np.asarray(b, dtype=np.int64)
        rg = -(-len(b) // rows)
        padded = np.zeros(rg * rows, dtype=np.int64)
        padded[: len(b)] = b
        vals.append(padded)
        segs.append(Segment(vname, start, len(b), row_groups=rg))
        start += rg
    v = np.concatenate(vals)
    if signed:
        fields = pack_ints(v, width)  # range check, two's complement per field
        mask = (1 << width) - 1
        ints = [int.from_bytes(f.tobytes(), "little") & mask for f in fields]
    else:
        if v.size and (int(v.min()) < 0 or int(v.max()) >> width):
            raise FormatError(f"{width}-bit unsigned fields hold [0, {(1 << width) - 1}], not {int(v.max()) if v.min() >= 0 else int(v.min())}")
        ints = [int(x) for x in v]
    words = [sum(x << (r * width) for r, x in enumerate(ints[i : i + rows])) for i in range(0, len(ints), rows)]
    return words_from_ints(words, rows * width), tuple(segs)


def _bias_rom(name: str, biases: list[tuple[str, np.ndarray]], width: int, layer: int | None, rows: int) -> Rom:
    """One word per (accumulation, row group): the group's ``rows`` biases, row ``r`` at field ``r``."""
    words, segs = _field_words(biases, width, rows, signed=True)
    return Rom(name, "bias", rows * width, words, segs, None, layer, tile_rows=rows, field_bits=width)


def row_shift_bits(e_max: int) -> int:
    """Width of one row-shift field: enough for the largest shift, at least 1."""
    return max(1, int(e_max).bit_length())


def _shift_rom(name: str, shifts: list[tuple[str, np.ndarray]], layer: int | None, rows: int) -> Rom:
    """The row shifts beside a bias ROM: the same words (one per accumulation and row group), each
    field the unsigned shift ``e_j`` of its row (docs/rom_format.md, "Row-shift words")."""
    width = row_shift_bits(max(int(np.max(e, initial=0)) for _, e in shifts))
    words, segs = _field_words(shifts, width, rows, signed=False)
    return Rom(name, "row_shift", rows * width, words, segs, None, layer, signed=False, tile_rows=rows,
               field_bits=width)


def rom_images(plan) -> dict[str, Rom]:
    """Every ROM of a lowered plan, in file order, keyed by name (the file stem under ``rom/``).

    ``l{k}_weights`` / ``l{k}_bias`` per layer, ``head_weights`` / ``head_bias`` when the model has
    a head, ``l{k}_shift`` / ``head_shift`` beside them when the weights have per-row scales, ``sigmoid_lut`` / ``tanh_lut`` when a layer's activation is ``lut`` (``l{k}_sigmoid_lut`` /
    ``l{k}_tanh_lut`` for a layer whose own precision changes its tables). The
    weight and bias ROMs are folded for ``rows x lanes`` (the head's for its own array,
    ``hwsim.datapath._schedule.head_folding``).
    """
    cfg = plan.config
    roms: dict[str, Rom] = {}
    for layer in plan.layers:
        k = layer.index
        mats = [(a.name, a.m, a.n_in, a.n_rec) for a in layer.accums]
        roms[f"l{k}_weights"] = _weight_rom(f"l{k}_weights", mats, plan.codec, cfg.word_bits, k, cfg.rows, cfg.lanes)
        roms[f"l{k}_bias"] = _bias_rom(f"l{k}_bias", [(a.name, a.bias) for a in layer.accums], layer.acc_bits, k, cfg.rows)
        if layer.accums[0].row_shift is not None:
            roms[f"l{k}_shift"] = _shift_rom(f"l{k}_shift", [(a.name, a.shifts()) for a in layer.accums], k, cfg.rows)
    if plan.head is not None:
        hd = plan.head
        hr, hl = head_folding(plan)
        roms["head_weights"] = _weight_rom(
            "head_weights", [("head", hd.m, 0, hd.m.shape[1])], plan.codec, cfg.word_bits, None, hr, hl
        )
        roms["head_bias"] = _bias_rom("head_bias", [("head", hd.bias)], hd.acc_bits, None, hr)
        if hd.row_shift is not None:
            roms["head_shift"] = _shift_rom("head_shift", [("head", hd.shifts())], None, hr)
    # One pair of tables per distinct contract: the global sigmoid_lut / tanh_lut, and l{k}_* for a
    # layer whose own precision changes its tables (per-layer precision, docs/datapath.md).
    for k in range(len(plan.layers)):
        names = plan.lut_roms(k)
        if names is None or names[0] in roms:
            continue
        act_bits = plan.layer_config(k).act.bits
        for func, table, name in zip(("sigmoid", "tanh"), plan.layer_tables(k), names):
            roms[name] = Rom(name, f"{func}_lut", act_bits, pack_ints(table, act_bits), (Segment(func, 0, len(table)),))
    return roms


def rom_check_image() -> Rom:
    """The ROM-check memory: one ``ROM_CHECK_BITS`` word, ``ROM_CHECK_MAGIC`` (not one of ``rom_images``:
    no engine reads it, and the load image does not carry it)."""
    return Rom(ROM_CHECK_NAME, "rom_check", ROM_CHECK_BITS, words_from_ints([ROM_CHECK_MAGIC], ROM_CHECK_BITS),
               (Segment("magic", 0, 1),), signed=False)
