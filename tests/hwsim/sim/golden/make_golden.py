"""Make the golden vectors of tests/hwsim/sim/test_reference.py with PyTorch (run once; needs torch).

For each case: ``<case>.safetensors`` is the module's state_dict exactly as torch saves it (float32,
prefixes "rnn." and "fc."), and ``<case>.io.npz`` holds inputs x, h0, c0 and torch's float64
outputs h (last layer, every step), c (LSTM) and y (head at the last step), computed from the
float32 weights widened to float64.

    python tests/hwsim/sim/golden/make_golden.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

HERE = Path(__file__).parent

# name: (module class, kwargs, head classes or None)
CASES = {
    "rnn_tanh_l2_head": (torch.nn.RNN, dict(nonlinearity="tanh", num_layers=2), 3),
    "rnn_relu_l1_nobias": (torch.nn.RNN, dict(nonlinearity="relu", num_layers=1, bias=False), None),
    "gru_l2_head": (torch.nn.GRU, dict(num_layers=2), 3),
    "gru_l1_nobias_head": (torch.nn.GRU, dict(num_layers=1, bias=False), 2),
    "lstm_l2_head": (torch.nn.LSTM, dict(num_layers=2), 3),
    "lstm_l1_nobias": (torch.nn.LSTM, dict(num_layers=1, bias=False), None),
}
N, T, I, H = 3, 6, 4, 5


class Net(torch.nn.Module):
    def __init__(self, cls, kw, classes):
        super().__init__()
        self.rnn = cls(input_size=I, hidden_size=H, batch_first=True, **kw)
        self.fc = None if classes is None else torch.nn.Linear(H, classes)


def main() -> None:
    for seed, (name, (cls, kw, classes)) in enumerate(CASES.items()):
        torch.manual_seed(seed)
        net = Net(cls, kw, classes)
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(HERE / f"{name}.safetensors"))
        net = net.double()
        L = kw["num_layers"]
        g = torch.Generator().manual_seed(100 + seed)
        x = torch.randn(N, T, I, generator=g, dtype=torch.float64)
        h0 = 0.5 * torch.randn(L, N, H, generator=g, dtype=torch.float64)
        c0 = 0.5 * torch.randn(L, N, H, generator=g, dtype=torch.float64)
        lstm = cls is torch.nn.LSTM
        with torch.no_grad():
            out, final = net.rnn(x, (h0, c0) if lstm else h0)
            io = {"x": x.numpy(), "h0": h0.numpy(), "c0": c0.numpy(), "h": out.numpy()}
            if lstm:
                # c at every step: rerun step by step, keeping torch's own cell states
                cs, state = [], (h0, c0)
                for t in range(T):
                    _, state = net.rnn(x[:, t : t + 1], state)
                    cs.append(state[1][-1])
                io["c"] = torch.stack(cs, dim=1).numpy()
                assert torch.allclose(state[1], final[1], rtol=0, atol=1e-14)
            if net.fc is not None:
                io["y"] = net.fc(out[:, -1]).numpy()
        np.savez(HERE / f"{name}.io.npz", **io)
        print(name, {k: v.shape for k, v in io.items()})


if __name__ == "__main__":
    main()
