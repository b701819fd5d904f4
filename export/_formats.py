"""Memory-file formats: print ROM words as text/binary files and parse them back.

Every writer takes the ``(depth, ceil(W/8))`` little-endian byte image of ``_pack`` and prints it
with NumPy character arithmetic (no per-word Python loop), so ten million weights print in well
under a second. Every reader returns that same image, so a round trip is an ``array_equal``.

========  =========  ==========================================================================
format    suffix     contents
========  =========  ==========================================================================
hex       .hex       ``$readmemh``: one word per line, ``ceil(W/4)`` lowercase hex digits
memb      .memb      ``$readmemb``: one word per line, ``W`` binary digits
coe       .coe       Xilinx COE: ``memory_initialization_radix=16;`` and the vector, ``,`` / ``;``
mif       .mif       Intel MIF: ``WIDTH``, ``DEPTH``, hex radices, ``CONTENT BEGIN .. END;``
bin       .bin       raw: each word in ``ceil(W/8)`` bytes, little-endian, words in address order
========  =========  ==========================================================================
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from hwsim._errors import FormatError

from ._pack import _as_words, _check_width, word_bytes, words_from_ints

#: Format name -> file suffix, in the order the exporter writes them.
FORMATS = {"hex": ".hex", "memb": ".memb", "coe": ".coe", "mif": ".mif", "bin": ".bin"}
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def check_formats(names) -> tuple[str, ...]:
    """Validate format names (a comma list or an iterable); returns them in canonical order."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    names = list(names)
    for n in names:
        if n not in FORMATS:
            raise FormatError(f"format must be one of {', '.join(FORMATS)}, not {n!r}")
    if not names:
        raise FormatError(f"at least one format is needed; choose from {', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f in names)


def _hex_chars(words: np.ndarray, width: int) -> np.ndarray:
    """(depth, ceil(W/4)) ASCII hex digits, most significant first."""
    be = words[:, ::-1]  # most significant byte first
    chars = np.empty(be.shape + (2,), dtype=np.uint8)
    chars[..., 0] = _HEX[be >> 4]
    chars[..., 1] = _HEX[be & 15]
    chars = chars.reshape(be.shape[0], -1)
    return chars[:, chars.shape[1] - (width + 3) // 4 :]


def _bin_chars(words: np.ndarray, width: int) -> np.ndarray:
    """(depth, W) ASCII binary digits, most significant first."""
    bits = np.unpackbits(words, axis=1, bitorder="little")[:, :width]
    return (bits[:, ::-1] + ord("0")).astype(np.uint8)


def _lines(*columns) -> bytes:
    """Join per-word columns (char arrays, or bytes repeated on every line) into text."""
    depth = next(c.shape[0] for c in columns if isinstance(c, np.ndarray))
    parts = [
        c if isinstance(c, np.ndarray) else np.tile(np.frombuffer(c, dtype=np.uint8), (depth, 1)) for c in columns
    ]
    return np.concatenate(parts, axis=1).tobytes() if depth else b""


def format_words(words: np.ndarray, width: int, fmt: str, *, comment: str = "") -> bytes:
    """The bytes of one memory file of format ``fmt`` holding ``words`` (``W = width``).

    ``comment`` goes into the header of the formats that have one (coe, mif).
    """
    width = _check_width(width)
    words = _as_words(words, width)
    depth = words.shape[0]
    if fmt == "hex":
        return _lines(_hex_chars(words, width), b"\n")
    if fmt == "memb":
        return _lines(_bin_chars(words, width), b"\n")
    if fmt == "bin":
        return words.tobytes()
    if fmt == "coe":
        head = "".join(f"; {line}\n" for line in comment.splitlines())
        head += "memory_initialization_radix=16;\nmemory_initialization_vector=\n"
        if depth == 0:
            raise FormatError("a COE file needs at least one word, not 0")
        body = bytearray(_lines(_hex_chars(words, width), b",\n"))
        body[-2:-1] = b";"
        return head.encode() + bytes(body)
    if fmt == "mif":
        if depth == 0:
            raise FormatError("a MIF file needs at least one word, not 0")
        head = "".join(f"-- {line}\n" for line in comment.splitlines())
        head += f"WIDTH={width};\nDEPTH={depth};\n\nADDRESS_RADIX=HEX;\nDATA_RADIX=HEX;\n\nCONTENT BEGIN\n"
        abits = max(1, (depth - 1).bit_length())
        addr = np.arange(depth, dtype="<u4").view(np.uint8).reshape(depth, 4)
        body = _lines(b"\t", _hex_chars(addr, abits), b" : ", _hex_chars(words, width), b";\n")
        return head.encode() + body + b"END;\n"
    raise FormatError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")


# --------------------------------------------------------------------------------------------
# readers


def _parse_int(token: str, radix: int, width: int, where: str) -> int:
    try:
        v = int(token.replace("_", ""), radix)
    except ValueError:
        raise FormatError(f"{where}: word must be a radix-{radix} number, not {token!r}") from None
    if v < 0 or v >> width:
        raise FormatError(f"{where}: word {token!r} does not fit {width} bits")
    return v


def _parse_readmem(text: str, radix: int, width: int, where: str) -> list[int]:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    out = []
    for ln, line in enumerate(text.splitlines(), 1):
        line = line.split("//", 1)[0]
        for tok in line.split():
            if tok.startswith("@"):
                raise FormatError(f"{where}:{ln}: address records (@{tok[1:]}) are not supported; words must be consecutive")
            out.append(_parse_int(tok, radix, width, f"{where}:{ln}"))
    return out


def _parse_coe(text: str, width: int, where: str) -> list[int]:
    lines = [ln.split(";", 1)[0] if ln.lstrip().startswith(";") else ln for ln in text.splitlines()]
    statements = [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
    radix, vector = None, None
    for s in statements:
        key, _, val = s.partition("=")
        key = key.strip().lower()
        if key == "memory_initialization_radix":
            radix = int(val.strip())
        elif key == "memory_initialization_vector":
            vector = val
    if radix not in (2, 10, 16) or vector is None:
        raise FormatError(f"{where}: a COE file must set memory_initialization_radix (2, 10 or 16) and memory_initialization_vector")
    return [_parse_int(t, radix, width, where) for t in re.split(r"[,\s]+", vector.strip()) if t]


def _parse_mif(text: str, where: str) -> tuple[list[int], int]:
    text = re.sub(r"%.*?%", " ", text, flags=re.S)
    text = "\n".join(ln.split("--", 1)[0] for ln in text.splitlines())
    m = re.search(r"CONTENT\s+BEGIN(.*?)END\s*;", text, flags=re.S | re.I)
    if not m:
        raise FormatError(f"{where}: a MIF file needs CONTENT BEGIN ... END;")
    header = dict(
        (k.strip().upper(), v.strip().upper())
        for k, _, v in (s.partition("=") for s in text[: m.start()].split(";") if "=" in s)
    )
    radix_of = {"HEX": 16, "BIN": 2, "DEC": 10, "UNS": 10, "OCT": 8}
    try:
        width, depth = int(header["WIDTH"]), int(header["DEPTH"])
        arad, drad = radix_of[header.get("ADDRESS_RADIX", "HEX")], radix_of[header.get("DATA_RADIX", "HEX")]
    except (KeyError, ValueError):
        raise FormatError(f"{where}: a MIF header needs WIDTH, DEPTH and known ADDRESS_RADIX / DATA_RADIX") from None
    _check_width(width)
    words: list[int | None] = [None] * depth
    for entry in (e.strip() for e in m.group(1).split(";")):
        if not entry:
            continue
        addr, sep, data = entry.partition(":")
        if not sep:
            raise FormatError(f"{where}: MIF entry must be 'address : data', not {entry!r}")
        addr = addr.strip()
        rng = re.fullmatch(r"\[\s*(\w+)\s*\.\.\s*(\w+)\s*\]", addr)
        lo, hi = (int(rng.group(1), arad), int(rng.group(2), arad)) if rng else (int(addr, arad),) * 2
        values = [_parse_int(t, drad, width, where) for t in data.split()]
        for i, a in enumerate(range(lo, hi + 1)):
            if not 0 <= a < depth:
                raise FormatError(f"{where}: MIF address {a:#x} lies outside DEPTH = {depth}")
            words[a] = values[i % len(values)]
    missing = [i for i, w in enumerate(words) if w is None]
    if missing:
        raise FormatError(f"{where}: MIF leaves address {missing[0]:#x} unset")
    return words, width


def parse_words(data: bytes, fmt: str, width: int | None = None, *, where: str = "<memory file>") -> tuple[np.ndarray, int]:
    """Parse one memory file back to ``(words, width)``.

    ``width`` is required for hex, memb, coe and bin (they do not record it); a MIF file records its
    own and a given ``width`` must agree with it.
    """
    if fmt not in FORMATS:
        raise FormatError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "mif":
        values, w = _parse_mif(data.decode("ascii", errors="replace"), where)
        if width is not None and width != w:
            raise FormatError(f"{where}: MIF WIDTH is {w}, expected {width}")
        return words_from_ints(values, w), w
    if width is None:
        raise FormatError(f"{where}: the {fmt} format does not record the word width; pass it")
    width = _check_width(width)
    if fmt == "bin":
        nb = word_bytes(width)
        if len(data) % nb:
            raise FormatError(f"{where}: a raw file of {width}-bit words has a multiple of {nb} bytes, not {len(data)}")
        words = np.frombuffer(data, dtype=np.uint8).reshape(-1, nb).copy()
        if width % 8 and (words[:, -1] >> (width % 8)).any():
            raise FormatError(f"{where}: a word has bits set above bit {width - 1}")
        return words, width
    text = data.decode("ascii", errors="replace")
    values = _parse_readmem(text, 16 if fmt == "hex" else 2, width, where) if fmt in ("hex", "memb") else _parse_coe(text, width, where)
    return words_from_ints(values, width), width


def format_of(path: str | Path) -> str:
    """The format of a file, from its suffix."""
    suffix = Path(path).suffix
    for fmt, s in FORMATS.items():
        if suffix == s:
            return fmt
    raise FormatError(f"memory file suffix must be one of {', '.join(FORMATS.values())}, not {suffix!r} ({path})")


def read_words(path: str | Path, width: int | None = None) -> np.ndarray:
    """Read a memory file of any format (by suffix) into its ``(depth, ceil(W/8))`` word image."""
    p = Path(path)
    fmt = format_of(p)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise FormatError(f"memory file must exist, not found: {p}") from None
    return parse_words(data, fmt, width, where=str(p))[0]
