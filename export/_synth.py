"""``synthesize``: run yosys on an export's RTL and count what the design costs on an FPGA family.

One yosys run per call: first the design is elaborated without flattening (``hierarchy; proc``) and
its variable-by-variable ``$mul`` cells are counted per module, instance-weighted, so the report can
say where real multipliers sit (the shift-add lane has none for binary, ternary and exponential codes; the uniform
baseline's lane has one); then ``synth_<family>`` maps it and ``stat -json`` gives the cell counts.
yosys runs in the export's ``rtl/``, so the top's ``$readmemh`` paths (``ROM_DIR = "../rom"``) resolve.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hwsim._errors import FormatError, ToolError
from ._rtl import prefixed as _prefixed

#: Family -> (yosys command, LUT cells, flip-flop cell prefixes, block-RAM cells, DSP cells).
TARGETS: dict[str, dict[str, Any]] = {
    "ice40": {
        "synth": "synth_ice40 -dsp",  # -dsp: multipliers go to SB_MAC16 (iCE40 UltraPlus), not LUTs
        # hwsim_mul: an SB_MAC16 with its input and product registers (UltraPlus parts only)
        "defines": ("HWSIM_ICE40",),
        "cells": "-D ICE40_HX +/ice40/cells_sim.v",
        "luts": ("SB_LUT4",),
        "ffs": ("SB_DFF",),
        "brams": ("SB_RAM40_4K",),
        "dsps": ("SB_MAC16",),
        "table_ports": 1,  # SB_RAM40_4K has one read port: one table copy per pointwise reader
    },
    "ecp5": {
        "synth": "synth_ecp5",
        # hwsim_mul: a MULT18X18D with its own input and output registers (its cell library first)
        "defines": ("HWSIM_ECP5",),
        "cells": "+/ecp5/cells_bb.v",
        "luts": ("LUT4",),
        "ffs": ("TRELLIS_FF",),
        "brams": ("DP16KD", "PDPW16KD"),
        "dsps": ("MULT18X18D", "ALU54B"),
        "table_ports": 2,  # DP16KD is true dual-port: one table copy serves two readers
    },
    "xilinx": {
        "synth": "synth_xilinx",
        "luts": ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6"),
        "ffs": ("FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1", "FDPE_1", "LDCE", "LDPE"),
        "brams": ("RAMB18E1", "RAMB36E1", "RAMB18E2", "RAMB36E2"),
        "dsps": ("DSP48E1", "DSP48E2"),
    },
}
#: Family -> device -> what it holds: logic (iCE40 logic cells, each one LUT4 and one FF; ECP5 LUT4s),
#: flip-flops (ECP5; on iCE40 they share the logic cells), block RAMs (SB_RAM40_4K / DP16KD) and DSPs
#: (SB_MAC16 / MULT18X18D), from the vendors' data sheets (nextpnr reports the same totals).
CAPACITY: dict[str, dict[str, dict[str, int]]] = {
    "ice40": {
        "up5k": {"luts": 5280, "brams": 30, "dsps": 8},
        "up3k": {"luts": 2800, "brams": 20, "dsps": 4},
        "u4k": {"luts": 3520, "brams": 20, "dsps": 4},
        "hx8k": {"luts": 7680, "brams": 32, "dsps": 0},
        "lp8k": {"luts": 7680, "brams": 32, "dsps": 0},
        "hx4k": {"luts": 3520, "brams": 20, "dsps": 0},
        "lp4k": {"luts": 3520, "brams": 20, "dsps": 0},
        "hx1k": {"luts": 1280, "brams": 16, "dsps": 0},
        "lp1k": {"luts": 1280, "brams": 16, "dsps": 0},
        "lp384": {"luts": 384, "brams": 0, "dsps": 0},
    },
    "ecp5": {
        size: {"luts": n, "ffs": n, "brams": b, "dsps": m}
        for base, n, b, m in (("12k", 12288, 32, 28), ("25k", 24288, 56, 28), ("45k", 43848, 108, 72),
                              ("85k", 83640, 208, 156))
        for size in (base, f"um-{base}", f"um5g-{base}") if not (base == "12k" and size != base)
    },
}
#: Family -> the device compared when none is named.
DEFAULT_DEVICE = {"ice40": "up5k", "ecp5": "25k"}
#: RTL modules whose multipliers would be weight products (rtl_templates/hwsim_lane.v).
WEIGHT_PRODUCT_MODULES = ("hwsim_lane",)  # under the export's module prefix (docs/rtl.md, "Packaging")
_PARAMOD = re.compile(r"^\$paramod\\([^\\]+)\\.*$|^\$paramod\$[0-9a-f]+\\(.+)$")


@dataclass(frozen=True)
class SynthReport:
    target: str
    top: str
    luts: int
    ffs: int
    brams: int
    dsps: int
    cells: dict[str, int]  # mapped cells by type
    multipliers: dict[str, int]  # $mul cells before mapping, instance-weighted, by RTL module
    weight_multipliers: int  # of those, in the weight-product lane (0 unless the code is uniform)
    cycles_per_step: int | None  # compute cycles of one time step (hwsim.datapath._schedule, "step")
    step_period: int | None  # cycles a step of a long sequence, I/O overlapped (max(step, H, I)), no stalls
    yosys: str
    seconds: float
    device: str | None = None  # the device the counts were compared with (None: no table, e.g. xilinx)
    capacity: dict[str, int] = field(default_factory=dict)  # what that device holds
    does_not_fit: str | None = None  # one line: what exceeds the device (None: every count fits)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _base(name: str) -> str:
    name = name.lstrip("\\")
    m = _PARAMOD.match(name)
    if m:
        name = m.group(1) or m.group(2)
    return name.lstrip("\\")


#: Multiplier primitives the RTL may instantiate itself (counted like ``$mul``).
MUL_PRIMITIVES = ("MULT18X18D", "SB_MAC16")


def _mul_by_module(netlist: dict[str, Any], top: str) -> dict[str, int]:
    """Instance-weighted count, per RTL module, of ``$mul`` cells whose two operands both vary.

    ``netlist`` is yosys ``write_json`` output of the elaborated, unflattened design. Products with
    a constant operand (address arithmetic such as ``row * WORDS_PER_ROW``) fold into shifts and
    adds and are not multipliers in hardware, so they are not counted.
    """
    mods = netlist.get("modules", {})
    own: dict[str, int] = {}
    subs: dict[str, list[tuple[str, int]]] = {}
    for name, mod in mods.items():
        n, children = 0, {}
        for cell in mod.get("cells", {}).values():
            typ = cell.get("type", "")
            if typ == "$mul":
                conn = cell.get("connections", {})
                if all(any(isinstance(b, int) for b in conn.get(port, [])) for port in ("A", "B")):
                    n += 1
            elif typ in MUL_PRIMITIVES:  # instantiated by the RTL (hwsim_mul on ECP5 and iCE40)
                n += 1
            elif typ in mods:
                children[typ] = children.get(typ, 0) + 1
        own[name], subs[name] = n, list(children.items())
    out: dict[str, int] = {}

    def walk(name: str, times: int, depth: int = 0) -> None:
        if depth > 64:  # pragma: no cover - yosys refuses recursive hierarchies anyway
            return
        if own[name]:
            out[_base(name)] = out.get(_base(name), 0) + own[name] * times
        for child, count in subs[name]:
            walk(child, times * count, depth + 1)

    top_key = next((k for k in mods if _base(k) == top), None)
    if top_key is not None:
        walk(top_key, 1)
    return dict(sorted(out.items()))


def yosys_path() -> str:
    exe = shutil.which("yosys")
    if exe is None:
        raise ToolError("yosys must be installed and on PATH (Debian/Ubuntu: apt install yosys)")
    return exe


def table_ports(family: str, core: str, files: list[Path]) -> str:
    """The yosys line that sets the core's ``TABLE_PORTS`` (read ports per activation-table copy) for
    ``family``: 1 on iCE40, whose block RAM has one read port (yosys 0.23 maps a many-port ROM to
    LUTs there), else the top's default, 2. Empty when no file of ``files`` declares the parameter
    (a hand-written top, or an export made before it existed): ``chparam`` would fail on it."""
    decl = re.compile(r"\bparameter\s+TABLE_PORTS\b")
    if not any(decl.search(f.read_text(errors="replace")) for f in files if f.name == f"{core}.v" and f.is_file()):
        return ""
    return f"chparam -set TABLE_PORTS {TARGETS.get(family, {}).get('table_ports', 2)} {core}"


def read_rtl(family: str, files: str, *, dsp: bool = True) -> str:
    """The yosys lines that read ``files`` for ``family``: its cell library where the RTL instantiates
    a primitive, and the define that selects it (hwsim_mul: ECP5 ``-DHWSIM_ECP5``, a MULT18X18D;
    iCE40 ``-DHWSIM_ICE40``, an SB_MAC16). ``dsp=False`` (a part without DSP blocks, such as the
    iCE40 HX8K) reads the plain RTL."""
    t = TARGETS.get(family, {}) if dsp else {}
    lib = f"read_verilog -lib {t['cells']}\n" if "cells" in t else ""
    return lib + f"read_verilog {''.join(f'-D{d} ' for d in t.get('defines', ()))}-I. {files}"


def run_yosys(work_dir: Path, sources: list[str], top: str, target: str, *, timeout: float = 3600) -> tuple[dict, dict, str]:
    """Run yosys in ``work_dir`` on ``sources``; return (elaborated netlist, mapped ``stat -json``, version)."""
    if target not in TARGETS:
        raise FormatError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    exe = yosys_path()
    with tempfile.TemporaryDirectory(prefix="hwsim-synth-") as tmp:
        if any(ch.isspace() or ch in '"\\' for ch in tmp):
            raise ToolError(f"temporary directory path must contain no spaces or quotes, not {tmp!r}")
        elab, mapped = Path(tmp) / "elab.json", Path(tmp) / "stat.json"
        script = "\n".join([
            read_rtl(target, ' '.join(sources)),
            table_ports(target, top, [work_dir / f for f in sources]),
            f"hierarchy -check -top {top}",
            "proc",
            "opt_clean",
            f"write_json {elab}",
            f"{TARGETS[target]['synth']} -top {top}",
            f"tee -q -o {mapped} stat -json",
        ])
        (Path(tmp) / "run.ys").write_text(script + "\n")
        try:
            r = subprocess.run(
                [exe, "-q", "-s", str(Path(tmp) / "run.ys")], cwd=work_dir, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise ToolError(f"yosys ran longer than {timeout:g} s on {target}") from None
        if r.returncode != 0:
            lines = [ln for ln in (r.stderr + r.stdout).splitlines() if ln.strip()]
            err = next((ln for ln in lines if "ERROR" in ln), lines[-1] if lines else f"exit status {r.returncode}")
            raise ToolError(f"yosys failed on {target}: {err.strip()}")
        ver = subprocess.run([exe, "-V"], capture_output=True, text=True).stdout.strip()
        return json.loads(elab.read_text()), _loads_stat(mapped.read_text()), ver


def _loads_stat(text: str) -> dict[str, Any]:
    """Parse ``stat -json`` output; yosys 0.23 prints the hierarchy tree (not JSON) into it."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        keep = [ln for ln in text.splitlines() if ln.strip()[:1] in ('"', "{", "}", "[", "]")]
        return json.loads("\n".join(keep))


