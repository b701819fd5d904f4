"""Sigmoid and tanh as hardware units: the lookup-table contents and both units' integer semantics.

``lut_table`` is the one function that makes table contents: the simulator uses its output and the
exporter writes the very same words into the ROM files. ``lut_eval`` and ``pwl_eval`` are the
readable NumPy definitions (docs/datapath.md, "Activation units") that the kernels re-implement.
"""

from __future__ import annotations

import numpy as np

from ._config import DatapathConfig

FUNCTIONS = ("sigmoid", "tanh")


def _exact(func: str, x: np.ndarray) -> np.ndarray:
    if func == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if func == "tanh":
        return np.tanh(x)
    raise ValueError(f"activation must be sigmoid or tanh, not {func!r}")


def range_log2(func: str, cfg: DatapathConfig) -> int:
    """log2 of R: the table of ``func`` covers [-R, R)."""
    return cfg.sigmoid_range_log2 if func == "sigmoid" else cfg.tanh_range_log2


def lut_index_shift(func: str, cfg: DatapathConfig) -> int:
    """The index is ``(clamp(x) + R) >> shift``, a bit slice of the offset pre-activation."""
    return cfg.pre.frac + range_log2(func, cfg) + 1 - cfg.lut_bits


def lut_table(func: str, cfg: DatapathConfig) -> np.ndarray:
    """The 2**lut_bits table words (int64, act format): f at each bin's midpoint, rounded half up.

    Bin i covers [-R + i*w, -R + (i+1)*w) with w = 2R / 2**lut_bits; its word is
    floor(f(-R + (i + 0.5) * w) * 2**act.frac + 0.5), saturated to the act format.
    """
    r = range_log2(func, cfg)
    n = 1 << cfg.lut_bits
    width = 2.0 ** (r + 1) / n
    centres = -(2.0**r) + (np.arange(n, dtype=np.float64) + 0.5) * width
    q = np.floor(_exact(func, centres) * 2.0**cfg.act.frac + 0.5).astype(np.int64)
    return np.clip(q, cfg.act.min_int, cfg.act.max_int)


def lut_eval(x: np.ndarray, func: str, cfg: DatapathConfig, table: np.ndarray | None = None) -> np.ndarray:
    """LUT unit: pre-format integers -> act-format integers."""
    if table is None:
        table = lut_table(func, cfg)
    r = range_log2(func, cfg)
    lo = -(np.int64(1) << (r + cfg.pre.frac))
    hi = (np.int64(1) << (r + cfg.pre.frac)) - 1
    xc = np.clip(np.asarray(x, dtype=np.int64), lo, hi)
    return table[(xc - lo) >> lut_index_shift(func, cfg)]


def _shr(a: np.ndarray, k: int) -> np.ndarray:
    """Arithmetic shift right by k (left by -k when k < 0); a >= 0 here, so this is floor."""
    return a >> k if k >= 0 else a << -k


def _plan_positive(a: np.ndarray, fp: int, fa: int) -> np.ndarray:
    """PLAN sigmoid (Amin et al. 1997) on |x| = a >= 0: slopes 1/4, 1/8, 1/32 are shifts."""
    one = np.int64(1) << fa
    return np.where(
        a >= (5 << fp),
        one,
        np.where(
            a >= (19 << (fp - 3)),
            _shr(a, fp + 5 - fa) + (27 << (fa - 5)),
            np.where(a >= (1 << fp), _shr(a, fp + 3 - fa) + (5 << (fa - 3)), _shr(a, fp + 2 - fa) + (1 << (fa - 1))),
        ),
    )


def pwl_eval(x: np.ndarray, func: str, cfg: DatapathConfig) -> np.ndarray:
    """Shift-and-add piecewise-linear unit: pre-format integers -> act-format integers.

    sigmoid(x) = PLAN(|x|) for x >= 0, ONE - PLAN(|x|) for x < 0.
    tanh(x) = 2 * PLAN(2|x|) - ONE, negated for x < 0 (tanh(x) = 2 sigmoid(2x) - 1).
    """
    x = np.asarray(x, dtype=np.int64)
    fp, fa = cfg.pre.frac, cfg.act.frac
    one = np.int64(1) << fa
    a = np.abs(x)
    if func == "sigmoid":
        y = _plan_positive(a, fp, fa)
        return np.where(x < 0, one - y, y)
    if func == "tanh":
        t = 2 * _plan_positive(2 * a, fp, fa) - one
        return np.where(x < 0, -t, t)
    raise ValueError(f"activation must be sigmoid or tanh, not {func!r}")


def act_eval(x: np.ndarray, func: str, cfg: DatapathConfig) -> np.ndarray:
    """The configured activation unit (cfg.activation) applied to pre-format integers."""
    return lut_eval(x, func, cfg) if cfg.activation == "lut" else pwl_eval(x, func, cfg)
