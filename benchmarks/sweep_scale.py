"""How ``hwsim sweep`` scales with Dask workers: the same grid with 1 worker, then with 2, in one process.

Prints seconds, points per minute and the 2-worker / 1-worker ratio, and the load average before and
after (the machine may be shared). Every run starts from an empty output directory (no cache).

    python benchmarks/sweep_scale.py                    # 4 points with yosys (ice40)
    python benchmarks/sweep_scale.py --no-synth --bits 6 8 10 12 14 16 --limit 0
"""

from __future__ import annotations

import argparse
import os
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
    a = ap.parse_args()
    axes = {"method": a.methods, "bits": a.bits, "activation": a.activation}
    if not a.no_synth:
        axes["target"] = ["ice40"]
    grid = parse_grid({"axes": axes})
    n = len(grid.points(1))
    model = ROOT / "hwsim" / "data" / "default_gru.safetensors"
    print(f"grid: {n} points ({axes}), limit {a.limit or 'none'}; load average {os.getloadavg()}")
    base = None
    for w in a.workers:
        with tempfile.TemporaryDirectory(prefix="hwsim-scale-") as tmp:
            t0 = time.perf_counter()
            res = run_sweep([model], "digits", grid, Path(tmp) / "out", workers=w, limit=a.limit or None, progress=False)
            dt = time.perf_counter() - t0
        assert res.computed == n
        ppm = n / dt * 60
        base = base or ppm
        print(f"{w} worker(s): {dt:7.1f} s, {ppm:6.2f} points/min, {ppm / base:4.2f}x of {a.workers[0]} worker(s); "
              f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
