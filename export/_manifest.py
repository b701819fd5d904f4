"""manifest.json: everything a third party needs to decode every bit of an export.

The manifest records the tool version, the datapath contract, the model summary, the code -> m
table, every tensor's scale (value = m * 2**scale_log2), and for every ROM its files, word and code
widths, depth and where each matrix lies, plus a SHA-256 per file. docs/rom_format.md describes
each key; ``tests/export/test_manifest_decode.py`` decodes every weight with json, numpy and
bitstring alone to prove the manifest is enough.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from hwsim import __version__
from hwsim.datapath._activation import lut_index_shift, range_log2
from hwsim._errors import FormatError
from hwsim.datapath._plan import ACCUMS

from ._formats import FORMATS, read_words
from ._pack import ROM_CHECK_BITS, ROM_CHECK_MAGIC_HEX, Rom, rom_check_image, unpack_codes, untile_codes, words_to_ints
from ._schema import check_manifest

MANIFEST_NAME = "manifest.json"
#: Bumped whenever a key changes meaning; readers refuse versions they do not know.
MANIFEST_VERSION = 2  # 2: folded (rows x lanes) weight tiles and row-group bias words

CODE_ORDER = (
    "tiles of tile_rows x tile_lanes codes, in segment order, each segment's tiles by row group then "
    "column group; code (i, j) of a segment (row i, column j; input columns first) lies in tile "
    "t = start + (i // tile_rows) * col_groups + j // tile_lanes at slot s = (i % tile_rows) * tile_lanes "
    "+ j % tile_lanes, that is in word (t * tile_rows * tile_lanes + s) // codes_per_word at bits "
    "[((t * tile_rows * tile_lanes + s) % codes_per_word) * code_bits +: code_bits]; padding codes are 0"
)
BIAS_ORDER = (
    "one word per (segment, row group): the biases of rows g * rows_per_word + r at bits "
    "[r * field_bits +: field_bits], each field two's complement (not sign-extended to the word); "
    "padding rows 0; segment rows start at word start"
)

ROW_SHIFT_ORDER = (
    "the words of the bias ROM beside it: one per (segment, row group), the row shift e of row "
    "g * rows_per_word + r at bits [r * field_bits +: field_bits], unsigned; padding rows 0; row r of a "
    "segment has acc_frac + e fraction bits in its accumulator"
)


def scale_json(s) -> int | list[int]:
    """A tensor's ``scale_log2`` in the manifest: one int, or one int per row (per-row scales)."""
    return [int(v) for v in s] if isinstance(s, (tuple, list, np.ndarray)) else int(s)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sources(model, plan) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(rom name, segment name) -> which tensor rows/columns the segment's columns hold."""
    keys = {v: k for k, v in model.tensor_keys().items()}
    spec = model.quant
    H = plan.hidden_size
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for layer in plan.layers:
        k = layer.index
        for (name, g, use_in, use_rec), acc in zip(ACCUMS[plan.cell], layer.accums):
            src, col = [], 0
            for use, fld, n in ((use_in, "w_ih", acc.n_in), (use_rec, "w_hh", acc.n_rec)):
                if use:
                    key = keys[("layer", k, fld)]
                    src.append({
                        "tensor": key,
                        "tensor_rows": [g * H, (g + 1) * H],
                        "tensor_cols": [0, n],
                        "cols": [col, col + n],
                        "scale_log2": scale_json(spec.scales[key]),
                    })
                    col += n
            out[(f"l{k}_weights", name)] = src
    if plan.head is not None:
        key = keys[("head", None, "weight")]
        C, Hh = plan.head.m.shape
        out[("head_weights", "head")] = [{
            "tensor": key, "tensor_rows": [0, C], "tensor_cols": [0, Hh], "cols": [0, Hh],
            "scale_log2": scale_json(spec.scales[key]),
        }]
    return out


