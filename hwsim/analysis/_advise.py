"""The width advisor: from the value ranges a model reaches on data to a datapath contract.

``observed_ranges`` runs the quantized model in float on a data set and returns the largest |value|
of every requantization node (the same numbers ``hwsim check`` reports as "observed").
``suggest_config`` turns them into a ``DatapathConfig``: every format gets just enough integer bits
for its nodes' range (never fewer than the contract needs) and the rest of its width as fraction
bits. With ``bits`` every format is that wide (a bit budget, as ``hwsim sweep`` uses it); without,
each keeps the width of the base contract and only moves its binary point.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..datapath._config import FORMAT_NAMES, MAX_FORMAT_BITS, DatapathConfig, FixedFormat
from .._errors import ConfigError
from ..datapath._plan import ACCUMS
from ..model._model import RNNModel
from ..sim._reference import sigmoid

_BOUNDED_CELLS = ("rnn_tanh", "gru", "lstm")


def observed_ranges(qmodel: RNNModel, x: np.ndarray, *, chunk: int = 256) -> dict[str, float]:
    """max |value| of every datapath node in the quantized-float run of ``qmodel`` on ``x`` (N, T, I)."""
    from ._metric import head_logits
    from ..sim._reference import float_forward

    obs: dict[str, float] = {}
    for start in range(0, x.shape[0], chunk):
        xs = x[start : start + chunk]
        qf = float_forward(qmodel, xs, record_gates=True)
        y = head_logits(qmodel, qf.h, False) if qmodel.head is not None else None
        for name, v in _observed(qmodel, xs, qf, y).items():
            obs[name] = max(obs.get(name, 0.0), v)
    return obs


def _observed(model: RNNModel, x: np.ndarray, qf, y: np.ndarray | None) -> dict[str, float]:
    """max |value| of every node in the quantized-float run of one chunk (before any saturation)."""
    obs = {"x": float(np.abs(x).max(initial=0.0))}
    H = model.hidden_size
    u = x
    for k, layer in enumerate(model.layers):
        hs = qf.h_layers[k]
        h_prev = np.concatenate([np.zeros_like(hs[:, :1]), hs[:, :-1]], axis=1)
        gi = u @ layer.w_ih.T + (0 if layer.b_ih is None else layer.b_ih)
        gh = h_prev @ layer.w_hh.T + (0 if layer.b_hh is None else layer.b_hh)
        for name, g, use_in, use_rec in ACCUMS[model.cell]:
            rows = slice(g * H, (g + 1) * H)
            v = (gi[..., rows] if use_in else 0) + (gh[..., rows] if use_rec else 0)
            obs[f"l{k}.pre_{name}"] = float(np.abs(v).max(initial=0.0))
        if model.cell == "gru":
            r = sigmoid(gi[..., :H] + gh[..., :H])
            obs[f"l{k}.pre_n"] = float(np.abs(gi[..., 2 * H :] + r * gh[..., 2 * H :]).max(initial=0.0))
        if model.cell == "lstm":
            obs[f"l{k}.c"] = obs[f"l{k}.pre_c"] = float(np.abs(qf.c_layers[k]).max(initial=0.0))
        obs[f"l{k}.h"] = float(np.abs(hs).max(initial=0.0))
        u = hs
    if y is not None:
        obs["out"] = float(np.abs(y).max(initial=0.0))
    return obs


def _int_bits(bound: float) -> int:
    """Integer bits (sign included) of a format whose range holds +-bound."""
    if not math.isfinite(bound) or bound <= 0:
        return 1
    return max(1, math.floor(math.log2(bound)) + 2)


def _kind(node: str) -> str:
    tail = node.split(".")[-1]
    if node in ("x", "out"):
        return node
    return {"h": "h", "c": "c"}.get(tail, "pre")


def suggest_config(
    qmodel: RNNModel, ranges: dict[str, float], base: DatapathConfig | None = None, *, bits: int | None = None
) -> DatapathConfig:
    """A contract whose formats hold ``ranges`` (node -> max |value|) with the most fraction bits.

    Integer bits per format: enough for the largest value of its nodes; ``act`` keeps 2 (sign and
    1.0); ``h`` of a bounded cell (tanh RNN, GRU, LSTM) keeps 2 (|h| <= 1); ``pre`` never needs more
    than the activation units read (values beyond the LUT range or the PWL's last breakpoint give
    the same output, so saturating them is exact), except for the ReLU RNN whose pre is its output.
    ``lut_bits`` shrinks when the new ``pre.frac`` cannot index that many entries.
    """
    base = DatapathConfig() if base is None else base
    if bits is not None and (isinstance(bits, bool) or not isinstance(bits, int)):
        raise TypeError(f"bits must be an int, not {type(bits).__name__}")
    if bits is not None and not 4 <= bits <= MAX_FORMAT_BITS:
        raise ConfigError(f"bit budget must be in [4, {MAX_FORMAT_BITS}], not {bits}")
    need: dict[str, int] = {name: 1 for name in FORMAT_NAMES}
    for node, v in ranges.items():
        k = _kind(node)
        need[k] = max(need[k], _int_bits(v))
    need["act"] = 2
    if qmodel.cell in _BOUNDED_CELLS:
        need["h"] = 2
    if qmodel.cell != "rnn_relu":
        unit_range = max(base.sigmoid_range_log2, base.tanh_range_log2, 3)  # PWL saturates at 5 < 2**3
        need["pre"] = min(need["pre"], unit_range + 1)
    if qmodel.cell != "lstm":
        need["c"] = 2  # unused outside LSTM: keep the base's shape
    fmts: dict[str, Any] = {}
    for name in FORMAT_NAMES:
        width = bits if bits is not None else getattr(base, name).bits
        ib = min(need[name], width)
        frac = width - ib
        if name in ("act", "pre") and base.activation == "pwl":
            least = 5 if name == "act" else 3  # the PWL constants need these fraction bits
            if width - ib < least:
                raise ConfigError(
                    f"a {width}-bit {name} format must keep {ib} integer and {least} fraction bits for the pwl unit, "
                    f"so at least {ib + least} bits, not {width}"
                )
        fmts[name] = FixedFormat(width, min(frac, width - 1))
    changes: dict[str, Any] = dict(fmts)
    if base.activation == "lut":
        r_min = min(base.sigmoid_range_log2, base.tanh_range_log2)
        changes["lut_bits"] = max(1, min(base.lut_bits, fmts["pre"].frac + r_min + 1))
    return base.replace(**changes)


def config_toml(cfg: DatapathConfig, comments: tuple[str, ...] = ()) -> str:
    """``cfg`` as TOML that ``DatapathConfig.from_toml`` reads back to an equal contract."""
    import tomli_w

    head = "".join(f"# {c}\n" for c in comments)
    return head + ("\n" if head else "") + tomli_w.dumps(cfg.to_dict())


def write_config_toml(path, cfg: DatapathConfig, comments: tuple[str, ...] = ()) -> None:
    """Write ``config_toml(cfg)`` to ``path`` atomically."""
    from pathlib import Path

    from .._fsutil import atomic_write, make_parent

    p = Path(path)
    make_parent(p)
    text = config_toml(cfg, comments)
    atomic_write(p, lambda t: Path(t).write_text(text, encoding="utf-8"))
