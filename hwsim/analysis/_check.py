"""The float-vs-fixed check: how far the bit-accurate datapath strays from float on a data set.

``run_check`` runs up to three engines on the same sequences, in chunks so memory stays bounded:
the original float model (when given), float inference on the quantized weights ("quant") and the
bit-accurate simulation ("fixed"). It reports the task metric of each, argmax flips between quant
and fixed, the error of h per step (drift), max and mean error per gate, the first step and node
where the error passes a threshold in LSBs of that node's format, saturation counts per node, and
a suggested width per node from an interval bound and from the observed range. ``format_report``
renders the dict as the human table that ``hwsim check`` prints.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ..datapath._config import DatapathConfig, FixedFormat
from .._errors import DataError
from ..model._model import RNNModel
from ..datapath._plan import ACCUMS, Plan, lower
from ..sim._reference import GATE_NAMES, float_forward
from ..sim._sim import gate_frac, node_names, run_fixed
from .._validate import targets_fit
from ..data._datasets import PER_STEP_TASKS, REGRESSION_TASKS
from ._advise import _observed
from ._metric import Metric, head_logits, metric_name

#: Sequences per chunk: bounds the memory of recorded gates (L * G * chunk * T * H values).
CHUNK = 256
_BOUNDED_CELLS = ("rnn_tanh", "gru", "lstm")  # |h| <= 1 whatever the input


def _width(bound: float, frac: int) -> int:
    """Signed width that holds +-bound with ``frac`` fraction bits."""
    q = math.ceil(bound * 2.0**frac) if math.isfinite(bound) else 2**62
    return max(2, int(q).bit_length() + 1)


def _node_format(cfg: DatapathConfig, node: str) -> FixedFormat:
    tail = node.split(".")[-1]
    if node == "x":
        return cfg.x
    if node == "out":
        return cfg.head_config(1).out  # out is not a layer field: the same for any layer count
    cfg = cfg.layer_config(int(node.split(".")[0][1:]))  # "l{k}.<name>": layer k's own contract
    return {"h": cfg.h, "c": cfg.c}.get(tail, cfg.pre)


def interval_bounds(model: RNNModel, plan: Plan, steps: int) -> dict[str, float]:
    """Worst-case |value| of every node (real units) for any input the x format can hold.

    Interval arithmetic on the quantized weights: |W u + b| <= sum |W| max|u| + |b| row by row;
    gates lie in [0, 1] or [-1, 1]; h of tanh/GRU/LSTM cells in [-1, 1]; the LSTM cell can grow by
    at most 1 per step (|f c + i g| <= |c| + 1), so its bound is the number of steps.
    """
    cfg = plan.config
    bounds: dict[str, float] = {"x": cfg.x.max_int * 2.0**-cfg.x.frac}
    u_max = bounds["x"]
    H = model.hidden_size
    for k, layer in enumerate(model.layers):
        h_fmt_max = 2.0 ** (cfg.layer_config(k).h.int_bits - 1)
        h_max = 1.0 if model.cell in _BOUNDED_CELLS else h_fmt_max
        b_ih = np.zeros(layer.w_ih.shape[0]) if layer.b_ih is None else np.abs(layer.b_ih)
        b_hh = np.zeros(layer.w_hh.shape[0]) if layer.b_hh is None else np.abs(layer.b_hh)
        part_in = np.abs(layer.w_ih).sum(axis=1) * u_max + b_ih
        part_rec = np.abs(layer.w_hh).sum(axis=1) * h_max + b_hh
        for name, g, use_in, use_rec in ACCUMS[model.cell]:
            rows = slice(g * H, (g + 1) * H)
            v = (part_in[rows] if use_in else 0) + (part_rec[rows] if use_rec else 0)
            bounds[f"l{k}.pre_{name}"] = float(np.max(v))
        if model.cell == "gru":
            bounds[f"l{k}.pre_n"] = bounds[f"l{k}.pre_n_x"] + bounds[f"l{k}.pre_n_h"]
        if model.cell == "lstm":
            bounds[f"l{k}.c"] = float(max(steps, 1))
            bounds[f"l{k}.pre_c"] = bounds[f"l{k}.c"]
        bounds[f"l{k}.h"] = h_max if model.cell in _BOUNDED_CELLS else bounds[f"l{k}.pre_a"]
        u_max = bounds[f"l{k}.h"]
    if model.head is not None:
        b = np.zeros(model.num_classes) if model.head.bias is None else np.abs(model.head.bias)
        bounds["out"] = float(np.max(np.abs(model.head.weight).sum(axis=1) * u_max + b))
    return bounds


# --------------------------------------------------------------------------------------------
# first divergence: the threshold


#: Activation functions each cell's activation unit evaluates (the ReLU RNN has none).
_CELL_FUNCTIONS = {"rnn_tanh": ("tanh",), "rnn_relu": (), "gru": ("sigmoid", "tanh"), "lstm": ("sigmoid", "tanh")}


@functools.lru_cache(maxsize=16)
def activation_error(cfg: DatapathConfig, cell: str) -> float:
    """Worst |unit(x) - f(x)| of the configured activation unit, in real units, for ``cell``'s functions.

    The unit's error at every pre-format input with |x| <= 16 (beyond that sigmoid and tanh are
    flat to within 1e-7) and at the asymptotes, plus max|f'| times one LSB of ``pre`` for an input
    that reaches the unit rounded to the pre grid. This is the error one step of the datapath makes
    even with exact arithmetic everywhere else, so the default first-divergence threshold: an error
    above it is more than the table (or the piecewise-linear unit) explains. For the ReLU RNN,
    which has no activation unit, it is one LSB of the ``pre`` format.
    """
    from ..datapath._activation import _exact, act_eval

    funcs = _CELL_FUNCTIONS[cell]
    lsb_pre = 2.0**-cfg.pre.frac
    if not funcs:
        return lsb_pre
    top = min(cfg.pre.max_int, 16 << cfg.pre.frac)
    x = np.arange(max(cfg.pre.min_int, -top), top + 1, dtype=np.int64)
    x = np.concatenate([x, [cfg.pre.min_int, cfg.pre.max_int]])
    worst = 0.0
    for f in funcs:
        y = act_eval(x, f, cfg) * 2.0**-cfg.act.frac
        lo = -1.0 if f == "tanh" else 0.0  # f(-inf), f(+inf) against the unit at the ends of the format
        err = max(float(np.max(np.abs(y - _exact(f, x * lsb_pre)))), abs(y[-2] - lo), abs(y[-1] - 1.0))
        slope = 1.0 if f == "tanh" else 0.25
        worst = max(worst, err + slope * lsb_pre)
    return worst


class Divergence:
    """Finds the first divergence: the first step and node whose |fixed - quant| error passes a budget.

    Default (``tol_lsb`` None): the budget is ``UNITS_PER_STEP`` times the activation unit's own
    worst error (``activation_error``), in real units, for every node. Within one step a value
    passes through up to four activation units (GRU: r into n, n and z into h; LSTM: i and g into
    c, tanh(c) and o into h), each adding at most that error, and a recurrence that forgets
    (|dh_t / dh_t-1| < 1) keeps the carried error near it; fixed point that tracks float as well
    as its tables allow stays inside. An error beyond it is more than the tables explain:
    saturation, wrap-around, too few fraction bits, an unstable recurrence. With ``tol_lsb`` the
    budget is that many LSBs of each node's own format. The sequence and unit reported are the
    worst at the first step over budget.
    """

    UNITS_PER_STEP = 4

    def __init__(self, cfgs: list[DatapathConfig], cell: str, tol_lsb: float | None) -> None:
        """``cfgs``: the contract of every layer (per-layer precision may give each its own unit)."""
        self.tol_lsb = tol_lsb
        self.unit_error = max(activation_error(c, cell) for c in cfgs)
        self.order: dict[str, int] = {}
        self.lsb: dict[str, float] = {}
        self.worst: dict[str, list] = {}  # node -> per step [error, sequence, unit]

    def add(self, name: str, e: np.ndarray, lsb: float, start: int) -> None:
        """Errors ``e`` (N, T, H) of node ``name`` for the chunk of sequences from ``start``."""
        self.order.setdefault(name, len(self.order))
        self.lsb[name] = lsb
        rows = self.worst.setdefault(name, [[-1.0, 0, 0] for _ in range(e.shape[1])])
        flat = e.transpose(1, 0, 2).reshape(e.shape[1], -1)
        idx = flat.argmax(axis=1)
        for t, i in enumerate(idx):
            v = float(flat[t, i])
            if v > rows[t][0]:
                rows[t] = [v, start + int(i) // e.shape[2], int(i) % e.shape[2]]

    def budget(self, name: str) -> float:
        if self.tol_lsb is not None:
            return self.tol_lsb * self.lsb[name]
        return self.UNITS_PER_STEP * self.unit_error

    def first(self) -> dict[str, Any] | None:
        best = None
        for name, rows in self.worst.items():
            b = self.budget(name)
            for t in range(len(rows)):
                if rows[t][0] > b:
                    if best is None or (t, self.order[name]) < best[:2]:
                        best = (t, self.order[name], name)
                    break
        if best is None:
            return None
        t, _, name = best
        err, seq, unit = self.worst[name][t]
        return {"step": t, "node": name, "sequence": seq, "unit": unit, "error_lsb": err / self.lsb[name],
                "budget_lsb": self.budget(name) / self.lsb[name]}

    def last_error(self, name: str) -> float:
        """The worst error of node ``name`` at the last step."""
        return self.worst[name][-1][0]

    def describe(self) -> str:
        if self.tol_lsb is not None:
            return f"{self.tol_lsb:g} LSB of each node's format (--tol-lsb)"
        return (f"{self.UNITS_PER_STEP} x the activation unit's own worst error {self.unit_error:.3g} "
                f"= {self.UNITS_PER_STEP * self.unit_error:.3g}")


# --------------------------------------------------------------------------------------------
# verdicts: does a divergence or a saturation matter, and what to change when it does

#: The activation function each pre-activation node feeds directly (absent: the value goes on
#: into arithmetic, a state or the output, where a clipped value is a wrong value).
_FEEDS = {
    "rnn_tanh": {"pre_a": "tanh"},
    "rnn_relu": {},
    "gru": {"pre_r": "sigmoid", "pre_z": "sigmoid", "pre_n": "tanh"},
    "lstm": {"pre_i": "sigmoid", "pre_f": "sigmoid", "pre_g": "tanh", "pre_o": "sigmoid", "pre_c": "tanh"},
}


def _unit_flat_from(cfg: DatapathConfig, func: str) -> float:
    """The |input| (real units) beyond which the configured unit's output no longer changes."""
    if cfg.activation == "lut":
        return 2.0 ** (cfg.sigmoid_range_log2 if func == "sigmoid" else cfg.tanh_range_log2)
    return 5.0 if func == "sigmoid" else 2.5  # PLAN: sigmoid flat from |x| = 5, tanh (PLAN(2|x|)) from 2.5


