"""Quantization-aware training of your own PyTorch GRU with hwsim.torch, then a bit-accurate check.

The walk-through of docs/training.md as one script (CI runs it with --epochs 2):

1. build a 2-layer GRU classifier from ``QuantGRU`` / ``QuantLinear``: drop-ins for ``nn.GRU`` /
   ``nn.Linear`` with PyTorch's parameter names, quantizing in the forward pass;
2. train it on the built-in ``digits`` set (float shadow weights, straight-through gradients,
   ``clip_weights()`` after each step);
3. save the state_dict with ``torch.save`` (a ``.pt`` that hwsim reads, and that loads into a plain
   ``nn.GRU`` too);
4. quantize it with the method it trained with (the same quantizer, so the weights are identical)
   and check float vs quantized vs bit-accurate fixed point.

Run:  python examples/qat_gru.py [--epochs 15] [--out build/qat]
then: hwsim export build/qat/gru.ternary.safetensors -o build/qat/export
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn

import hwsim
from hwsim.torch import QuantConfig, QuantGRU, QuantLinear, init_weights_


class GRUClassifier(nn.Module):
    """nn.GRU + nn.Linear on the last step, with hwsim's quantized drop-ins."""

    def __init__(self, input_size: int, hidden: int, classes: int, config: QuantConfig) -> None:
        super().__init__()
        self.rnn = QuantGRU(input_size, hidden, num_layers=2, batch_first=True, config=config)
        self.fc = QuantLinear(hidden, classes, config=config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])

    def clip_weights(self) -> None:
        self.rnn.clip_weights()
        self.fc.clip_weights()


def accuracy(model: nn.Module, ds) -> float:
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(ds.x))
    return float((logits.argmax(-1).numpy() == ds.y).mean())


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--hidden", type=int, default=24)
    ap.add_argument("--method", default="ternary", help="any hwsim quantizer: ternary, pow2-ternary, exp, ...")
    ap.add_argument("--out", type=Path, default=Path("build/qat"))
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)

    train, test = hwsim.load_data("digits", split="train"), hwsim.load_data("digits", split="test")
    config = QuantConfig(method=args.method)  # the quantizer in the loop
    model = init_weights_(GRUClassifier(train.x.shape[2], args.hidden, train.num_classes, config))  # Glorot
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.from_numpy(train.x), torch.from_numpy(train.y.astype(np.int64))
    for epoch in range(args.epochs):
        model.train()
        for idx in torch.randperm(len(x)).split(64):
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            model.clip_weights()  # keep the float shadow weights in the quantizer's range
        print(f"epoch {epoch + 1}/{args.epochs}: loss {loss.item():.3f}, test accuracy {accuracy(model, test):.4f}")
    torch_acc = accuracy(model, test)  # evaluation mode: PyTorch arithmetic on the quantized weights

    # 3. an ordinary state_dict: the float shadow weights under nn.GRU / nn.Linear names
    pt = args.out / "gru.pt"
    torch.save(model.state_dict(), pt)

    # 4. hwsim reads the .pt, quantizes it as the forward pass did, and checks the datapath
    fm = hwsim.load_model(pt)
    qm = hwsim.quantize_model(fm, args.method)
    hwsim.save_model(qm, args.out / f"gru.{args.method}.safetensors")
    hwsim.save_model(fm, args.out / "gru.float.safetensors")
    for name, p in model.named_parameters():  # the in-loop quantizer and hwsim's give the same weights
        q = model.rnn.quantizers.get(name[4:]) if name.startswith("rnn.") else model.fc.quantizers[name[3:]]
        w = p.detach() if q is None else hwsim.torch.quantize(p.detach(), q)
        key = dict(hwsim.model_to_tensors(qm, dtype=np.float64))[name]
        assert np.array_equal(w.double().numpy(), key), name
    report = hwsim.run_check(qm, test, float_model=fm)
    print(f"PyTorch (quantized weights, eval mode): {torch_acc:.4f}")
    print(f"hwsim check: float shadow {report['float_metric']:.4f}, quantized {report['quant_metric']:.4f}, "
          f"bit-accurate fixed point {report['fixed_metric']:.4f}, argmax flips {report['argmax_flips']:.4f}")
    print(f"next: hwsim export {args.out / f'gru.{args.method}.safetensors'} -o {args.out / 'export'}")
    return {"torch": torch_acc, **{k: report[k] for k in ("float_metric", "quant_metric", "fixed_metric")}}


if __name__ == "__main__":
    main()
