"""Variable-length sequences end to end: train -> check -> export -> co-simulate, bit-exact.

A small classification task whose sequences have 4 to 16 steps (padded to 16; the padding holds NaN,
which hwsim never reads): the class is the sign pattern of a drifting input. One script, seconds:

1. train a ternary GRU with ``hwsim.torch`` (``QuantGRU``), reading each sequence's output at its
   own last step (``out[n, lengths[n] - 1]``, as ``nn.utils.rnn`` users do);
2. save the state_dict and the data (``x``, ``y`` and ``lengths`` in one ``.npz``);
3. ``hwsim quantize`` and ``hwsim check``: float, quantized and bit-accurate fixed point stop each
   sequence at its last step (docs/datapath.md, "Variable-length sequences");
4. ``hwsim export --tb-data`` (golden vectors of the data's own lengths) and ``hwsim cosim --data``:
   the RTL gets each sequence with its own ``tlast``; every state and output must match.

Run:  python examples/varlen_gru.py [--epochs 8] [--out build/varlen] [--simulator icarus|verilator]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hwsim.torch import QuantConfig, QuantGRU, QuantLinear, init_weights_

STEPS, FEATURES, CLASSES = 16, 2, 3


def make_data(n: int, seed: int) -> dict[str, np.ndarray]:
    """Class c drifts towards (-1, 0, +1)[c] at a rate drawn per sequence; lengths 4..16, NaN padding."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n)
    lengths = rng.integers(4, STEPS + 1, n)
    t = np.arange(STEPS)[None, :]
    drift = (y - 1)[:, None] * rng.uniform(0.1, 0.3, (n, 1)) * t
    x = np.stack([drift + rng.normal(0, 0.5, (n, STEPS)), rng.normal(0, 0.5, (n, STEPS))], axis=-1).astype(np.float32)
    x[t.repeat(n, 0) >= lengths[:, None]] = np.nan
    return {"x": x, "y": y, "lengths": lengths}


class Classifier(nn.Module):
    def __init__(self, hidden: int, config: QuantConfig) -> None:
        super().__init__()
        self.rnn = QuantGRU(FEATURES, hidden, batch_first=True, config=config)
        self.fc = QuantLinear(hidden, CLASSES, config=config)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(torch.nan_to_num(x))  # the padding never reaches a sequence's last step
        return self.fc(out[torch.arange(len(x)), lengths - 1])


def hwsim_cli(*args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "hwsim", *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"hwsim {' '.join(map(str, args))} failed:\n{r.stdout}{r.stderr}")
    return r.stdout


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=12)
    ap.add_argument("--out", type=Path, default=Path("build/varlen"))
    ap.add_argument("--simulator", default="icarus", choices=["icarus", "verilator"])
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    # 1. train with the ternary quantizer in the loop
    train, test = make_data(1200, seed=1), make_data(300, seed=2)
    model = init_weights_(Classifier(args.hidden, QuantConfig(method="ternary")))
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    x, y, lengths = (torch.from_numpy(train[k]) for k in ("x", "y", "lengths"))
    for epoch in range(args.epochs):
        model.train()
        for idx in torch.randperm(len(x)).split(64):
            loss = nn.functional.cross_entropy(model(x[idx], lengths[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            model.rnn.clip_weights()
            model.fc.clip_weights()
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(test["x"]), torch.from_numpy(test["lengths"]))
    torch_acc = float((logits.argmax(-1).numpy() == test["y"]).mean())
    print(f"PyTorch (ternary weights, eval mode), test accuracy {torch_acc:.4f}")

    # 2. the state_dict and the data: x (N, T, I) padded with NaN, y (N,), lengths (N,)
    torch.save(model.state_dict(), args.out / "gru.pt")
    np.savez(args.out / "test.npz", **test)

    # 3. quantize and check: every sequence stops at its own last step
    q = args.out / "gru.ternary.safetensors"
    hwsim_cli("quantize", args.out / "gru.pt", "--method", "ternary", "-o", q, "--force")
    check = json.loads(hwsim_cli("check", q, "--data", args.out / "test.npz", "--float-model", args.out / "gru.pt", "--json"))
    print(f"hwsim check: float shadow {check['float_metric']:.4f}, quantized {check['quant_metric']:.4f}, "
          f"bit-accurate fixed point {check['fixed_metric']:.4f}")

    # 4. export with golden vectors of the data's own lengths, and co-simulate the RTL on 24 sequences
    hwsim_cli("export", q, "-o", args.out / "export", "--tb-data", args.out / "test.npz", "--tb-sequences", "6", "--force")
    cosim = json.loads(hwsim_cli("cosim", args.out / "export", "--data", args.out / "test.npz", "--sequences", "24",
                                 "--simulator", args.simulator, "--json"))
    print(f"hwsim cosim ({cosim['simulator']}): {cosim['sequences']} sequences, {cosim['steps']} steps in all, "
          f"{cosim['mismatches']} mismatches")
    return {"torch": torch_acc, **{k: check[k] for k in ("float_metric", "quant_metric", "fixed_metric")},
            "cosim": cosim, "lengths": test["lengths"][:24]}


if __name__ == "__main__":
    main()