def _layer_cfg(cfg: DatapathConfig, node: str) -> DatapathConfig:
    return cfg if node in ("x", "out") else cfg.layer_config(int(node.split(".")[0][1:]))


def advice_for(qmodel: RNNModel, cfg: DatapathConfig, observed: dict[str, float], node: str) -> str:
    """What to change for ``node``: the width advisor's format for it (``--suggest-config``), or,
    where the advisor keeps the format, the next lever (more bits)."""
    from ._advise import _kind, suggest_config
    from .._errors import ConfigError

    if node not in observed:  # an activated gate: its act format
        kind = "act"
    else:
        kind = _kind(node)
    cur = getattr(_layer_cfg(cfg, node), kind)
    try:
        new = getattr(suggest_config(qmodel, observed, cfg), kind)
    except ConfigError as e:
        return f"{kind} {cur}: the width advisor cannot place it ({e})"
    if new != cur:
        return (f"{kind} {cur} -> {new} (the width advisor for this data's range: hwsim check --suggest-config OUT.toml, "
                f"then --config OUT.toml)")
    from ..datapath._config import MAX_FORMAT_BITS

    wide = min(cur.bits + 2, MAX_FORMAT_BITS)
    more = FixedFormat(wide, min(cur.frac + wide - cur.bits, wide - 1))
    return (f"{kind} {cur} already holds this data's range with the most fraction bits its width allows: "
            f"widen it (e.g. {more}; --suggest-config OUT.toml --suggest-bits {wide})"
            + (" or raise lut_bits" if kind in ("act", "pre") and cfg.activation == "lut" else ""))


