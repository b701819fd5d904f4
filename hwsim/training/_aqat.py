"""Activation-aware QAT: the forward pass of ``QuantSeqModel`` in the datapath's own arithmetic.

With ``QuantConfig(datapath=cfg)`` the model runs the contract of docs/datapath.md step by step in
float64 torch: inputs rounded into ``x``, each accumulation (quantized weights, biases rounded to
the accumulator's grid) requantized into ``pre``, sigmoid and tanh through the configured
activation unit (the very table or PWL words the simulator and the RTL use), every product and sum
of the cell equations rounded where the contract rounds, saturated where it saturates, and the head
requantized into ``out``. Every value is an integer multiple of its format's LSB and every product
and sum below 2**53 is exact in float64, so in evaluation mode the output is what
``hwsim.sim._sim.run_fixed`` computes for the saved model, bit for bit. The backward pass is
straight-through: a rounding passes the gradient unchanged, the activation unit passes the exact
function's derivative.

Supported: the methods whose weights are ``m * 2**s`` with one ``s`` per tensor (binary, ternary,
pow2-ternary and their stochastic twins, the ``tensor`` (power-of-two) ternary scale), ``saturate`` overflow.
"""

from __future__ import annotations

import numpy as np
import torch

from .._errors import QuantError
from ..datapath._activation import act_eval
from ..datapath._config import DatapathConfig, FixedFormat
from ..datapath._plan import ACCUMS

#: Methods whose quantized tensors are ``m * 2**s`` with one ``s`` that the quantizer knows.
METHODS = ("binary", "binary-stoch", "ternary", "ternary-stoch", "pow2-ternary")
_ROUND = {
    "floor": torch.floor,
    "half_up": lambda v: torch.floor(v + 0.5),
    "half_even": torch.round,
    "zero": torch.trunc,
}


def check_datapath(method: str, scale: str, cfg: DatapathConfig) -> None:
    """Refuse, in one line, what the activation-aware forward pass does not implement."""
    if not isinstance(cfg, DatapathConfig):
        raise TypeError(f"datapath must be a DatapathConfig or None, not {type(cfg).__name__}")
    if method not in METHODS or scale != "tensor":
        raise QuantError(f"activation-aware QAT (datapath=...) needs one of {', '.join(METHODS)} with the tensor "
                         f"scale, not {method} ({scale})")
    if cfg.overflow != "saturate" or any(cfg.layer_config(k).overflow != "saturate" for k in range(len(cfg.layers) + 1)):
        raise QuantError("activation-aware QAT (datapath=...) needs overflow = \"saturate\", not \"wrap\"")


class _Round(torch.autograd.Function):
    """Requantization: round onto ``fmt``'s grid and saturate; the gradient passes unchanged."""

    @staticmethod
    def forward(ctx, v, frac: int, lo: int, hi: int, rounding: str):  # noqa: D102
        q = _ROUND[rounding](torch.ldexp(v, torch.tensor(frac, dtype=v.dtype)))
        return torch.ldexp(torch.clamp(q, lo, hi), torch.tensor(-frac, dtype=v.dtype))

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        return grad, None, None, None, None


def requant(v: torch.Tensor, fmt: FixedFormat, rounding: str) -> torch.Tensor:
    """docs/datapath.md "Requantization" on real values that lie on a finer grid (exact in float64)."""
    return _Round.apply(v, fmt.frac, fmt.min_int, fmt.max_int, rounding)


class _Unit(torch.autograd.Function):
    """The activation unit on ``pre`` values: a lookup of its words; backward: the exact derivative."""

    @staticmethod
    def forward(ctx, p, table, pre_frac: int, pre_min: int, act_frac: int, func: str):  # noqa: D102
        idx = (torch.ldexp(p, torch.tensor(pre_frac, dtype=p.dtype)) - pre_min).to(torch.int64)
        ctx.save_for_backward(p)
        ctx.func = func
        return torch.ldexp(table[idx], torch.tensor(-act_frac, dtype=p.dtype))

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        (p,) = ctx.saved_tensors
        s = torch.sigmoid(p) if ctx.func == "sigmoid" else torch.tanh(p)
        d = s * (1 - s) if ctx.func == "sigmoid" else 1 - s * s
        return grad * d, None, None, None, None, None


