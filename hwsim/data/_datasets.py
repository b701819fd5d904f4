"""Data sets: sequences for inference and checks, from an ``.npz`` file or a built-in name.

A data set is N sequences of T steps of I features (float32), with optional integer targets:
(N,) class labels ("classify": the head reads the last step) or (N, T) next-symbol targets
("next-symbol"). Files may hold token ids (N, T) instead of features; they are one-hot encoded
over ``input_size`` symbols.

Built-in data sets live in ``BUILTINS`` as ``"module:function"`` strings, imported only when used,
each a ``load(split) -> Dataset``.
"""

from __future__ import annotations

import importlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._errors import DataError
from .._repr import short_repr

SPLITS = ("train", "valid", "test", "all")
TASKS = ("classify", "next-symbol")

#: Built-in data sets: name -> "module:function", the function being ``load(split) -> Dataset``.
BUILTINS = {
    "digits": "hwsim.data._datasets:load_digits",
    "fashion": "hwsim.data._fashion:load",
    "kjv": "hwsim.data._kjv:load",
}

#: The fixed train/test split of ``digits``: share held out for test, and the seed that draws it.
DIGITS_TEST_SHARE = 0.2
DIGITS_SEED = 0


@dataclass(frozen=True)
class Dataset:
    """N sequences for a recurrent model, with optional integer targets.

    Attributes
    ----------
    name
        Built-in name or file path, for messages and reports.
    x
        Inputs, float32 (N, T, I).
    y
        None, int64 (N,) class labels, or int64 (N, T) next-symbol targets.
    task
        "classify", "next-symbol", or None when there are no targets.
    num_classes
        Number of classes / symbols the targets range over, or None without targets.
    lengths
        None (every sequence has T steps) or int64 (N,) in [1, T]: sequence n stops at step
        ``lengths[n] - 1`` and the rest of ``x[n]`` is padding (docs/datapath.md, "Variable-length
        sequences"). Classification data only.
    """

    __repr__ = short_repr

    name: str
    x: np.ndarray
    y: np.ndarray | None = None
    task: str | None = None
    num_classes: int | None = None
    lengths: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.x, np.ndarray) and self.x.dtype == np.float32 and self.x.ndim == 3):
            got = f"{self.x.dtype} {self.x.shape}" if isinstance(self.x, np.ndarray) else type(self.x).__name__
            raise DataError(f"{self.name}: x must be a float32 (N, T, I) array, not {got}")
        if self.task not in (None, *TASKS):
            raise DataError(f"{self.name}: task must be one of {', '.join(TASKS)} or None, not {self.task!r}")
        if (self.y is None) != (self.task is None) or (self.y is None) != (self.num_classes is None):
            raise DataError(f"{self.name}: y, task and num_classes must be given together")
        if self.y is not None:
            want = self.x.shape[:1] if self.task == "classify" else self.x.shape[:2]
            if self.y.dtype != np.int64 or self.y.shape != want:
                raise DataError(f"{self.name}: {self.task} targets y must be int64 {want}, not {self.y.dtype} {self.y.shape}")
        if self.lengths is not None:
            from .._validate import check_lengths

            check_lengths(self.lengths, *self.x.shape[:2], what=f"{self.name}: lengths", error=DataError)
            if self.task == "next-symbol":
                raise DataError(f"{self.name}: lengths go with class labels y (N,), not with next-symbol targets (N, T)")

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def steps(self) -> int:
        return self.x.shape[1]

    @property
    def input_size(self) -> int:
        return self.x.shape[2]

    def head(self, n: int) -> "Dataset":
        """The first ``n`` sequences (all when there are fewer)."""
        return Dataset(self.name, self.x[:n], None if self.y is None else self.y[:n], self.task, self.num_classes,
                       None if self.lengths is None else self.lengths[:n])


def load_data(spec: str | os.PathLike, *, split: str = "test", input_size: int | None = None) -> Dataset:
    """Load a data set from an ``.npz`` file or by built-in name (``BUILTINS``).

    Parameters
    ----------
    spec
        A path to an ``.npz`` holding ``x`` and optionally ``y`` (or ``x_<split>`` /
        ``y_<split>``), or a built-in name such as ``"digits"``.
    split
        "train", "test" or "all"; picks the part of a built-in set (files hold one set unless
        they carry per-split arrays).
    input_size
        Alphabet size for files holding (N, T) integer token ids, which are one-hot encoded;
        usually the model's input size.
    """
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    p = Path(spec)
    if p.is_file():
        return _load_npz(p, split, input_size)
    name = str(spec)
    if name in BUILTINS:
        return _load_builtin(name, split)
    if p.is_dir():
        raise DataError(f"data must be an .npz file or a built-in name, not a directory: {p}")
    if p.suffix or os.sep in name or "/" in name:
        raise DataError(f"data file must exist, not found: {p}")
    raise DataError(
        f"unknown data set {name!r}: not a file and not a built-in ({', '.join(BUILTINS)})"
    )


def _load_builtin(name: str, split: str) -> Dataset:
    module_name, func = BUILTINS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:
            raise
        raise DataError(f"built-in data set {name!r} is not available in this install (no module {module_name})") from None
    data = getattr(module, func)(split)
    if not isinstance(data, Dataset):  # pragma: no cover - a bug in a built-in loader
        raise TypeError(f"{module_name}.{func} must return a Dataset, not {type(data).__name__}")
    return data