def _rom_entry(rom: Rom, formats, sources) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": rom.name,
        "role": rom.role,
        "layer": rom.layer,
        "files": {fmt: f"rom/{rom.name}{FORMATS[fmt]}" for fmt in formats},
        "word_bits": rom.width,
        "depth": rom.depth,
        "addr_bits": rom.addr_bits,
        "signed": rom.signed,
    }
    if rom.role == "weights":
        entry.update(
            code_bits=rom.code_bits, tile_rows=rom.tile_rows, tile_lanes=rom.tile_lanes,
            tiles_per_word=rom.tiles_per_word, codes_per_word=rom.codes_per_word, code_order=CODE_ORDER,
        )
        entry["segments"] = [
            {
                "name": s.name, "start": s.start, "rows": s.rows, "cols": s.cols, "n_in": s.n_in,
                "n_rec": s.n_rec, "row_groups": s.row_groups, "col_groups": s.col_groups,
                "sources": sources[(rom.name, s.name)],
            }
            for s in rom.segments
        ]
    elif rom.role in ("bias", "row_shift"):
        order = {"bias_order": BIAS_ORDER} if rom.role == "bias" else {"row_shift_order": ROW_SHIFT_ORDER}
        entry.update(rows_per_word=rom.tile_rows, field_bits=rom.field_bits, **order)
        entry["segments"] = [
            {"name": s.name, "start": s.start, "rows": s.rows, "row_groups": s.row_groups} for s in rom.segments
        ]
    else:
        entry["segments"] = [{"name": s.name, "start": s.start, "rows": s.rows} for s in rom.segments]
    return entry


ROM_CHECK_RULE = (
    "rom_ok = 1 after reset when the top read magic from this file through the same path as every ROM "
    "(ROM_DIR, or the bare name): it catches a ROM directory or search path the tool did not find, "
    "not one ROM file missing alone"
)


def rom_check_entry(formats) -> dict[str, Any]:
    """The manifest's ``rom_check``: the one-word memory the top compares with the magic (docs/rom_format.md)."""
    rom = rom_check_image()
    return {
        "name": rom.name,
        "files": {fmt: f"rom/{rom.name}{FORMATS[fmt]}" for fmt in formats},
        "word_bits": ROM_CHECK_BITS,
        "depth": rom.depth,
        "magic": ROM_CHECK_MAGIC_HEX,
        "port": "rom_ok",
        "rule": ROM_CHECK_RULE,
    }


