"""Where the quantization loss comes from: the metric with one tensor (or one layer) quantized, and
the drift of the quantized-weights float run away from the float model over time.

Both run in float (``float_forward``): they isolate the weight quantization from the fixed-point
datapath, whose own error ``hwsim check`` reports as drift and per-gate error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..model._model import RNNModel
from ..sim._reference import float_forward
from ..data._datasets import PER_STEP_TASKS
from ._metric import Metric, head_logits, higher_is_better, metric_name


def loss(metric: str | None, ref: float | None, value: float | None) -> float | None:
    """Loss of ``value`` against ``ref``: accuracy points (x100) for classification, extra bits per
    symbol for next-symbol, extra mean squared error for regression; positive is worse."""
    if ref is None or value is None:
        return None
    return (ref - value) * 100.0 if higher_is_better(metric) else value - ref


def _metric(model: RNNModel, dataset, all_steps: bool, chunk: int) -> float | None:
    m = Metric(dataset.task, dataset.num_classes)
    for start in range(0, dataset.x.shape[0], chunk):
        x = dataset.x[start : start + chunk]
        y = None if dataset.y is None else dataset.y[start : start + chunk]
        m.add(head_logits(model, float_forward(model, x).h, all_steps), y)
    return m.value()


def quantization_loss(float_model: RNNModel, qmodel: RNNModel, dataset, *, chunk: int = 256) -> dict[str, Any]:
    """The metric of ``float_model`` with only one tensor, then only one layer, replaced by its
    quantized version from ``qmodel``, and the mean |h_float - h_quant| of the last layer per step.

    Returns
    -------
    dict
        ``reference`` (the float metric), ``tensors`` and ``layers`` (name -> metric, loss),
        ``quant_drift`` (per step) and ``quant_drift_layers``. Metrics are None without a head or
        targets.
    """
    from ..model._quant import _replace_tensors

    all_steps = dataset.task in PER_STEP_TASKS and qmodel.head is not None
    has_metric = qmodel.head is not None and float_model.head is not None and dataset.y is not None
    name = metric_name(dataset.task)
    ref = _metric(float_model, dataset, all_steps, chunk) if has_metric else None
    keys = qmodel.tensor_keys()
    changed = [k for k in keys if k in float_model.tensor_keys()
               and not np.array_equal(float_model.tensor(k), qmodel.tensor(k))]

    def row(new: dict[str, np.ndarray]) -> dict[str, Any]:
        if not has_metric:
            return {"metric": None, "loss": None}
        m = _metric(_replace_tensors(float_model, new, None), dataset, all_steps, chunk)
        return {"metric": m, "loss": loss(name, ref, m)}

    tensors = {k: row({k: qmodel.tensor(k)}) for k in changed}
    groups: dict[str, list[str]] = {}
    for k in changed:
        kind, li, _ = keys[k]
        groups.setdefault("head" if kind == "head" else f"l{li}", []).append(k)
    layers = {g: row({k: qmodel.tensor(k) for k in ks}) for g, ks in groups.items()}

    L, T = qmodel.num_layers, dataset.x.shape[1]
    drift = np.zeros((L, T))
    for start in range(0, dataset.x.shape[0], chunk):
        x = dataset.x[start : start + chunk]
        f, q = float_forward(float_model, x), float_forward(qmodel, x)
        for k in range(L):
            drift[k] += np.abs(f.h_layers[k] - q.h_layers[k]).sum(axis=(0, 2))
    drift /= max(1, dataset.x.shape[0] * qmodel.hidden_size)
    return {
        "reference": ref,
        "tensors": tensors,
        "layers": layers,
        "quant_drift": drift[-1].tolist(),
        "quant_drift_layers": drift.tolist(),
    }
