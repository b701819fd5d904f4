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
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwsim.datapath._config import DatapathConfig
from hwsim._errors import FormatError
from hwsim._fsutil import prepare_output_dir, replace_dir, sibling_tmp_dir
from hwsim.datapath._schedule import cycles_per_step, stream_beats

from ._core import core_file
from ._formats import FORMATS, check_formats, format_words
from ._image import IMAGE_FILE, image_summary, loader_params, plan_image
from ._manifest import MANIFEST_NAME, build_manifest, dump_manifest, sha256_bytes
from ._names import check_identifier, check_module_prefix, check_output_path  # noqa: F401  (re-exported)
from ._pack import rom_check_image, rom_images
from ._rtl import ROM_NAMES, constraint_files, top_params, write_rtl
from .._repr import short_repr
from ._tb import default_tb_inputs, tb_files

#: The export's Verilog file list (relative to the export root).
FILE_LIST = "rtl/files.f"

DEFAULT_TOP = "hwsim_top"


def check_tb_inputs(plan, x) -> "np.ndarray":
    """Golden inputs must be integers of shape (N >= 1, T >= 1, I) inside the x format."""
    import numpy as np

    x = np.asarray(x)
    if x.ndim != 3 or x.shape[0] < 1 or x.shape[1] < 1 or x.shape[2] != plan.input_size:
        raise FormatError(f"testbench inputs must have shape (N, T, {plan.input_size}), not {x.shape}")
    fx = plan.config.x
    if not np.issubdtype(x.dtype, np.integer) or x.min() < fx.min_int or x.max() > fx.max_int:
        raise FormatError(f"testbench inputs must be integers in the x format range [{fx.min_int}, {fx.max_int}]")
    return x.astype(np.int64)


@dataclass(frozen=True)
class ExportResult:
    __repr__ = short_repr

    path: Path
    manifest: dict[str, Any]
    files: tuple[str, ...]  # paths relative to ``path``, manifest.json last
    rtl_written: bool


def stream_layout(plan) -> dict[str, Any]:
    """The AXI4-Stream ports of the generated top (docs/rtl.md, "Beat order"), for the manifest."""
    p = top_params(plan)
    b = stream_beats(plan)
    cfg = plan.config
    return {"in_elems": cfg.in_elems, "out_elems": cfg.out_elems, "out_mode": cfg.out_mode,
            "s_axis_tdata_bits": p["s_width"], "m_axis_tdata_bits": p["m_width"],
            "in_lane_bits": p["s_width"] // cfg.in_elems, "out_lane_bits": p["m_width"] // cfg.out_elems,
            "input_beats_per_step": b["input"], "h_beats": b["h"], "head_beats": b["head"]}


