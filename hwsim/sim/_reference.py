"""Float reference inference: PyTorch's RNN / GRU / LSTM equations in NumPy.

This is the yardstick the bit-accurate simulator is measured against, so it follows
``torch.nn.RNN``, ``torch.nn.GRU`` and ``torch.nn.LSTM`` term by term (gate order and where the
biases enter), not a textbook variant:

- RNN: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``, act = tanh or relu.
- GRU (gates r, z, n): ``r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)``, z likewise,
  ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.
- LSTM (gates i, f, g, o): ``c' = f * c + i * g``, ``h' = o * tanh(c')`` with g = tanh, the others
  sigmoid.

The optional linear head reads the last layer's hidden state at the last time step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model._model import RNNModel
from ._lengths import check_lengths, run_by_length
from .._repr import short_repr

#: Names of the activated gate values ``record_gates`` reports, in PyTorch's row-block order.
#: The fixed-point simulator reports the same names so the checker can compare gate by gate.
GATE_NAMES = {"rnn_tanh": ("a",), "rnn_relu": ("a",), "gru": ("r", "z", "n"), "lstm": ("i", "f", "g", "o")}


@dataclass(frozen=True)
class FloatResult:
    """What ``float_forward`` computed for a batch of N sequences of T steps.

    Attributes
    ----------
    h, c
        Last layer's hidden (and, for LSTM, cell) state at every step, (N, T, H); ``c`` is None
        for RNN and GRU.
    h_layers, c_layers
        The same for every layer, first to last; ``c_layers`` is None unless LSTM.
    y
        Head output at the last step, (N, C), or None when the model has no head.
    gates
        With ``record_gates``: per layer a dict gate name -> activated values (N, T, H)
        (see ``GATE_NAMES``); otherwise None.
    """

    __repr__ = short_repr

    h: np.ndarray
    c: np.ndarray | None
    h_layers: tuple[np.ndarray, ...]
    c_layers: tuple[np.ndarray, ...] | None
    y: np.ndarray | None
    gates: tuple[dict[str, np.ndarray], ...] | None = None


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` as torch computes it; exp overflow for very negative x gives 0."""
    with np.errstate(over="ignore", under="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def float_forward(
    model: RNNModel,
    x: np.ndarray,
    *,
    h0: np.ndarray | None = None,
    c0: np.ndarray | None = None,
    dtype: type = np.float64,
    record_gates: bool = False,
    lengths: np.ndarray | None = None,
) -> FloatResult:
    """Run ``model`` on ``x`` in floating point, exactly as PyTorch would (batch_first).

    Parameters
    ----------
    x
        Inputs, (N, T, I) with I = ``model.input_size``.
    h0, c0
        Initial states, (L, N, H) like torch; zeros by default. ``c0`` only for LSTM.
    dtype
        ``np.float64`` (default) or ``np.float32``; weights, inputs and every intermediate are
        held in this type, so float32 mode reproduces a float32 torch run to rounding noise.
    record_gates
        Keep every activated gate value (memory: L * G * N * T * H numbers).
    lengths
        Steps of each sequence, (N,) integers in [1, T]; None: all T. A sequence stops at its last
        step; later steps of every result repeat it, and ``y`` reads it (``hwsim.sim._lengths``).
    """
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, not {dt}")
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[2] != model.input_size:
        raise ValueError(f"x must have shape (N, T, {model.input_size}), not {x.shape}")
    n, t_len, _ = x.shape
    L, H = model.num_layers, model.hidden_size
    lstm = model.cell == "lstm"
    h0 = _initial("h0", h0, (L, n, H), dt)
    if c0 is not None and not lstm:
        raise ValueError(f"c0 is only for LSTM models, not {model.cell!r}")
    c0 = _initial("c0", c0, (L, n, H), dt) if lstm else None
    lengths = check_lengths(lengths, n, t_len)
    if lengths is not None and np.any(lengths < t_len):
        return run_by_length(
            lambda idx, xs: float_forward(model, xs, h0=h0[:, idx], c0=None if c0 is None else c0[:, idx], dtype=dt,
                                          record_gates=record_gates),
            x, lengths,
        )

    inp = x.astype(dt, copy=False)
    h_layers, c_layers, gate_layers = [], [], []
    for k, layer in enumerate(model.layers):
        w_ih = layer.w_ih.astype(dt)
        w_hh_t = layer.w_hh.astype(dt).T.copy()
        b_hh = None if layer.b_hh is None else layer.b_hh.astype(dt)
        # Input projections of all steps at once, as torch does: (N, T, G*H).
        gi = inp @ w_ih.T
        if layer.b_ih is not None:
            gi = gi + layer.b_ih.astype(dt)
        hs = np.empty((n, t_len, H), dt)
        cs = np.empty((n, t_len, H), dt) if lstm else None
        rec = {g: np.empty((n, t_len, H), dt) for g in GATE_NAMES[model.cell]} if record_gates else None
        h = h0[k]
        c = None if c0 is None else c0[k]
        for t in range(t_len):
            gh = h @ w_hh_t
            if b_hh is not None:
                gh = gh + b_hh
            h, c, gates = _step(model.cell, gi[:, t], gh, h, c, H)
            hs[:, t] = h
            if lstm:
                cs[:, t] = c
            if rec is not None:
                for name, value in gates.items():
                    rec[name][:, t] = value
        h_layers.append(hs)
        if lstm:
            c_layers.append(cs)
        if rec is not None:
            gate_layers.append(rec)
        inp = hs

    y = None
    if model.head is not None:
        y = h_layers[-1][:, -1] @ model.head.weight.astype(dt).T if t_len else np.zeros((n, model.num_classes), dt)
        if model.head.bias is not None:
            y = y + model.head.bias.astype(dt)
    return FloatResult(
        h=h_layers[-1],
        c=c_layers[-1] if lstm else None,
        h_layers=tuple(h_layers),
        c_layers=tuple(c_layers) if lstm else None,
        y=y,
        gates=tuple(gate_layers) if record_gates else None,
    )


def _step(cell: str, gi: np.ndarray, gh: np.ndarray, h: np.ndarray, c, H: int):
    """One time step of one layer: gi = W_ih x + b_ih, gh = W_hh h + b_hh, both (N, G*H)."""
    if cell == "rnn_tanh":
        a = np.tanh(gi + gh)
        return a, None, {"a": a}
    if cell == "rnn_relu":
        a = np.maximum(gi + gh, 0)
        return a, None, {"a": a}
    if cell == "gru":
        r = sigmoid(gi[:, :H] + gh[:, :H])
        z = sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
        n_ = np.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
        h_new = (1 - z) * n_ + z * h
        return h_new, None, {"r": r, "z": z, "n": n_}
    s = gi + gh  # LSTM
    i = sigmoid(s[:, :H])
    f = sigmoid(s[:, H : 2 * H])
    g = np.tanh(s[:, 2 * H : 3 * H])
    o = sigmoid(s[:, 3 * H :])
    c_new = f * c + i * g
    h_new = o * np.tanh(c_new)
    return h_new, c_new, {"i": i, "f": f, "g": g, "o": o}


def _initial(name: str, v, shape: tuple[int, int, int], dt: np.dtype) -> np.ndarray:
    if v is None:
        return np.zeros(shape, dt)
    v = np.asarray(v)
    if v.shape != shape:
        raise ValueError(f"{name} must have shape (L, N, H) = {shape}, not {v.shape}")
    return v.astype(dt)