def _count(cells: dict[str, int], names: tuple[str, ...], prefix: bool = False) -> int:
    return sum(n for t, n in cells.items() if (t.startswith(names) if prefix else t in names))


def export_design(export_dir: str | Path, top: str | None = None) -> tuple[Path, dict[str, Any], str, list[str]]:
    """``(dir, manifest, top, rtl/*.v names)`` of an export; ``top`` defaults to the manifest's."""
    from ._export import check_identifier
    from ._manifest import read_manifest

    d = Path(export_dir)
    man = read_manifest(d)
    rtl = man.get("rtl") or {}
    top = top if top is not None else rtl.get("top")
    if top is None:
        raise FormatError(f"{d} has no rtl/ (exported without the RTL generator); pass --top and add rtl/*.v")
    check_identifier(top)
    sources = sorted(p.name for p in (d / "rtl").glob("*.v"))
    if not sources:
        raise FormatError(f"export directory must hold Verilog in rtl/*.v, none found in {d / 'rtl'}")
    return d, man, top, sources


def fit_line(target: str, device: str, counts: dict[str, int]) -> str | None:
    """What of ``counts`` (luts, ffs, brams, dsps from yosys) exceeds ``device``, in one line; None
    when all fit. On iCE40 a logic cell holds one LUT4 and one FF, so the design needs at least
    max(LUT4, FF) of them (placement may need more: nextpnr's count is the final word)."""
    cap = CAPACITY[target][device]
    need = dict(counts)
    names = {"luts": "LUT4", "ffs": "FF", "brams": "BRAM", "dsps": "DSP"}
    if target == "ice40":
        need["luts"] = max(counts["luts"], counts["ffs"])
        names["luts"] = "logic cells (at least max(LUT4, FF))"
    over = [f"{names[k]} {need[k]:,}/{cap[k]:,}" for k in ("luts", "ffs", "brams", "dsps") if k in cap and need[k] > cap[k]]
    if not over:
        return None
    return (f"does not fit {target} {device}: " + ", ".join(over)
            + "; fold more (smaller --rows / --lanes / --pointwise-units), narrow the formats, or name a larger --device")


