"""The user's case of issue #21: a 2-layer LSTM (I = 6, H = 20, 4 classes) on the iCE40 UP5K.

Makes a seeded synthetic data set (four classes of noisy multi-channel tones), trains the LSTM with
ternary weights (``hwsim train``), exports it at the default contract and counts it with yosys
(``hwsim synth --device up5k``), then lets ``hwsim export --fit up5k --max-loss 1`` choose the
folding and widths, and places and routes the chosen export with nextpnr (seed 1, one P&R at a time
on the machine: ``flock /tmp/pnr.lock``). Every command it runs is printed, with the load average.

    python benchmarks/fit_up5k.py OUT_DIR [--epochs 12] [--skip-pnr]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def make_data(path: Path, n: int = 2400, steps: int = 24, seed: int = 0) -> None:
    """Four classes: a tone whose frequency and channel mix depend on the class, in noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    t = np.arange(steps)[None, :, None]
    freq = np.array([0.08, 0.14, 0.2, 0.26])[y][:, None, None]
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1))
    mix = np.array([[1, 0.5, 0, -0.5, 0.2, 0], [0, 1, 0.5, 0, -0.5, 0.2], [0.2, 0, 1, 0.5, 0, -0.5],
                    [-0.5, 0.2, 0, 1, 0.5, 0]])[y][:, None, :]
    x = np.sin(2 * np.pi * freq * t + phase) * mix + rng.normal(0, 0.8, (n, steps, 6))
    k = n * 3 // 4
    np.savez(path, x_train=x[:k].astype(np.float32), y_train=y[:k], x_test=x[k:].astype(np.float32), y_test=y[k:])


def run(cmd: list[str], *, lock: bool = False) -> str:
    cmd = [str(c) for c in cmd]
    if lock:
        cmd = ["flock", "/tmp/pnr.lock", *cmd]
    load = os.getloadavg()[0]
    print(f"$ {' '.join(cmd)}   (load {load:.2f})", flush=True)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    print(r.stdout + r.stderr, flush=True)
    print(f"  exit {r.returncode}, {time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.2f}", flush=True)
    return r.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--skip-pnr", action="store_true")
    a = ap.parse_args()
    out = a.out
    out.mkdir(parents=True, exist_ok=True)
    hw = [sys.executable, "-m", "hwsim"]
    data = out / "tones.npz"
    if not data.exists():
        make_data(data)
    model = out / "lstm.safetensors"
    if not model.exists():
        run([*hw, "train", "--cell", "lstm", "--hidden", 20, "--layers", 2, "--method", "ternary", "--data", data,
             "--epochs", a.epochs, "-o", model])
    run([*hw, "check", model, "--data", data])
    run([*hw, "export", model, "-o", out / "default", "--force", "--tb-sequences", 0])
    run([*hw, "synth", out / "default", "--target", "ice40", "--device", "up5k"])
    run([*hw, "export", model, "-o", out / "fit", "--force", "--tb-sequences", 0, "--fit", "up5k", "--data", data,
         "--max-loss", 1, "--fit-pnr"])
    run([*hw, "synth", out / "fit", "--target", "ice40", "--device", "up5k", "--json"])
    if not a.skip_pnr:
        run([*hw, "synth", out / "fit", "--target", "ice40", "--device", "up5k", "--pnr", "--seed", 1], lock=True)


if __name__ == "__main__":
    main()