def divergence_verdict(first: dict[str, Any], last_lsb: float, flips: float | None, advice: str) -> dict[str, Any]:
    """Whether the first divergence matters: "within budget" when it flips no argmax (or the model
    has no classifier) and its node's worst error is back within the budget by the last step (it
    does not grow into the state); else "matters", with what to change."""
    settles = last_lsb <= first["budget_lsb"]
    harmless = (flips is None or flips == 0) and settles
    why = ("no argmax flips" if flips == 0 else "no classifier output" if flips is None else f"argmax flips {flips:.3g}")
    why += (f"; {first['node']}'s worst error at the last step is {last_lsb:.1f} LSB, "
            + ("within" if settles else "above") + f" the {first['budget_lsb']:.1f} LSB budget")
    return {"verdict": "within budget" if harmless else "matters", "why": why, "last_step_error_lsb": last_lsb,
            "advice": None if harmless else advice}


def saturation_verdict(qmodel: RNNModel, cfg: DatapathConfig, node: str, count: int, advice: str) -> dict[str, Any]:
    """Whether ``count`` out-of-range values at ``node`` change anything.

    Harmless exactly when the node feeds an activation unit directly, its format saturates (does
    not wrap) and its range reaches where the unit is already flat: the clipped value and the true
    one give the same output bit for bit. Anywhere else (states, sums, the input, the output, a
    ReLU, wrap-around) a clipped value is a wrong value.
    """
    lc = _layer_cfg(cfg, node)
    func = _FEEDS[qmodel.cell].get(node.split(".")[-1])
    if func is not None and lc.overflow == "saturate":
        flat = _unit_flat_from(lc, func)
        if lc.pre.max_int * 2.0**-lc.pre.frac >= flat - 2.0**-lc.pre.frac:
            return {"count": count, "verdict": "harmless", "advice": None,
                    "why": f"feeds {func}, which is flat beyond |x| = {flat:g}, inside pre {lc.pre}'s range: "
                           "the clipped value gives the same output"}
        why = f"feeds {func}, but pre {lc.pre} ends before the unit is flat (|x| = {flat:g})"
    elif func is not None:
        why = f"feeds {func}, but overflow wraps: a wrapped value changes sign"
    else:
        why = {"x": "the input is clipped", "out": "the outputs are clipped (argmax ties, wrong logits)"}.get(
            node, "a clipped value goes on into the state or the sum")
    return {"count": count, "verdict": "matters", "why": why, "advice": advice}