class DatapathForward:
    """The contract's forward pass for one model shape (cell, layers) and one ``DatapathConfig``."""

    def __init__(self, cfg: DatapathConfig, cell: str, num_layers: int) -> None:
        self.cfg, self.cell = cfg, cell
        self.layer_cfgs = [cfg.layer_config(k) for k in range(num_layers)]
        self.head_cfg = cfg.head_config(num_layers)
        self._tables: dict = {}

    def _table(self, lc: DatapathConfig, func: str, device) -> torch.Tensor:
        key = (lc.pre, lc.act, lc.activation, lc.lut_bits, lc.sigmoid_range_log2, lc.tanh_range_log2, func, str(device))
        if key not in self._tables:
            words = act_eval(np.arange(lc.pre.min_int, lc.pre.max_int + 1, dtype=np.int64), func, lc)
            self._tables[key] = torch.from_numpy(words.astype(np.float64)).to(device)
        return self._tables[key]

    def unit(self, p: torch.Tensor, lc: DatapathConfig, func: str) -> torch.Tensor:
        return _Unit.apply(p, self._table(lc, func, p.device), lc.pre.frac, lc.pre.min_int, lc.act.frac, func)

    @staticmethod
    def _bias(b: torch.Tensor | None, acc_frac: int, rows: slice) -> torch.Tensor | float:
        """``rint(b * 2**acc_frac)`` in accumulator units (the plan's biases), straight-through."""
        if b is None:
            return 0.0
        return _Round.apply(b[rows], acc_frac, -(2**62), 2**62, "half_even")

    def run(self, x: torch.Tensor, layers: list, head: tuple, per_step: bool) -> torch.Tensor:
        """``layers``: per layer (w_ih, w_hh, b_ih, b_hh, s_in, s_rec), quantized weights (float64);
        ``head``: (weight, bias, s). x is (N, T, I); returns (N, C) or (N, T, C) in real units."""
        cfg0 = self.layer_cfgs[0]
        u = requant(x.double(), cfg0.x, cfg0.rounding)  # the network input enters as x
        in_fmt = cfg0.x
        H = layers[0][1].shape[1]
        for k, (w_ih, w_hh, b_ih, b_hh, s_in, s_rec) in enumerate(layers):
            lc = self.layer_cfgs[k]
            acc_frac = max(in_fmt.frac - s_in, lc.h.frac - s_rec, lc.pre.frac)
            biases = {name: self._bias(b_ih, acc_frac, slice(g * H, (g + 1) * H)) * use_in
                      + self._bias(b_hh, acc_frac, slice(g * H, (g + 1) * H)) * use_rec
                      for name, g, use_in, use_rec in ACCUMS[self.cell]}
            gi_all = u @ w_ih.T  # (N, T, G*H): the input part of every accumulation, every step
            h = torch.zeros(x.shape[0], H, dtype=torch.float64, device=x.device)
            c = torch.zeros_like(h)
            hs = []
            for t in range(x.shape[1]):
                gh = h @ w_hh.T
                p = {}
                for name, g, use_in, use_rec in ACCUMS[self.cell]:
                    rows = slice(g * H, (g + 1) * H)
                    acc = (gi_all[:, t, rows] if use_in else 0) + (gh[:, rows] if use_rec else 0) + biases[name]
                    p[name] = requant(acc, lc.pre, lc.rounding)
                h, c = self._cell(p, h, c, lc)
                hs.append(h)
            u, in_fmt = torch.stack(hs, 1), lc.h
        w, b, s = head
        hc = self.head_cfg
        acc_frac = max(hc.h.frac - s, hc.out.frac)
        feats = u if per_step else u[:, -1]
        acc = feats @ w.T + (0.0 if b is None else _Round.apply(b, acc_frac, -(2**62), 2**62, "half_even"))
        return requant(acc, hc.out, hc.rounding)

    def _cell(self, p: dict, h, c, lc: DatapathConfig):
        rnd = lc.rounding
        if self.cell == "rnn_tanh":
            return requant(self.unit(p["a"], lc, "tanh"), lc.h, rnd), c
        if self.cell == "rnn_relu":
            return requant(torch.clamp(p["a"], min=0.0), lc.h, rnd), c
        if self.cell == "gru":
            r, z = self.unit(p["r"], lc, "sigmoid"), self.unit(p["z"], lc, "sigmoid")
            n = self.unit(requant(p["n_x"] + r * p["n_h"], lc.pre, rnd), lc, "tanh")
            return requant((1.0 - z) * n + z * h, lc.h, rnd), c
        i, f, o = (self.unit(p[g], lc, "sigmoid") for g in ("i", "f", "o"))
        g = self.unit(p["g"], lc, "tanh")
        c = requant(f * c + i * g, lc.c, rnd)
        return requant(o * self.unit(requant(c, lc.pre, rnd), lc, "tanh"), lc.h, rnd), c