def load_digits(split: str = "test") -> Dataset:
    """scikit-learn's 8x8 handwritten digits as 8 steps of 8 pixel rows, scaled to [0, 1].

    1797 images, 10 classes. The split is stratified and fixed (``DIGITS_TEST_SHARE``,
    ``DIGITS_SEED``), drawn with NumPy's ``default_rng`` per class so that it does not depend on
    the scikit-learn version.
    """
    if split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    if split == "valid":
        raise DataError("digits has no 'valid' split: use 'train' and hold out part of it (hwsim train does)")
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = (d.images / 16.0).astype(np.float32)  # (1797, 8, 8): rows are time steps
    y = d.target.astype(np.int64)
    if split != "all":
        rng = np.random.default_rng(DIGITS_SEED)
        test = np.zeros(len(y), bool)
        for c in range(10):
            idx = np.flatnonzero(y == c)
            test[rng.permutation(idx)[: int(round(DIGITS_TEST_SHARE * len(idx)))]] = True
        keep = test if split == "test" else ~test
        x, y = x[keep], y[keep]
    return Dataset(name=f"digits:{split}", x=x, y=y, task="classify", num_classes=10)


def _load_npz(p: Path, split: str, input_size: int | None) -> Dataset:
    from .._validate import as_finite, check_count, check_labels, check_lengths, check_npz

    if zipfile.is_zipfile(p):
        check_npz(p, error=DataError)  # every header against its size, before anything is allocated
    else:
        with open(p, "rb") as f:
            if f.read(6) == b"\x93NUMPY":  # refused unread: its header could declare any size
                raise DataError(f"{p}: data file must be an .npz archive holding 'x', not a single .npy array")
    try:
        npz = np.load(p, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise DataError(f"{p}: data file must be an .npz archive ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise DataError(f"{p}: data file must be an .npz archive holding 'x', not a single .npy array")
    with npz:
        files = set(npz.files)
        xkey = "x" if "x" in files else f"x_{split}" if f"x_{split}" in files else None
        if xkey is None:
            raise DataError(f"{p}: data file must hold an array 'x' (found {', '.join(sorted(files)) or 'nothing'})")
        ykey = "y" if xkey == "x" else f"y_{split}"
        x = _read(npz, p, xkey)
        y = _read(npz, p, ykey) if ykey in files else None
        lkey = "lengths" if xkey == "x" else f"lengths_{split}"
        lengths = _read(npz, p, lkey) if lkey in files else None
        num_classes = None
        if "num_classes" in files:
            num_classes = check_count(_read(npz, p, "num_classes"), what=f"{p}: 'num_classes'", error=DataError)

    # inputs
    one_hot = x.ndim == 2 and x.dtype.kind in "iu"
    if one_hot:
        if input_size is None:
            raise DataError(f"{p}: {xkey!r} holds (N, T) token ids: the alphabet size (the model's input size) must be given")
        if x.size and (x.min() < 0 or x.max() >= input_size):
            raise DataError(
                f"{p}: token ids in {xkey!r} must lie in [0, {input_size - 1}] for {input_size} input symbols, "
                f"not [{x.min()}, {x.max()}]"
            )
        x = np.eye(input_size, dtype=np.float32)[x]
    elif x.ndim == 3 and x.dtype.kind == "f":
        if lengths is not None:  # the padding is never read: it may hold anything (NaN included)
            lengths = check_lengths(lengths, *x.shape[:2], what=f"{p}: {lkey!r}", error=DataError)
            x = np.where((np.arange(x.shape[1]) < lengths[:, None])[:, :, None], x, 0)
        x = as_finite(x, np.float32, what=f"{p}: {xkey!r}", error=DataError)  # finite after the cast
    else:
        raise DataError(
            f"{p}: {xkey!r} must be (N, T, I) floats or (N, T) integer token ids, not {x.dtype} {x.shape}"
        )
    if x.shape[0] == 0 or x.shape[1] == 0 or x.shape[2] == 0:
        raise DataError(f"{p}: {xkey!r} must hold at least one sequence of one step, not shape {x.shape}")

    # targets
    task = None
    if y is not None:
        y = check_labels(y, what=f"{p}: {ykey!r}", num_classes=num_classes, error=DataError)
        n, t = x.shape[:2]
        if y.shape == (n,):
            task = "classify"
        elif y.shape == (n, t):
            task = "next-symbol"
        else:
            raise DataError(
                f"{p}: {ykey!r} must have shape ({n},) (class labels) or ({n}, {t}) (next-symbol targets) "
                f"to match {xkey!r} {x.shape}, not {y.shape}"
            )
        if num_classes is None:
            num_classes = int(y.max()) + 1
            if task == "next-symbol" and one_hot:  # targets range over the same alphabet
                num_classes = max(num_classes, x.shape[2])
    else:
        num_classes = None
    if lengths is not None:
        lengths = check_lengths(lengths, *x.shape[:2], what=f"{p}: {lkey!r}", error=DataError)
    return Dataset(name=str(p), x=x, y=y, task=task, num_classes=num_classes, lengths=lengths)


def _read(npz, p: Path, key: str) -> np.ndarray:
    try:
        return npz[key]
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise DataError(f"{p}: array {key!r} holds Python objects (pickled); data files must hold plain arrays") from None
        raise DataError(f"{p}: array {key!r} cannot be read: {e}") from None
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise DataError(f"{p}: array {key!r} cannot be read (truncated or corrupt: {e})") from None