def build_manifest(model, plan, roms: dict[str, Rom], formats) -> dict[str, Any]:
    """The manifest of an export, without the ``files`` hashes (added once the files exist)."""
    cfg, spec, codec = plan.config, model.quant, plan.codec
    keys = model.tensor_keys()
    rom_of = {}
    for layer in plan.layers:
        for fld in ("w_ih", "w_hh"):
            rom_of[("layer", layer.index, fld)] = f"l{layer.index}_weights"
    rom_of[("head", None, "weight")] = "head_weights"
    table = codec.table()
    tensors = {}
    for key, s in spec.scales.items():
        kind, k, fld = keys[key]
        s = scale_json(s)
        tensors[key] = {
            "layer": k,
            "field": fld,
            "shape": list(np.shape(model.tensor(key))),
            "scale_log2": s,
            "rom": rom_of.get((kind, k, fld)),
            # per-row scales: row r's weight is m * 2**scale_log2[r], so a code has no one value
            "values": [{"code": c, "m": m} if isinstance(s, list) else
                       {"code": c, "m": m, "value": float(np.ldexp(float(m), s))} for c, m in table],
        }
    sources = _sources(model, plan)
    layers = [
        {
            "index": l.index,
            "in_format": l.in_fmt.to_dict(),
            "s_in": l.s_in, "s_rec": l.s_rec,
            "acc_frac": l.acc_frac, "acc_bits": l.acc_bits,
            "shift_in": l.shift_in, "shift_rec": l.shift_rec,
            "weights_rom": f"l{l.index}_weights", "bias_rom": f"l{l.index}_bias",
            "row_shift_rom": None if l.accums[0].row_shift is None else f"l{l.index}_shift",
            "accumulations": [
                {"name": a.name, "rows": a.rows, "cols": a.cols, "n_in": a.n_in, "n_rec": a.n_rec,
                 "bias": [int(b) for b in a.bias],
                 **({} if a.row_shift is None else {"row_shift": [int(e) for e in a.row_shift]})}
                for a in l.accums
            ],
        }
        for l in plan.layers
    ]
    if not cfg.is_global:  # per-layer precision: each layer's own contract and tables
        for entry, l in zip(layers, plan.layers):
            lc, luts = plan.layer_config(l.index), plan.lut_roms(l.index)
            entry["precision"] = {
                **{n: getattr(lc, n).to_dict() for n in ("h", "c", "pre", "act")},
                "rounding": lc.rounding, "overflow": lc.overflow, "activation": lc.activation,
                "lut_roms": None if luts is None else {"sigmoid": luts[0], "tanh": luts[1]},
            }
    head = None
    if plan.head is not None:
        hd = plan.head
        head = {
            "s": hd.s, "acc_frac": hd.acc_frac, "acc_bits": hd.acc_bits, "shift": hd.shift,
            "rows": int(hd.m.shape[0]), "cols": int(hd.m.shape[1]),
            "weights_rom": "head_weights", "bias_rom": "head_bias",
            "row_shift_rom": None if hd.row_shift is None else "head_shift",
            "bias": [int(b) for b in hd.bias],
            **({} if hd.row_shift is None else {"row_shift": [int(e) for e in hd.row_shift]}),
        }
        if not cfg.is_global:
            hc = plan.head_config()
            head["precision"] = {"h": hc.h.to_dict(), "out": hc.out.to_dict(), "rounding": hc.rounding,
                                 "overflow": hc.overflow}
    if cfg.activation == "lut":
        activation = {
            "unit": "lut",
            "tables": {
                f: {
                    # null when no layer reads the global tables (then they are not exported)
                    "rom": f"{f}_lut" if f"{f}_lut" in roms else None, "entries": 1 << cfg.lut_bits, "range_log2": range_log2(f, cfg),
                    "index_shift": lut_index_shift(f, cfg), "word_format": cfg.act.to_dict(),
                    "rule": "index = (clamp(x, -R*2**pre.frac, R*2**pre.frac - 1) + R*2**pre.frac) >> index_shift; "
                            "word i = floor(f(-R + (i + 0.5) * 2R / entries) * 2**act.frac + 0.5), R = 2**range_log2",
                }
                for f in ("sigmoid", "tanh")
            },
        }
    else:
        activation = {"unit": "pwl", "rule": "PLAN shift-add approximation, docs/datapath.md 'Activation units'"}
    return {
        "manifest_version": MANIFEST_VERSION,
        "tool": {"name": "hwsim", "version": __version__},
        "contract": cfg.to_dict(),
        "model": {
            "cell": plan.cell,
            "input_size": plan.input_size,
            "hidden_size": plan.hidden_size,
            "num_layers": len(plan.layers),
            "num_classes": plan.num_classes,
            "method": spec.method,
            "code_kind": codec.kind,
            "code_bits": codec.bits,
            "biases": spec.biases,
            "e_min": spec.e_min,
            "e_max": spec.e_max,
            "zero": spec.zero,
        },
        "codes": {
            "kind": codec.kind,
            "bits": codec.bits,
            "table": [{"code": c, "m": m} for c, m in table],
            "value": "weight = m * 2**scale_log2 of its tensor (tensors[key].scale_log2)",
        },
        "tensors": tensors,
        "layers": layers,
        "head": head,
        "activation": activation,
        "formats": list(formats),
        "roms": [_rom_entry(r, formats, sources) for r in roms.values()],
        "rom_check": rom_check_entry(formats),
        "rtl": None,
        "files": {},
    }


_SCALAR_LIST = re.compile(r"\[\s*([-+0-9.eE,\s]*?)\s*\]")


def dump_manifest(manifest: dict[str, Any]) -> bytes:
    """Indented JSON with lists of numbers kept on one line (bias vectors, shapes)."""
    text = json.dumps(manifest, indent=1)
    text = _SCALAR_LIST.sub(lambda m: "[" + ", ".join(t.strip() for t in m.group(1).split(",") if t.strip()) + "]", text)
    return (text + "\n").encode()