def run_check(
    qmodel: RNNModel,
    dataset,
    config: DatapathConfig | None = None,
    *,
    float_model: RNNModel | None = None,
    threshold_lsb: float | None = None,
    chunk: int = CHUNK,
) -> dict[str, Any]:
    """Compare float, quantized-float and bit-accurate inference of ``qmodel`` on ``dataset``.

    Parameters
    ----------
    qmodel
        The quantized model (its ``QuantSpec`` set).
    dataset
        A ``hwsim.data._datasets.Dataset``: x (N, T, I) float32 and optional targets. For next-symbol
        targets the head is applied at every step.
    config
        The datapath contract; the default contract when None.
    float_model
        The original float model, for its metric.
    threshold_lsb
        ``first_divergence`` is the first step and node whose |fixed - quant| exceeds this many LSBs
        of the node's format; by default (None), more than four times the activation unit's own
        worst error, more than the tables explain (``Divergence``).

    Returns
    -------
    dict
        JSON-ready: ``metric``, ``float_metric``, ``quant_metric``, ``fixed_metric``,
        ``argmax_flips``, ``max_abs_err_h``, ``max_abs_err_y``, ``drift`` (mean |error| of the last
        layer's h per step), ``drift_layers``, ``gate_errors`` (node -> max, mean), ``first_divergence``,
        ``saturations``, ``suggested_widths`` (node -> configured, interval, observed bits) and
        the run's description.
    """
    cfg = config if config is not None else DatapathConfig()
    if not isinstance(cfg, DatapathConfig):
        raise TypeError(f"config must be a DatapathConfig, not {type(cfg).__name__}")
    if threshold_lsb is not None and not (isinstance(threshold_lsb, (int, float)) and threshold_lsb > 0):
        raise ValueError(f"threshold_lsb must be a positive number or None, not {threshold_lsb!r}")
    x_all = dataset.x
    if x_all.shape[2] != qmodel.input_size:
        raise DataError(f"{dataset.name}: inputs must have {qmodel.input_size} features for this model, not {x_all.shape[2]}")
    if float_model is not None and (float_model.input_size, float_model.cell) != (qmodel.input_size, qmodel.cell):
        raise DataError(
            f"the float model must be the quantized model's original ({qmodel.cell}, input size {qmodel.input_size}), "
            f"not {float_model.cell} with input size {float_model.input_size}"
        )
    n_seq, n_steps, _ = x_all.shape
    if n_seq == 0 or n_steps == 0:
        raise DataError(f"{dataset.name}: needs at least one sequence of at least one step, not {x_all.shape}")
    task = dataset.task
    has_head = qmodel.head is not None
    all_steps = task in PER_STEP_TASKS and has_head
    regression = task in REGRESSION_TASKS
    targets_fit(qmodel.num_classes if has_head else None, dataset, error=DataError)
    plan = lower(qmodel, cfg)
    L, H = qmodel.num_layers, qmodel.hidden_size
    gnames = GATE_NAMES[qmodel.cell]
    divergence = Divergence([plan.layer_config(k) for k in range(L)], qmodel.cell, threshold_lsb)

    metrics = {name: Metric(task, dataset.num_classes) for name in ("float", "quant", "fixed")}
    flips = 0
    flip_count = 0
    sat = dict.fromkeys(node_names(plan), 0)
    err_max: dict[str, float] = {}
    err_sum: dict[str, float] = {}
    drift = np.zeros((L, n_steps))
    max_err_y = 0.0
    sum_err_y = 0.0  # |fixed - quant| of the outputs, in their own units
    observed: dict[str, float] = {}

    for start in range(0, n_seq, chunk):
        x = x_all[start : start + chunk]
        target = None if dataset.y is None else dataset.y[start : start + chunk]
        lens = None if dataset.lengths is None else dataset.lengths[start : start + chunk]
        fx = run_fixed(qmodel, x, cfg, record_gates=True, head_all_steps=all_steps, plan=plan, lengths=lens)
        qf = float_forward(qmodel, x, record_gates=True, lengths=lens)
        y_q = head_logits(qmodel, qf.h, all_steps) if has_head else None
        for k, v in fx.saturations.items():
            sat[k] += v
        metrics["fixed"].add(fx.y, target)
        metrics["quant"].add(y_q, target)
        if float_model is not None and float_model.head is not None:
            ff = float_forward(float_model, x, lengths=lens)
            metrics["float"].add(head_logits(float_model, ff.h, all_steps), target)
        if has_head:
            if not regression:  # an argmax means nothing for regression outputs
                flips += int(np.sum(np.argmax(fx.y, axis=-1) != np.argmax(y_q, axis=-1)))
                flip_count += y_q.shape[0] * (y_q.shape[1] if all_steps else 1)
            max_err_y = max(max_err_y, float(np.abs(fx.y - y_q).max()))
            sum_err_y += float(np.abs(fx.y - y_q).sum())

        # Errors per node, in datapath order: each layer's gates, then c, then h.
        order = 0
        for k in range(L):
            lc, lsb_gate = plan.layer_config(k), 2.0 ** -gate_frac(plan, k)
            nodes = [(f"l{k}.{g}", fx.gates[k][g], qf.gates[k][g], lsb_gate) for g in gnames]
            if qmodel.cell == "lstm":
                nodes.append((f"l{k}.c", fx.sim.c_layers_int[k] * 2.0**-lc.c.frac, qf.c_layers[k], 2.0**-lc.c.frac))
            h_fx = fx.sim.h_layers_int[k] * 2.0**-lc.h.frac
            nodes.append((f"l{k}.h", h_fx, qf.h_layers[k], 2.0**-lc.h.frac))
            drift[k] += np.abs(h_fx - qf.h_layers[k]).sum(axis=(0, 2))
            for name, a, b, lsb in nodes:
                e = np.abs(a - b)
                err_max[name] = max(err_max.get(name, 0.0), float(e.max()))
                err_sum[name] = err_sum.get(name, 0.0) + float(e.sum())
                divergence.add(name, e, lsb, start)
                order += 1
        for name, v in _observed(qmodel, x, qf, y_q).items():
            observed[name] = max(observed.get(name, 0.0), v)

    flip_rate = flips / flip_count if flip_count else None
    first = divergence.first()
    if first is not None:
        first.update(divergence_verdict(first, divergence.last_error(first["node"]) / divergence.lsb[first["node"]],
                                        flip_rate, advice_for(qmodel, cfg, observed, first["node"])))
    bounds = interval_bounds(qmodel, plan, n_steps)
    widths = {}
    for node in node_names(plan):
        fmt = _node_format(cfg, node)
        widths[node] = {
            "format": str(fmt),
            "configured": fmt.bits,
            "interval": _width(bounds[node], fmt.frac),
            "observed": _width(observed.get(node, 0.0), fmt.frac),
        }
    total = n_seq * n_steps * H
    drift /= n_seq * H
    loss_src = None
    if float_model is not None:  # where the loss comes from: per tensor / layer, and float-vs-quant drift
        from ._loss import quantization_loss

        loss_src = quantization_loss(float_model, qmodel, dataset, chunk=chunk)
    return {
        "data": getattr(dataset, "label", dataset.name),
        "split": getattr(dataset, "split", None),
        "task": task,
        "n_sequences": n_seq,
        "steps": n_steps,
        "cell": qmodel.cell,
        "method": qmodel.quant.method,
        "config": cfg.to_dict(),
        "metric": metric_name(task) if has_head else None,
        "float_metric": metrics["float"].value(),
        "quant_metric": metrics["quant"].value(),
        "fixed_metric": metrics["fixed"].value(),
        "mae": {k: m.mae() for k, m in metrics.items()} if regression else None,
        "argmax_flips": flip_rate,
        "max_abs_err_h": max(err_max[f"l{k}.h"] for k in range(L)),
        "max_abs_err_y": max_err_y if has_head else None,
        "mean_abs_err_y": sum_err_y / (n_seq * (n_steps if all_steps else 1) * qmodel.num_classes) if has_head else None,
        "drift": drift[-1].tolist(),
        "drift_layers": drift.tolist(),
        "gate_errors": {name: {"max": err_max[name], "mean": err_sum[name] / total} for name in err_max},
        "threshold_lsb": None if threshold_lsb is None else float(threshold_lsb),
        "activation_error": divergence.unit_error,
        "threshold_text": divergence.describe(),
        "first_divergence": first,
        "saturations": sat,
        "saturation_verdicts": {node: saturation_verdict(qmodel, cfg, node, n, advice_for(qmodel, cfg, observed, node))
                                for node, n in sat.items() if n},
        "suggested_widths": widths,
        "quantization_loss": loss_src,
    }


