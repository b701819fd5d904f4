"""``write_export``: a quantized model plus the contract -> DIR/{manifest.json, rom/, rtl/}, atomically.

Everything that can be refused (formats, identifiers, paths, the contract, the model's codes) is
checked before the first byte is written. The export is then built in a hidden temporary sibling of
DIR (same parent, so the final ``os.replace`` is a rename on one file system) and renamed into
place; an error removes the temporary directory, and a kill leaves at most a ``.NAME.tmp-*``
sibling, never a partial DIR.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwsim._config import DatapathConfig
from hwsim._fsutil import prepare_output_dir, replace_dir, sibling_tmp_dir
from hwsim._schedule import cycles_per_step

from ._formats import FORMATS, check_formats, format_words
from ._manifest import MANIFEST_NAME, build_manifest, dump_manifest, sha256_bytes
from ._names import check_identifier, check_output_path  # noqa: F401  (re-exported)
from ._pack import rom_images
from ._rtl import write_rtl
from .._repr import short_repr

DEFAULT_TOP = "hwsim_top"


@dataclass(frozen=True)
class ExportResult:
    __repr__ = short_repr

    path: Path
    manifest: dict[str, Any]
    files: tuple[str, ...]  # paths relative to ``path``, manifest.json last
    rtl_written: bool


def _schedule(plan) -> dict[str, Any]:
    """The predicted cycles per timestep (``hwsim._schedule``), recorded in the manifest."""
    sched = cycles_per_step(plan)
    return {"cycles_per_step": int(sched["step"]), **sched}


def write_export(
    model,
    out_dir: str | os.PathLike,
    cfg: DatapathConfig | None = None,
    *,
    formats=tuple(FORMATS),
    force: bool = False,
    top_name: str = DEFAULT_TOP,
    rtl: bool = True,
) -> ExportResult:
    """Export a quantized model: ROM files in ``formats``, ``manifest.json`` and (``rtl``) ``rtl/``.

    ``hex`` is always written: the RTL's ``$readmemh`` reads it. Raises ``FormatError`` /
    ``ConfigError`` / ``QuantError`` before writing anything when the input is refused, and
    ``HwsimError`` when ``out_dir`` exists and ``force`` is false, or holds files hwsim did not
    write (``hwsim._fsutil``: only a directory carrying hwsim's marker is ever replaced).
    """
    from hwsim._plan import lower

    cfg = DatapathConfig() if cfg is None else cfg
    fmts = check_formats(("hex",) + tuple(check_formats(formats)))
    check_identifier(top_name)
    out = check_output_path(out_dir)
    prepare_output_dir(out, force=force)  # the ownership rule (hwsim._fsutil), before anything is built
    plan = lower(model, cfg)
    roms = rom_images(plan)
    manifest = build_manifest(model, plan, roms, fmts)
    manifest["rtl"] = {"top": top_name, "files": []} if rtl else None
    manifest["schedule"] = _schedule(plan)

    tmp = sibling_tmp_dir(out)
    try:
        files: dict[str, bytes] = {}
        (tmp / "rom").mkdir()
        for rom in roms.values():
            comment = f"hwsim {manifest['tool']['version']}: ROM {rom.name} ({rom.role}), {rom.width}-bit words, depth {rom.depth}"
            for fmt in fmts:
                rel = f"rom/{rom.name}{FORMATS[fmt]}"
                data = format_words(rom.words, rom.width, fmt, comment=comment)
                (tmp / rel).write_bytes(data)
                files[rel] = data
        if rtl:
            (tmp / "rtl").mkdir(exist_ok=True)
            written = write_rtl(plan, tmp / "rtl", manifest)
            rels = sorted(Path(p).resolve().relative_to(tmp.resolve()).as_posix() for p in written)
            manifest["rtl"]["files"] = rels
            for rel in rels:
                files[rel] = (tmp / rel).read_bytes()
        manifest["files"] = {rel: {"sha256": sha256_bytes(b), "bytes": len(b)} for rel, b in sorted(files.items())}
        (tmp / MANIFEST_NAME).write_bytes(dump_manifest(manifest))
        replace_dir(tmp, out, force=force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportResult(out, manifest, tuple(sorted(files)) + (MANIFEST_NAME,), rtl)

