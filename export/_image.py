"""Load images for run-time weights (docs/rom_format.md, "Load image"; docs/rtl.md, "Run-time weights").

An export with ``weights = "runtime"`` keeps its weight and bias memories writable behind a byte
stream port (``rtl_templates/hwsim_loader.v``). The image that port takes is

    16-byte header | every writable memory's words | CRC-32 (zlib) of header and body, little-endian

The header pins everything the RTL's parameters fix: a design hash over the generated top's
parameters and the memory geometry (``design_key``), so an image fits a build exactly when the
model lowered with that contract would generate the same RTL; only the memory contents differ.
``load_image(model, cfg)`` builds the image of any quantized model (``hwsim cosim --load-weights``
and the board driver use it); ``check_image_fits`` says in one line why a model does not fit an
export.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from typing import Any

from hwsim._errors import FormatError

from ._pack import Rom, rom_images, word_bytes

#: The first four bytes of every image.
IMAGE_MAGIC = b"HWSW"
#: Bumped whenever the byte layout changes; the loader refuses other versions.
IMAGE_VERSION = 1
HEADER_BYTES = 16
CRC_BYTES = 4
#: The export's image of its own model, relative to the export directory.
IMAGE_FILE = "rom/weights.bin"
#: Roles of the memories the image carries (the tables are the contract's, pinned by the hash).
IMAGE_ROLES = ("weights", "bias")
#: Most memories the load bus selects (``ld_sel`` is 8 bits) and deepest one (``ld_addr``, 24 bits).
MAX_MEMORIES = 256
MAX_DEPTH = 1 << 24


def image_memories(roms: dict[str, Rom]) -> list[Rom]:
    """The writable memories in image order (``ld_sel`` 0, 1, ...): ``l0_weights, l0_bias, l1_weights,
    ..., head_weights, head_bias`` -- the order of ``rom_images``."""
    mems = [r for r in roms.values() if r.role in IMAGE_ROLES]
    if len(mems) > MAX_MEMORIES or any(r.depth > MAX_DEPTH for r in mems):
        raise FormatError(f"run-time weights take at most {MAX_MEMORIES} memories of at most {MAX_DEPTH} words")
    return mems


def _jsonable(v: Any) -> Any:
    if hasattr(v, "to_dict"):
        return v.to_dict()
    raise TypeError(f"not serializable: {type(v).__name__}")


def design_key(plan, roms: dict[str, Rom] | None = None) -> dict[str, Any]:
    """What an image must match: the generated top's parameters (``_rtl.top_params``: formats,
    shifts, accumulator widths, folding, ...) and every writable memory's name, width and depth."""
    from ._rtl import top_params

    roms = rom_images(plan) if roms is None else roms
    params = top_params(plan, "hwsim_top")
    del params["top"]
    return {
        "rtl": json.loads(json.dumps(params, default=_jsonable, sort_keys=True)),
        "memories": [[r.name, r.width, r.depth] for r in image_memories(roms)],
    }


def design_hash(plan, roms: dict[str, Rom] | None = None) -> int:
    """The header's 32-bit design hash: the first four bytes of the SHA-256 of ``design_key`` as
    canonical JSON, read little-endian."""
    text = json.dumps(design_key(plan, roms), sort_keys=True, separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def body_bytes(roms: dict[str, Rom]) -> int:
    return sum(r.depth * word_bytes(r.width) for r in image_memories(roms))


def image_header(plan, roms: dict[str, Rom] | None = None) -> bytes:
    """The 16 header bytes: magic, version, memory count, 2 reserved zero bytes, design hash, body bytes."""
    roms = rom_images(plan) if roms is None else roms
    n = len(image_memories(roms))
    return IMAGE_MAGIC + struct.pack("<BBHII", IMAGE_VERSION, n, 0, design_hash(plan, roms), body_bytes(roms))


def plan_image(plan, roms: dict[str, Rom] | None = None) -> bytes:
    """The load image of a lowered plan."""
    roms = rom_images(plan) if roms is None else roms
    data = image_header(plan, roms) + b"".join(r.words.tobytes() for r in image_memories(roms))
    return data + struct.pack("<I", zlib.crc32(data))


def load_image(model, cfg=None) -> bytes:
    """The load image of a quantized ``model`` under the contract ``cfg`` (default: the default contract).

    Feed it, a byte a beat with ``tlast`` on the last, to the ``s_load`` port of an export built
    with ``weights = "runtime"`` from a model of the same shape under the same contract.
    """
    from hwsim.datapath._config import DatapathConfig
    from hwsim.datapath._plan import lower

    cfg = DatapathConfig() if cfg is None else cfg
    return plan_image(lower(model, cfg))


def loader_params(plan, roms: dict[str, Rom] | None = None) -> dict[str, Any]:
    """The parameters of ``hwsim_loader`` in the generated top (hex strings for the vector parameters)."""
    roms = rom_images(plan) if roms is None else roms
    mems = image_memories(roms)
    nb = [word_bytes(r.width) for r in mems]
    # memory i at bits [i*16 +: 16] / [i*24 +: 24]: the last memory's digits come first
    return {
        "nmem": len(mems),
        "ld_dw": 8 * max(nb),
        "mem_nb_hex": "".join(f"{v:04x}" for v in reversed(nb)),
        "mem_depth_hex": "".join(f"{r.depth:06x}" for r in reversed(mems)),
        "hdr_hex": image_header(plan, roms)[::-1].hex(),
    }


def image_summary(plan, roms: dict[str, Rom] | None = None) -> dict[str, Any]:
    """The manifest's ``runtime`` entry: the image file, its size, hash and memory order."""
    roms = rom_images(plan) if roms is None else roms
    mems = image_memories(roms)
    return {
        "image": IMAGE_FILE,
        "version": IMAGE_VERSION,
        "design_hash": f"{design_hash(plan, roms):08x}",
        "bytes": HEADER_BYTES + body_bytes(roms) + CRC_BYTES,
        "memories": [{"sel": i, "name": r.name, "word_bits": r.width, "word_bytes": word_bytes(r.width),
                      "depth": r.depth} for i, r in enumerate(mems)],
    }


def _shape(plan) -> dict[str, Any]:
    return {"cell": plan.cell, "input_size": plan.input_size, "hidden_size": plan.hidden_size,
            "layers": len(plan.layers), "classes": plan.num_classes or 0, "codes": f"{plan.codec.kind}{plan.codec.bits}"}


def check_image_fits(plan, export_plan) -> None:
    """Refuse (``FormatError``, one line) a plan whose image the export built from ``export_plan``
    cannot take: another shape, or the same shape with other RTL parameters (e.g. the shifts that
    follow from the weight scales)."""
    a, b = _shape(plan), _shape(export_plan)
    for k in a:
        if a[k] != b[k]:
            raise FormatError(f"the weights to load must have the export's shape ({k} {b[k]}), not {a[k]}")
    ka, kb = design_key(plan), design_key(export_plan)
    if ka != kb:  # the RTL's parameters first: a memory's size follows from them
        diff = _first_difference(ka["rtl"], kb["rtl"]) if ka["rtl"] != kb["rtl"] else _first_difference(ka, kb)
        raise FormatError(f"the weights to load must fit the export's RTL parameters ({diff}); "
                          "quantize them with the export's contract and scales")


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return f"{path}: export {b!r}, given {a!r}"