def _fmt_num(v: float | None, spec: str = ".4f") -> str:
    return "-" if v is None else format(v, spec)


def format_report(r: dict[str, Any]) -> str:
    """The human-readable table of a ``run_check`` result."""
    lines = [
        f"hwsim check: {r['cell']} ({r['method']}) on {r['data']}: {r['n_sequences']} sequences x {r['steps']} steps",
        "",
        f"{'metric':<18}{'float':>10}{'quant':>10}{'fixed':>10}",
        f"{r['metric'] or '(no targets)':<18}{_fmt_num(r['float_metric']):>10}"
        f"{_fmt_num(r['quant_metric']):>10}{_fmt_num(r['fixed_metric']):>10}",
        *([f"{'mae':<18}{_fmt_num(r['mae']['float']):>10}{_fmt_num(r['mae']['quant']):>10}"
           f"{_fmt_num(r['mae']['fixed']):>10}"] if r.get("mae") else []),
        *(["(float: pass the original float model with --float-model to fill this column)"]
          if r["float_metric"] is None and r["metric"] else []),
        *([] if r.get("mae") else [f"argmax flips quant vs fixed: {_fmt_num(r['argmax_flips'])}"]),
        f"max |h err| {r['max_abs_err_h']:.3g}" + (
            f", |y err| fixed vs quant: max {r['max_abs_err_y']:.3g}, mean {r['mean_abs_err_y']:.3g} (output units)"
            if r["max_abs_err_y"] is not None else ""),
        "",
        f"{'node':<14}{'max err':>12}{'mean err':>12}",
    ]
    for name, e in r["gate_errors"].items():
        lines.append(f"{name:<14}{e['max']:>12.3g}{e['mean']:>12.3g}")
    fd = r["first_divergence"]
    lines.append("")
    what = r.get("threshold_text") or f"{r['threshold_lsb']:g} LSB"
    if fd is None:
        lines.append(f"first divergence: none (budget: {what})")
    else:
        lines.append(
            f"first divergence: step {fd['step']}, node {fd['node']}, sequence {fd['sequence']}, unit {fd['unit']}: "
            f"{fd['error_lsb']:.1f} LSB of its format > {fd.get('budget_lsb', r['threshold_lsb']):.1f} "
            f"(budget: {what})"
        )
        if "verdict" in fd:
            lines.append(f"  verdict: {fd['verdict']} ({fd['why']})")
            if fd.get("advice"):
                lines.append(f"  change: {fd['advice']}")
    d = r["drift"]
    idx = sorted({0, len(d) // 4, len(d) // 2, (3 * len(d)) // 4, len(d) - 1})
    lines.append("drift (mean |h err| by step): " + ", ".join(f"t{t} {d[t]:.3g}" for t in idx))
    lines += ["", f"{'node':<14}{'format':>9}{'saturated':>11}{'interval':>10}{'observed':>10}"]
    for name, w in r["suggested_widths"].items():
        lines.append(
            f"{name:<14}{w['format']:>9}{r['saturations'].get(name, 0):>11}{w['interval']:>10}{w['observed']:>10}"
        )
    lines.append("(interval: bits for the worst case of any input; observed: bits for this data's range)")
    for name, v in (r.get("saturation_verdicts") or {}).items():
        lines.append(f"saturation at {name} ({v['count']}): {v['verdict']}: {v['why']}"
                     + (f"; change: {v['advice']}" if v.get("advice") else ""))
    lines += _format_quantization_loss(r.get("quantization_loss"))
    return "\n".join(lines)


def _format_quantization_loss(q: dict[str, Any] | None) -> list[str]:
    """The table of the metric with one tensor / one layer quantized, and the float-vs-quant drift."""
    if not q:
        return []
    lines = ["", f"quantization loss (float model with only this quantized; float metric {_fmt_num(q['reference'])})",
             f"{'tensor / layer':<28}{'metric':>10}{'loss':>10}"]
    for name, e in [*q["tensors"].items(), *q["layers"].items()]:
        lines.append(f"{name:<28}{_fmt_num(e['metric']):>10}{_fmt_num(e['loss'], '.2f'):>10}")
    d = q["quant_drift"]
    idx = sorted({0, len(d) // 2, len(d) - 1})
    lines.append("float vs quantized drift (mean |h err| by step): " + ", ".join(f"t{t} {d[t]:.3g}" for t in idx))
    return lines