def read_manifest(export_dir: str | Path, *, verify: bool = True) -> dict[str, Any]:
    """Load ``DIR/manifest.json``; with ``verify`` check every listed file's SHA-256."""
    d = Path(export_dir)
    p = d / MANIFEST_NAME
    try:
        man = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FormatError(f"export directory must hold {MANIFEST_NAME}, not found: {p}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FormatError(f"{p} must be JSON: {e}") from None
    if not isinstance(man, dict) or man.get("manifest_version") != MANIFEST_VERSION:
        got = man.get("manifest_version") if isinstance(man, dict) else None
        raise FormatError(f"{p}: manifest_version must be {MANIFEST_VERSION}, not {got!r}")
    check_manifest(man, source=str(p), error=FormatError)  # schema, cross-references, every read file listed
    if verify:
        # The check cannot be switched off by the manifest: every file the design can read (all of
        # rom/ and rtl/) must be listed, and every listed file must hash as recorded.
        for sub in ("rom", "rtl"):
            for f in sorted((d / sub).rglob("*")) if (d / sub).is_dir() else ():
                rel = f.relative_to(d).as_posix()
                if f.is_file() and rel not in man["files"]:
                    raise FormatError(f"{p}: every file in rom/ and rtl/ must be listed with its SHA-256, not {rel!r}")
        for rel, info in man["files"].items():
            f = d / rel
            if not f.is_file():
                raise FormatError(f"{p} lists {rel}, which is missing")
            if sha256_bytes(f.read_bytes()) != info["sha256"]:
                raise FormatError(f"{rel}: SHA-256 must match the manifest; the file was changed")
    return man


def read_rom(export_dir: str | Path, name: str, fmt: str = "hex", manifest: dict | None = None) -> np.ndarray:
    """The word image of ROM ``name`` read from its ``fmt`` file (width taken from the manifest)."""
    d = Path(export_dir)
    man = read_manifest(d, verify=False) if manifest is None else manifest
    entry = next((r for r in man["roms"] if r["name"] == name), None)
    if entry is None:
        raise FormatError(f"ROM must be one of {', '.join(r['name'] for r in man['roms'])}, not {name!r}")
    if fmt not in entry["files"]:
        raise FormatError(f"ROM {name!r} was written as {', '.join(entry['files'])}, not {fmt!r}")
    words = read_words(d / entry["files"][fmt], entry["word_bits"])
    if words.shape[0] != entry["depth"]:
        raise FormatError(f"{entry['files'][fmt]}: depth must be {entry['depth']} words, not {words.shape[0]}")
    return words


def segment_codes(words: np.ndarray, entry: dict[str, Any]) -> list[tuple[dict[str, Any], np.ndarray]]:
    """(segment, its ``(rows, cols)`` codes) for every segment of a weight ROM's manifest entry."""
    codes = unpack_codes(words, entry["code_bits"], entry["word_bits"]).reshape(-1)
    r, l = entry["tile_rows"], entry["tile_lanes"]
    out = []
    for seg in entry["segments"]:
        n = seg["row_groups"] * seg["col_groups"]
        tiles = codes[seg["start"] * r * l : (seg["start"] + n) * r * l].reshape(n, r * l)
        out.append((seg, untile_codes(tiles, seg["rows"], seg["cols"], r, l)))
    return out


def bias_fields(words: np.ndarray, entry: dict[str, Any]) -> np.ndarray:
    """Every field of a bias or row-shift ROM, word by word and field by field (padding rows
    included), as int64: two's complement where the entry says ``signed``, else unsigned."""
    fb, n, signed = entry["field_bits"], entry["rows_per_word"], entry["signed"]
    out = []
    for w in words_to_ints(words, entry["word_bits"], signed=False):
        for k in range(n):
            v = (w >> (k * fb)) & ((1 << fb) - 1)
            out.append(v - (1 << fb) if signed and v >> (fb - 1) else v)
    return np.array(out, dtype=np.int64)


def decode_with_manifest(export_dir: str | Path, fmt: str = "hex") -> dict[str, tuple[np.ndarray, int]]:
    """Decode every weight tensor of an export from its manifest and ROM files.

    Returns ``{tensor key: (m, scale_log2)}`` with ``m`` the int64 multipliers in the tensor's
    PyTorch shape, so the weight is ``m * 2**scale_log2``.
    """
    d = Path(export_dir)
    man = read_manifest(d)
    code_to_m = {e["code"]: e["m"] for e in man["codes"]["table"]}
    lut = np.full(1 << man["codes"]["bits"], np.iinfo(np.int64).min, dtype=np.int64)
    for c, m in code_to_m.items():
        lut[c] = m
    out: dict[str, tuple[np.ndarray, int]] = {}
    for key, t in man["tensors"].items():
        if t["rom"] is not None:
            out[key] = (np.full(t["shape"], np.iinfo(np.int64).min, dtype=np.int64), t["scale_log2"])
    for entry in man["roms"]:
        if entry["role"] != "weights":
            continue
        for seg, codes in segment_codes(read_rom(d, entry["name"], fmt, man), entry):
            mat = lut[codes]
            for src in seg["sources"]:
                (r0, r1), (c0, c1), (k0, k1) = src["tensor_rows"], src["tensor_cols"], src["cols"]
                out[src["tensor"]][0][r0:r1, c0:c1] = mat[:, k0:k1]
    for key, (m, _) in out.items():
        if (m == np.iinfo(np.int64).min).any():
            raise FormatError(f"tensor {key!r}: a code is never written or an element is not covered by any ROM")
    return out
