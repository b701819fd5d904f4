"""Variable-length sequences: each sequence ``n`` of a padded (N, T, I) batch has ``lengths[n]`` steps.

The definition (docs/datapath.md, "Variable-length sequences"): a sequence stops at its last step,
as the RTL stops at ``tlast``. Nothing of the padding is computed, rounded or counted; in the
(N, T, ...) results every state is frozen after the sequence's last step (steps ``t >= lengths[n]``
repeat step ``lengths[n] - 1``), so the head at the last step reads each sequence's own last state.

The float reference and the simulator both run each group of equal length on its own steps and
merge the groups; nothing in the kernels changes.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from .._validate import check_lengths as _check


def check_lengths(lengths, n: int, t: int) -> np.ndarray | None:
    """``lengths`` as int64 (N,) with every value in [1, T], or None; a ``ValueError`` otherwise."""
    return None if lengths is None else _check(lengths, n, t, what="lengths", error=ValueError)


def run_by_length(run: Callable[[np.ndarray, np.ndarray], object], x: np.ndarray, lengths: np.ndarray):
    """``run(index, x_part)`` on each group of sequences of equal length, cut to that length; the
    results (a dataclass of arrays, tuples, dicts and counts) merged back into batch order."""
    n, t = x.shape[:2]
    groups = [(np.flatnonzero(lengths == k), int(k)) for k in np.unique(lengths)]
    parts = [(idx, k, run(idx, x[idx, :k])) for idx, k in groups]
    first = parts[0][2]
    merged = {f.name: _merge([(i, k, getattr(r, f.name)) for i, k, r in parts], n, t) for f in dataclasses.fields(first)}
    return type(first)(**merged)


def _merge(parts: list, n: int, t: int):
    v = parts[0][2]
    if v is None:
        return None
    if isinstance(v, tuple):
        return tuple(_merge([(i, k, p[j]) for i, k, p in parts], n, t) for j in range(len(v)))
    if isinstance(v, dict):
        return {key: _merge([(i, k, p[key]) for i, k, p in parts], n, t) for key in v}
    if isinstance(v, (int, np.integer)):  # saturation counts: the groups' sum
        return sum(int(p) for _, _, p in parts)
    if v.ndim >= 3:  # (N, T, ...) per step: frozen after each sequence's last step
        out = np.empty((n, t) + v.shape[2:], dtype=v.dtype)
        for idx, k, p in parts:
            out[idx, :k] = p
            out[idx, k:] = p[:, k - 1 : k]
        return out
    out = np.empty((n,) + v.shape[1:], dtype=v.dtype)  # (N, ...) per sequence
    for idx, _, p in parts:
        out[idx] = p
    return out
