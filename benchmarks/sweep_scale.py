"""How ``hwsim sweep`` scales with Dask workers: the same grid with 1 worker, then with 2.

Prints seconds, points per minute and the 2-worker / 1-worker ratio, and the load average before and
after (the machine may be shared). Every run starts from an empty output directory (no cache) in a
fresh Python process, as ``hwsim sweep`` does (so no run inherits the data or kernels another run
loaded); its time is ``run_sweep``'s, from the grid to the last record (imports not counted).

    python benchmarks/sweep_scale.py                    # 4 points with yosys (ice40)
    python benchmarks/sweep_scale.py --no-synth --bits 6 8 10 12 14 16 --limit 0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hwsim.sweep import parse_grid, run_sweep

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bits", type=int, nargs="+", default=[8, 12])
    ap.add_argument("--activation", nargs="+", default=["lut", "pwl"])
    ap.add_argument("--methods", nargs="+", default=["given"])
    ap.add_argument("--no-synth", action="store_true")
    ap.add_argument("--limit", type=int, default=0, help="sequences per point (0: all of digits' test split)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--spawn", action="store_true",
                    help="also run every worker count with spawned workers (the baseline before forking)")
    ap.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)  # one run, in this process
    ap.add_argument("--child-spawn", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    axes = {"method": a.methods, "bits": a.bits, "activation": a.activation}
    if not a.no_synth:
        axes["target"] = ["ice40"]
    grid = parse_grid({"axes": axes})
    n = len(grid.points(1))
    model = ROOT / "hwsim" / "data" / "default_gru.safetensors"
    if a.child:
        if a.child_spawn:
            import hwsim.sweep._run as run_mod

            run_mod.fork_is_safe = lambda: False
        with tempfile.TemporaryDirectory(prefix="hwsim-scale-") as tmp:
            t0 = time.perf_counter()
            res = run_sweep([model], "digits", grid, Path(tmp) / "out", workers=a.child, limit=a.limit or None,
                            progress=False)
            dt = time.perf_counter() - t0
        assert res.computed == n, (res.computed, n)
        print(json.dumps({"seconds": dt, "workers": res.workers}))
        return
    print(f"grid: {n} points ({axes}), limit {a.limit or 'none'}; load average {os.getloadavg()}")
    base = None
    for start in (["spawn", "fork"] if a.spawn else ["fork"]):
        for w in a.workers:
            argv = [sys.executable, __file__, "--child", str(w), *sys.argv[1:]]
            if start == "spawn":
                argv.append("--child-spawn")
            out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
            dt = json.loads(out.strip().splitlines()[-1])["seconds"]
            ppm = n / dt * 60
            base = base or ppm
            print(f"{w} worker(s), {start:5}: {dt:7.1f} s, {ppm:6.2f} points/min, {ppm / base:4.2f}x of the first row; "
                  f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