def synthesize(export_dir: str | Path, target: str, *, top: str | None = None, timeout: float = 3600,
               device: str | None = None) -> SynthReport:
    """Synthesize ``DIR/rtl/*.v`` for ``target`` (ice40, ecp5, xilinx) and report its resources.

    The counts are compared with ``device`` (nextpnr's names: ``up5k``, ``25k``, ...; default the
    family's ``DEFAULT_DEVICE``): ``does_not_fit`` says in one line what exceeds it.

    ``top`` defaults to the manifest's ``rtl.top``; ``cycles_per_step`` comes from the manifest's
    ``schedule`` (written by ``hwsim export`` from ``hwsim.datapath._schedule``).
    """
    if target not in TARGETS:
        raise FormatError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    if device is not None:
        if target not in CAPACITY:
            raise FormatError(f"--device needs a family with a capacity table (ice40, ecp5), not {target}")
        device = device.partition(":")[0].lower()
        if device not in CAPACITY[target]:
            raise FormatError(f"{target} device must be one of {', '.join(CAPACITY[target])}, not {device!r}")
    device = device or DEFAULT_DEVICE.get(target)
    d, man, top, sources = export_design(export_dir, top)
    t0 = time.perf_counter()
    # cwd = rtl/: the top's ROM_DIR parameter defaults to "../rom" (docs/rtl.md).
    elab, mapped, ver = run_yosys(d / "rtl", sources, top, target, timeout=timeout)
    top_stat = next((v for k, v in mapped.get("modules", {}).items() if _base(k) == top), {})
    cells = dict(sorted((mapped.get("design") or top_stat).get("num_cells_by_type", {}).items()))
    spec = TARGETS[target]
    muls = _mul_by_module(elab, top)
    notes = []
    if "$mul" in cells:
        notes.append(f"{cells['$mul']} $mul cells left unmapped")
    counts = {"luts": _count(cells, spec["luts"]), "ffs": _count(cells, spec["ffs"], prefix=True),
              "brams": _count(cells, spec["brams"]), "dsps": _count(cells, spec["dsps"]) + cells.get("$mul", 0)}
    return SynthReport(
        target=target,
        top=top,
        **counts,
        cells=cells,
        multipliers=muls,
        weight_multipliers=sum(n for m, n in muls.items()
                               if m in {_prefixed(w, (man.get("rtl") or {}).get("module_prefix", "hwsim_"))
                                        for w in WEIGHT_PRODUCT_MODULES}),
        cycles_per_step=(man.get("schedule") or {}).get("cycles_per_step"),
        step_period=(man.get("schedule") or {}).get("step_period"),
        yosys=ver,
        seconds=round(time.perf_counter() - t0, 3),
        device=device,
        capacity=dict(CAPACITY[target][device]) if device else {},
        does_not_fit=fit_line(target, device, counts) if device else None,
        notes=notes,
    )


