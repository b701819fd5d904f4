"""The schema of ``manifest.json`` (the parts ``hwsim cosim`` and ``hwsim synth`` read) and its
cross-reference checks, through ``hwsim._validate``'s one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Type

from pydantic import Field, StrictInt, StrictStr

from hwsim._errors import ConfigError
from hwsim._validate import E, Count, Int64, Name, Open, Small, validate
from hwsim.datapath._config import STREAM_DEFAULTS, DatapathConfig
from hwsim.datapath._plan import lut_rom_names
from hwsim.datapath._records import ContractRecord
from hwsim.model._model import CELL_GATES


class _FileEntry(Open):
    sha256: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")]
    bytes: Count


class _Segment(Open):
    name: Name
    start: Count
    rows: Count
    cols: Count | None = None
    words_per_row: Count | None = None


class _Rom(Open):
    name: Name
    files: dict[Name, Name]
    word_bits: Annotated[StrictInt, Field(ge=1, le=1 << 20)]
    depth: Count
    code_bits: Annotated[StrictInt, Field(ge=1, le=32)] | None = None
    segments: list[_Segment]


class _Accum(Open):
    name: Name
    rows: Count
    n_in: Count
    n_rec: Count
    bias: list[Int64]
    row_shift: list[Count] | None = None  # with the layer's row_shift_rom


class _Layer(Open):
    index: Count
    s_in: Small
    s_rec: Small
    acc_frac: Small
    acc_bits: Annotated[StrictInt, Field(ge=1, le=64)]
    shift_in: Small
    shift_rec: Small
    weights_rom: Name
    bias_rom: Name
    row_shift_rom: Name | None = None  # per-row weight scales: the shift ROM beside bias_rom
    accumulations: list[_Accum]


class _Head(Open):
    s: Small
    acc_frac: Small
    acc_bits: Annotated[StrictInt, Field(ge=1, le=64)]
    shift: Small
    weights_rom: Name
    bias_rom: Name
    row_shift_rom: Name | None = None


class _Model(Open):
    cell: Literal[tuple(CELL_GATES)]
    input_size: Annotated[StrictInt, Field(ge=1, le=1 << 20)]
    hidden_size: Annotated[StrictInt, Field(ge=1, le=1 << 20)]


class _Codes(Open):
    kind: Name
    bits: Annotated[StrictInt, Field(ge=1, le=32)]


class _Rtl(Open):
    top: Name
    files: list[Name]


class _RomCheck(Open):
    name: Name
    files: dict[Name, Name]


class ManifestRecord(Open):
    """What ``hwsim cosim`` / ``hwsim synth`` read from ``manifest.json``."""

    manifest_version: StrictInt  # read_manifest checks it is the version it knows
    contract: dict[str, Any]
    model: _Model
    codes: _Codes
    roms: list[_Rom]
    layers: Annotated[list[_Layer], Field(min_length=1)]
    head: _Head | None = None
    rtl: _Rtl | None = None
    rom_check: _RomCheck | None = None  # absent in manifests from before the ROM check
    files: dict[Name, _FileEntry]


def check_manifest(man: Any, *, source: str, error: Type[E]) -> ManifestRecord:
    """Schema-check a manifest and its cross-references; return the parsed record.

    The integrity rule cannot be switched off by the manifest: every file the design reads (each
    ROM's files, every RTL file) must be listed under ``files`` with its SHA-256.
    """
    rec = validate(ManifestRecord, man, source=source, error=error)
    try:  # the schema and the contract's own rules
        cfg = DatapathConfig.from_dict(rec.contract, source=f"{source}: contract")
    except ConfigError as e:
        raise error(str(e)) from None
    # weight_scales may be left out (manifests written before the key existed: "auto", which follows the
    # model), and so may weights ("rom": no load port) and the stream keys at their defaults (one
    # element a beat, every step's h)
    missing = sorted(set(ContractRecord.model_fields) - set(rec.contract) - {"weight_scales", "weights", *STREAM_DEFAULTS})
    if missing:  # the RTL was generated from the whole contract: no key may fall back to a default
        raise error(f"{source}: contract must give every key of the datapath contract, not lack {missing[0]!r}")
    roms = {r.name for r in rec.roms}
    needed = [(lj.weights_rom, f"layers[{lj.index}]") for lj in rec.layers]
    needed += [(lj.bias_rom, f"layers[{lj.index}]") for lj in rec.layers]
    needed += [(lj.row_shift_rom, f"layers[{lj.index}]") for lj in rec.layers if lj.row_shift_rom is not None]
    if rec.head is not None:
        needed += [(rec.head.weights_rom, "head"), (rec.head.bias_rom, "head")]
        needed += [(rec.head.row_shift_rom, "head")] if rec.head.row_shift_rom is not None else []
    for lj in rec.layers:  # per-layer precision: a layer's tables are the shared ones or its own
        needed += [(name, f"layers[{lj.index}]'s lut activation") for name in lut_rom_names(cfg, lj.index) or ()]
    for name, who in needed:
        if name not in roms:
            raise error(f"{source}: {who} names ROM {name!r}, which must be listed under roms")
    segments = {r.name: {s.name for s in r.segments} for r in rec.roms}
    for lj in rec.layers:
        for a in lj.accumulations:
            if a.name not in segments[lj.weights_rom]:
                raise error(f"{source}: layers[{lj.index}] accumulation {a.name!r} must be a segment of ROM {lj.weights_rom!r}")
    if rec.head is not None and "head" not in segments[rec.head.weights_rom]:
        raise error(f"{source}: ROM {rec.head.weights_rom!r} must hold a segment 'head'")
    read = [f for r in rec.roms for f in r.files.values()]
    read += list(rec.rom_check.files.values()) if rec.rom_check is not None else []
    read += list(rec.rtl.files) if rec.rtl is not None else []
    for rel in [*read, *rec.files]:
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise error(f"{source}: file paths must be relative and stay inside the export, not {rel!r}")
    for rel in read:
        if rel not in rec.files:
            raise error(f"{source}: every ROM and RTL file must be listed under files with its SHA-256, not {rel!r}")
    return rec
