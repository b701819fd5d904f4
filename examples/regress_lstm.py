#!/usr/bin/env python3
"""A time-series regression LSTM from data to bit-exact RTL: train -> check -> export -> cosim.

The data are noisy sine waves of random phase and frequency; the model reads 12 samples and
predicts the next one (a float target per sequence, so ``y`` has shape (N,) and the metric is the
mean squared error). The file holds its parts (``x_train``, ``y_train``, ``x_test``, ``y_test``):
``hwsim train`` trains on the first (carving 10 % out for validation) and reports the test error on
the second, and ``hwsim check`` reads the test part by default, so no metric here is measured on
sequences the model trained on. ``hwsim check`` compares the bit-accurate datapath with float
inference in the targets' own units, ``hwsim export`` writes ROMs and Verilog, and ``hwsim cosim``
runs the RTL under Icarus Verilog and Verilator against the simulator, bit for bit.

Run: ``python examples/regress_lstm.py [--out DIR] [--epochs N]`` (needs the [train] extra, and
Icarus / Verilator for the co-simulation; a missing simulator is skipped with a note).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

STEPS = 12


def make_data(path: Path, n: int = 400, n_test: int = 80, seed: int = 0) -> None:
    """``n`` windows of ``STEPS`` samples of a noisy sine and the sample that follows each; the last
    ``n_test`` are the test part."""
    rng = np.random.default_rng(seed)
    phase, freq = rng.uniform(0, 2 * np.pi, n), rng.uniform(0.3, 0.8, n)
    t = np.arange(STEPS + 1)
    s = np.sin(phase[:, None] + freq[:, None] * t[None]) + 0.05 * rng.normal(size=(n, STEPS + 1))
    x, y = s[:, :STEPS, None].astype(np.float32), s[:, STEPS].astype(np.float32)
    np.savez(path, x_train=x[:-n_test], y_train=y[:-n_test], x_test=x[-n_test:], y_test=y[-n_test:])


def hwsim(*args: str) -> str:
    """Run one hwsim command as a user would; its stdout."""
    r = subprocess.run([sys.executable, "-m", "hwsim", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"hwsim {' '.join(args)} failed: {r.stderr.strip()}")
    return r.stdout


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=None, help="Working directory (default: a temporary one).")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--sequences", type=int, default=2, help="Sequences to co-simulate.")
    args = p.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="hwsim-regress-"))
    out.mkdir(parents=True, exist_ok=True)
    data, model = out / "series.npz", out / "lstm.safetensors"
    make_data(data)

    # 1. quantization-aware training of a 2-layer ternary LSTM with a 1-output head
    print(hwsim("train", "--cell", "lstm", "--layers", "2", "--hidden", "8", "--method", "ternary",
                "--data", str(data), "--epochs", str(args.epochs), "--lr", "0.02", "-o", str(model),
                "--force", "--quiet").strip())
    metrics = json.loads(model.with_suffix(".json").read_text())

    # 2. the bit-accurate datapath against float inference (mse and mae in the targets' units)
    check = json.loads(hwsim("check", str(model), "--data", str(data), "--json"))
    print(f"check on {check['n_sequences']} sequences of {check['data']}: mse quant {check['quant_metric']:.4g}, "
          f"fixed {check['fixed_metric']:.4g}; |y fixed - y quant| max {check['max_abs_err_y']:.3g}, "
          f"mean {check['mean_abs_err_y']:.3g}")

    # 3. ROMs, manifest and Verilog; 4. the RTL under each installed simulator, bit for bit
    hwsim("export", str(model), "-o", str(out / "export"), "--force")
    cosim = {}
    for sim, tool in (("icarus", "iverilog"), ("verilator", "verilator")):
        if shutil.which(tool) is None:
            print(f"cosim {sim}: skipped ({tool} is not installed)")
            continue
        rep = json.loads(hwsim("cosim", str(out / "export"), "--data", str(data), "--sequences",
                               str(args.sequences), "--simulator", sim, "--json"))
        cosim[sim] = rep["mismatches"]
        print(f"cosim {sim}: {rep['sequences']} sequences, {rep['mismatches']} mismatches")
    return {"metrics": metrics, "check": check, "cosim": cosim}


if __name__ == "__main__":
    res = main()
    sys.exit(1 if any(res["cosim"].values()) else 0)