def format_report(rep: SynthReport) -> str:
    """A human-readable summary for the terminal."""
    lines = [
        f"{rep.top} on {rep.target} ({rep.yosys}, {rep.seconds:.1f} s)",
        f"  LUTs {rep.luts} ({'/'.join(TARGETS[rep.target]['luts'])} cells)   FFs {rep.ffs}   BRAMs {rep.brams}   DSPs {rep.dsps}",
        f"  cycles per step: {rep.cycles_per_step if rep.cycles_per_step is not None else 'unknown'} compute, "
        f"{rep.step_period if rep.step_period is not None else 'unknown'} with the stream (I/O overlapped)",
        f"  multipliers before mapping: {rep.multipliers or 'none'} (weight products: {rep.weight_multipliers})",
        "  cells: " + ", ".join(f"{t} {n}" for t, n in rep.cells.items()),
    ]
    if rep.device:
        cap = rep.capacity
        lines.append(f"  {rep.does_not_fit}" if rep.does_not_fit else
                     f"  fits {rep.target} {rep.device} by these counts ("
                     + ", ".join(f"{k} {cap[k]:,}" for k in ("luts", "ffs", "brams", "dsps") if k in cap)
                     + "; place and route with --pnr to be sure)")
    lines += [f"  note: {n}" for n in rep.notes]
    return "\n".join(lines)
