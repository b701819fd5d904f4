"""The task metric, shared by ``hwsim check`` and the quantization-loss decomposition: the float
head on recorded states, and accuracy, bits per symbol or the mean squared error (with the mean
absolute error beside it) accumulated over chunks."""

from __future__ import annotations

import math

import numpy as np

from ..data._datasets import REGRESSION_TASKS
from ..model._model import RNNModel


#: The metric each task reports: accuracy (higher is better), bits per symbol, mean squared error (lower).
METRICS = {"classify": "accuracy", "next-symbol": "bits_per_symbol", "regress": "mse", "regress-steps": "mse"}


def metric_name(task: str | None) -> str | None:
    """The metric a task reports (``METRICS``); None without targets."""
    return METRICS.get(task)


def higher_is_better(metric: str | None) -> bool:
    """Whether a larger value of ``metric`` is better (accuracy) or worse (bits per symbol, mse)."""
    return metric == "accuracy"


def head_logits(model: RNNModel, h_last: np.ndarray, all_steps: bool) -> np.ndarray:
    """Float head on (N, T, H): (N, T, C) for every step, or (N, C) at the last step."""
    h = h_last if all_steps else h_last[:, -1]
    y = h @ model.head.weight.T
    return y + model.head.bias if model.head.bias is not None else y


class Metric:
    """Accumulates the task metric over chunks: accuracy, or mean -log2 p(target) (bits per symbol)."""

    def __init__(self, task: str | None, num_classes: int | None) -> None:
        self.task, self.num_classes = task, num_classes
        self.total = 0.0
        self.abs_total = 0.0  # regression: the sum of |error| (mae)
        self.count = 0

    def add(self, y: np.ndarray | None, target: np.ndarray | None) -> None:
        if y is None or target is None or self.task is None:
            return
        if self.task in REGRESSION_TASKS:  # errors in the targets' own units
            e = np.asarray(y, np.float64) - target
            self.total += float(np.sum(e * e))
            self.abs_total += float(np.sum(np.abs(e)))
            self.count += target.size
        elif self.task == "classify":
            self.total += float(np.sum(np.argmax(y, axis=-1) == target))
            self.count += target.size
        else:
            z = y - y.max(axis=-1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
            picked = np.take_along_axis(logp, target[..., None], axis=-1)[..., 0]
            self.total += float(-picked.sum() / math.log(2))
            self.count += target.size

    def value(self) -> float | None:
        return self.total / self.count if self.count else None

    def mae(self) -> float | None:
        """The mean absolute error of a regression task (None for the others)."""
        return self.abs_total / self.count if self.count and self.task in REGRESSION_TASKS else None