def _schedule(plan) -> dict[str, Any]:
    """The predicted cycles per timestep (``hwsim.datapath._schedule``), recorded in the manifest."""
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
    tb: bool = True,
    tb_inputs=None,
    tb_lengths=None,
    module_prefix: str = "hwsim_",
    rom_names: str = "dir",
) -> ExportResult:
    """Export a quantized model: ROM files in ``formats``, ``manifest.json`` and (``rtl``) ``rtl/``
    with its file list ``rtl/files.f``, and (``rtl`` and ``tb``) the testbench ``tb/``.

    ``tb_inputs`` (integer array (N, T, I) in the x format) are the golden inputs of ``tb/``;
    default: a few random sequences plus saturating ones (``export._tb``). ``tb_lengths`` (N,)
    gives each golden sequence its own number of steps (variable-length sequences, docs/datapath.md).
    ``module_prefix`` names the library blocks (``hwsim_rom`` becomes ``{prefix}rom``) so that two
    exports can share one design; ``rom_names="bare"`` has the top name its ROM files without a
    directory (Vivado and Quartus find files added to the project by name); ``DIR/constraints/`` gets a clock constraint template (.xdc, .sdc).
    ``hex`` is always written: the RTL's ``$readmemh`` reads it. Raises ``FormatError`` /
    ``ConfigError`` / ``QuantError`` before writing anything when the input is refused, and
    ``HwsimError`` when ``out_dir`` exists and ``force`` is false, or holds files hwsim did not
    write (``hwsim._fsutil``: only a directory carrying hwsim's marker is ever replaced).
    """
    from hwsim.datapath._plan import lower

    cfg = DatapathConfig() if cfg is None else cfg
    fmts = check_formats(("hex",) + tuple(check_formats(formats)))
    check_identifier(top_name)
    check_module_prefix(module_prefix, top_name)
    if rom_names not in ROM_NAMES:
        raise FormatError(f"ROM file naming must be one of {', '.join(ROM_NAMES)}, not {rom_names!r}")
    out = check_output_path(out_dir)
    prepare_output_dir(out, force=force)  # the ownership rule (hwsim._fsutil), before anything is built
    plan = lower(model, cfg)
    tb_x = None
    if rtl and tb:
        tb_x = default_tb_inputs(plan) if tb_inputs is None else check_tb_inputs(plan, tb_inputs)
        if tb_lengths is not None:
            from hwsim._validate import check_lengths

            tb_lengths = check_lengths(tb_lengths, *tb_x.shape[:2], what="testbench lengths", error=FormatError)
    roms = rom_images(plan)
    runtime = cfg.weights == "runtime"
    loader = loader_params(plan, roms) if (runtime and rtl) else None
    manifest = build_manifest(model, plan, roms, fmts)
    manifest["runtime"] = image_summary(plan, roms) if runtime else None
    manifest["rtl"] = {"top": top_name, "files": [], "module_prefix": module_prefix,
                       "rom_names": rom_names} if rtl else None
    manifest["tb"] = None
    if not rtl:
        manifest["rom_check"] = None
    manifest["schedule"] = _schedule(plan)
    if rtl:
        manifest["stream"] = stream_layout(plan)

    tmp = sibling_tmp_dir(out)
    try:
        files: dict[str, bytes] = {}
        (tmp / "rom").mkdir()
        # the ROM check last, with the RTL that reads it (docs/rom_format.md, "ROM check")
        for rom in [*roms.values(), *([rom_check_image()] if rtl else [])]:
            comment = f"hwsim {manifest['tool']['version']}: ROM {rom.name} ({rom.role}), {rom.width}-bit words, depth {rom.depth}"
            for fmt in fmts:
                rel = f"rom/{rom.name}{FORMATS[fmt]}"
                data = format_words(rom.words, rom.width, fmt, comment=comment)
                (tmp / rel).write_bytes(data)
                files[rel] = data
        if runtime:  # the load image of this model (docs/rom_format.md, "Load image")
            data = plan_image(plan, roms)
            (tmp / IMAGE_FILE).write_bytes(data)
            files[IMAGE_FILE] = data
        if rtl:
            (tmp / "rtl").mkdir(exist_ok=True)
            written = write_rtl(plan, tmp / "rtl", manifest, loader)
            rels = sorted(Path(p).resolve().relative_to(tmp.resolve()).as_posix() for p in written)
            manifest["rtl"]["files"] = rels
            for rel in rels:
                files[rel] = (tmp / rel).read_bytes()
            # One file list for every tool, paths relative to rtl/ (iverilog -c, verilator -F, yosys read -f).
            flist = "".join(f"{Path(rel).name}\n" for rel in rels).encode()
            (tmp / FILE_LIST).write_bytes(flist)
            files[FILE_LIST] = flist
            manifest["rtl"]["file_list"] = FILE_LIST
            (tmp / "constraints").mkdir()
            for rel, data in constraint_files(top_name).items():
                (tmp / rel).write_bytes(data)
                files[rel] = data
            manifest["rtl"]["constraints"] = sorted(constraint_files(top_name))
        if tb_x is not None:
            (tmp / "tb").mkdir()
            extra = tb_files(plan, top_name, tb_x, tb_lengths)
            for rel, data in extra.items():
                (tmp / rel).write_bytes(data)
            files.update(extra)
            manifest["tb"] = {"sequences": int(tb_x.shape[0]), "steps": int(tb_x.shape[1]), "files": sorted(extra)}
        if rtl:
            golden = json.loads(files["tb/golden.json"]) if tb_x is not None else None
            hexes = sorted(rel for rel in files if rel.startswith("rom/") and rel.endswith(FORMATS["hex"]))
            core = core_file(top_name, manifest["tool"]["version"], manifest["rtl"]["files"], hexes, golden)
            (tmp / f"{top_name}.core").write_bytes(core)
            files[f"{top_name}.core"] = core
            manifest["rtl"]["core"] = f"{top_name}.core"
        manifest["files"] = {rel: {"sha256": sha256_bytes(b), "bytes": len(b)} for rel, b in sorted(files.items())}
        (tmp / MANIFEST_NAME).write_bytes(dump_manifest(manifest))
        replace_dir(tmp, out, force=force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportResult(out, manifest, tuple(sorted(files)) + (MANIFEST_NAME,), rtl)

