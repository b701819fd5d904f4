"""Data sets: sequences for inference and checks, from an ``.npz`` file or a built-in name.

A data set is N sequences of T steps of I features (float32), with optional targets: integer
(N,) class labels ("classify": the head reads the last step) or (N, T) next-symbol targets
("next-symbol"), or float regression targets, one value or a vector per sequence ((N,) or (N, D):
"regress", the head reads the last step) or per step ((N, T, D): "regress-steps", the head reads
every step). Files may hold token ids (N, T) instead of features; they are one-hot encoded over
``input_size`` symbols.

A file holds either one set (``x``, ``y``) or its parts as per-split arrays (``x_train``,
``y_train``, ``x_valid``, ``y_valid``, ``x_test``, ``y_test``), never both. Only a file with
parts has a split to choose; ``hwsim train`` carves a file of one set with ``holdout``, so that
no metric is measured on sequences the model trained on.

Built-in data sets live in ``BUILTINS`` as ``"module:function"`` strings, imported only when used,
each a ``load(split) -> Dataset``.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._errors import DataError
from .._repr import short_repr

SPLITS = ("train", "valid", "test", "all")
#: The parts a data file may hold as ``x_<part>`` / ``y_<part>``, in the order "all" joins them.
PARTS = ("train", "valid", "test")
#: The split read when none is named: a built-in set's test part, or a file's ``x_test``.
DEFAULT_SPLIT = "test"
TASKS = ("classify", "next-symbol", "regress", "regress-steps")
#: Tasks whose targets are float values (the metric is the mean squared error) and those whose head
#: reads every step.
REGRESSION_TASKS = ("regress", "regress-steps")
PER_STEP_TASKS = ("next-symbol", "regress-steps")

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
        None, int64 (N,) class labels, int64 (N, T) next-symbol targets, or float32 regression
        targets (N, D) ("regress") or (N, T, D) ("regress-steps").
    task
        One of ``TASKS``, or None when there are no targets.
    num_classes
        Number of classes / symbols the targets range over, or the D values of a regression
        target (the model's outputs); None without targets.
    split
        The part of the data these sequences are ("train", "valid", "test", "all"), or None for
        the whole of a file that holds one set.
    lengths
        None (every sequence has T steps) or int64 (N,) in [1, T]: sequence n stops at step
        ``lengths[n] - 1`` and the rest of ``x[n]`` is padding (docs/datapath.md, "Variable-length
        sequences"). Classification data (or no targets) only.
    """

    __repr__ = short_repr

    name: str
    x: np.ndarray
    y: np.ndarray | None = None
    task: str | None = None
    num_classes: int | None = None
    split: str | None = None
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
            want = {"classify": self.x.shape[:1], "next-symbol": self.x.shape[:2],
                    "regress": (self.x.shape[0], self.num_classes),
                    "regress-steps": (*self.x.shape[:2], self.num_classes)}[self.task]
            dtype = np.float32 if self.task in REGRESSION_TASKS else np.int64
            if self.y.dtype != dtype or self.y.shape != want:
                raise DataError(f"{self.name}: {self.task} targets y must be {np.dtype(dtype)} {want}, "
                                f"not {self.y.dtype} {self.y.shape}")
        if self.lengths is not None:
            from .._validate import check_lengths

            check_lengths(self.lengths, *self.x.shape[:2], what=f"{self.name}: lengths", error=DataError)
            if self.task not in (None, "classify"):
                raise DataError(f"{self.name}: lengths go with class labels y (N,), not with {self.task} targets")

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def steps(self) -> int:
        return self.x.shape[1]

    @property
    def input_size(self) -> int:
        return self.x.shape[2]

    @property
    def label(self) -> str:
        """Where the sequences come from, split included: ``digits:test``, ``d.npz (whole file)``."""
        return self.name if self.split is not None else f"{self.name} (whole file)"

    def head(self, n: int) -> "Dataset":
        """The first ``n`` sequences (all when there are fewer)."""
        return self.subset(np.arange(min(n, len(self))))

    def subset(self, idx: np.ndarray, *, name: str | None = None) -> "Dataset":
        """The sequences at ``idx``, in that order (``name`` renames the result)."""
        return Dataset(self.name if name is None else name, self.x[idx], None if self.y is None else self.y[idx],
                       self.task, self.num_classes, self.split,
                       None if self.lengths is None else self.lengths[idx])


def load_data(spec: str | os.PathLike, *, split: str | None = None, input_size: int | None = None) -> Dataset:
    """Load a data set from an ``.npz`` file or by built-in name (``BUILTINS``).

    Parameters
    ----------
    spec
        A path to an ``.npz`` holding ``x`` and optionally ``y`` (one set), or per-split arrays
        ``x_train`` / ``y_train``, ``x_valid`` / ``y_valid``, ``x_test`` / ``y_test``; or a
        built-in name such as ``"digits"``.
    split
        "train", "valid", "test" or "all" (every part, joined); None: the test part of a built-in
        set or of a file with per-split arrays, the whole of a file that holds one set. A file
        that holds one set has no parts to choose: naming one is an error, never ignored.
    input_size
        Alphabet size for files holding (N, T) integer token ids, which are one-hot encoded;
        usually the model's input size.
    """
    if split is not None and split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    p = Path(spec)
    if p.is_file():
        return _load_npz(p, split, input_size)
    name = str(spec)
    if name in BUILTINS:
        return _load_builtin(name, DEFAULT_SPLIT if split is None else split)
    if p.is_dir():
        raise DataError(f"data must be an .npz file or a built-in name, not a directory: {p}")
    if p.suffix or os.sep in name or "/" in name:
        raise DataError(f"data file must exist, not found: {p}")
    raise DataError(
        f"unknown data set {name!r}: not a file and not a built-in ({', '.join(BUILTINS)})"
    )


def file_parts(path: str | os.PathLike) -> tuple[str, ...]:
    """The parts (``PARTS``) an ``.npz`` data file holds as ``x_<part>`` arrays; () for one set.

    Reads only the archive's directory; a file that is not a zip archive has none (``load_data``
    says what is wrong with it).
    """
    try:
        with zipfile.ZipFile(path) as z:
            names = {n[:-4] if n.endswith(".npy") else n for n in z.namelist()}
    except (zipfile.BadZipFile, OSError):
        return ()
    return tuple(part for part in PARTS if f"x_{part}" in names)


def resolve_split(spec: str | os.PathLike, split: str | None) -> str | None:
    """The split ``load_data(spec, split=split)`` reads: None for the whole of a one-set file.

    Raises DataError where ``load_data`` would refuse the split (a part named for a file of one set,
    a part the file lacks), before anything is loaded.
    """
    if split is not None and split not in SPLITS:
        raise DataError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    p = Path(spec)
    if not p.is_file():
        return DEFAULT_SPLIT if split is None else split
    parts = file_parts(p)
    if not parts:
        if split not in (None, "all"):
            raise DataError(
                f"{p} holds one set ('x'), not per-split arrays (x_train, x_valid, x_test): split {split!r} "
                "cannot be chosen; leave the split out to use the whole file, or store its parts as x_<split>, y_<split>"
            )
        return None
    split = DEFAULT_SPLIT if split is None else split
    if split != "all" and split not in parts:
        raise DataError(f"{p} has no {split!r} split: it holds x_{', x_'.join(parts)}")
    return split


def holdout(ds: Dataset, *, valid_fraction: float, test_fraction: float, seed: int) -> tuple[Dataset, Dataset, Dataset]:
    """(train, valid, test): a seeded holdout of one set, stratified by class for class labels.

    Each class (each sequence, for per-step targets, is one group) gives ``round(fraction * n)`` of
    its n sequences to test and to valid, at least one each when it has 3 or more (2: one to
    test), and keeps at least one for training; so every class is trained on, and tested on
    wherever it has two sequences. The three parts are disjoint and their union is ``ds``; each
    keeps the file's order. Drawn with ``numpy.random.default_rng(seed)``, class by class in label
    order, so the split depends on the data, the fractions and the seed alone.
    """
    if not (0 < valid_fraction and 0 < test_fraction and valid_fraction + test_fraction < 1):
        raise DataError(f"holdout fractions must be > 0 with valid + test < 1, not valid {valid_fraction!r}, test {test_fraction!r}")
    rng = np.random.default_rng(seed)
    groups = ([np.flatnonzero(ds.y == c) for c in np.unique(ds.y)] if ds.task == "classify"
              else [np.arange(len(ds))])
    part = np.zeros(len(ds), np.int8)  # 0 train, 1 valid, 2 test
    for idx in groups:
        n = len(idx)
        n_test = max(int(round(test_fraction * n)), 1 if n >= 2 else 0)
        n_valid = max(int(round(valid_fraction * n)), 1 if n >= 3 else 0)
        n_test = min(n_test, n - 1)
        n_valid = min(n_valid, n - 1 - n_test)
        perm = rng.permutation(idx)
        part[perm[:n_test]] = 2
        part[perm[n_test : n_test + n_valid]] = 1
    counts = np.bincount(part, minlength=3)
    if counts[1] == 0 or counts[2] == 0:
        raise DataError(
            f"{ds.name}: {len(ds)} sequences are too few to hold out a validation and a test set "
            f"(fractions {valid_fraction:g} and {test_fraction:g}); store the parts as x_train, x_valid, x_test"
        )
    return tuple(
        dataclasses.replace(ds.subset(np.flatnonzero(part == k), name=f"{ds.name}:{s} (holdout)"), split=s)
        for k, s in enumerate(PARTS)
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


def _sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 8, 8) float64, target (1797,)) as ``sklearn.datasets.load_digits`` gives them,
    read from scikit-learn's own ``digits.csv.gz`` without importing scikit-learn (0.7 s of
    imports against 0.02 s of reading: every worker of a sweep and every ``hwsim check`` pays it);
    where the file is not where it is expected, scikit-learn's loader reads it."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")  # locates the package without running it
    f = None if spec is None or spec.origin is None else Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    if f is not None and f.is_file():
        import gzip

        with gzip.open(f, "rt") as fh:
            data = np.loadtxt(fh, delimiter=",")
        return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int)
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    return d.images, d.target


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
    images, target = _sklearn_digits()
    x = (images / 16.0).astype(np.float32)  # (1797, 8, 8): rows are time steps
    y = target.astype(np.int64)
    if split != "all":
        rng = np.random.default_rng(DIGITS_SEED)
        test = np.zeros(len(y), bool)
        for c in range(10):
            idx = np.flatnonzero(y == c)
            test[rng.permutation(idx)[: int(round(DIGITS_TEST_SHARE * len(idx)))]] = True
        keep = test if split == "test" else ~test
        x, y = x[keep], y[keep]
    return Dataset(name=f"digits:{split}", x=x, y=y, task="classify", num_classes=10, split=split)


def _load_npz(p: Path, split: str | None, input_size: int | None) -> Dataset:
    if zipfile.is_zipfile(p):
        split = resolve_split(p, split)
    if split == "all":
        parts = [_load_part(p, s, input_size) for s in file_parts(p)]
        return _join(p, parts) if parts else _load_part(p, None, input_size)
    return _load_part(p, split, input_size)


def _join(p: Path, parts: list[Dataset]) -> Dataset:
    """The parts of a file as one set ("all")."""
    tasks = {d.task for d in parts}
    shapes = {(d.x.shape[1:], None if d.y is None else d.y.shape[1:]) for d in parts}
    if len(tasks) > 1 or len(shapes) > 1:
        raise DataError(f"{p}: its parts must hold the same kind of sequences and targets to be joined, not "
                        + ", ".join(f"{d.split} {d.x.shape} {d.task}" for d in parts))
    y = None if parts[0].y is None else np.concatenate([d.y for d in parts])
    if y is not None and any(d.y is None for d in parts):
        raise DataError(f"{p}: either every part has targets y_<split> or none does")
    num_classes = None if y is None else max(d.num_classes for d in parts)
    lengths = None
    if any(d.lengths is not None for d in parts):  # a part without lengths runs every step
        lengths = np.concatenate([np.full(len(d), d.steps, np.int64) if d.lengths is None else d.lengths for d in parts])
    return Dataset(f"{p}:all", np.concatenate([d.x for d in parts]), y, parts[0].task, num_classes, "all", lengths)


def _load_part(p: Path, split: str | None, input_size: int | None) -> Dataset:
    """One part of the file (``x_<split>``), or its one set (``x``) when ``split`` is None."""
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
        xkey = "x" if split is None else f"x_{split}"
        if xkey not in files:
            raise DataError(f"{p}: data file must hold an array 'x' (found {', '.join(sorted(files)) or 'nothing'})")
        if split is not None and "x" in files:
            raise DataError(f"{p}: data file must hold either one set 'x' or per-split arrays x_<split>, not both")
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
    if y is not None and y.dtype.kind == "f":
        y, task = _regression_targets(p, ykey, y, xkey, x.shape)
        num_classes = y.shape[-1]
    elif y is not None:
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
    name = str(p) if split is None else f"{p}:{split}"
    return Dataset(name=name, x=x, y=y, task=task, num_classes=num_classes, split=split, lengths=lengths)


def _regression_targets(p: Path, ykey: str, y: np.ndarray, xkey: str, xshape: tuple) -> tuple[np.ndarray, str]:
    """Float targets as float32 (N, D) ("regress") or (N, T, D) ("regress-steps"); finite, shaped to x."""
    n, t = xshape[:2]
    if y.ndim == 1 and y.shape[0] == n:
        y, task = y[:, None], "regress"
    elif y.ndim == 2 and y.shape[0] == n and y.shape[1] > 0:
        task = "regress"
    elif y.ndim == 3 and y.shape[:2] == (n, t) and y.shape[2] > 0:
        task = "regress-steps"
    else:
        raise DataError(
            f"{p}: {ykey!r} float targets must have shape ({n},) or ({n}, D) (a value or a vector per sequence) "
            f"or ({n}, {t}, D) (per step) to match {xkey!r} {xshape}, not {y.shape}"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        y = y.astype(np.float32)
    bad = int(np.count_nonzero(~np.isfinite(y)))
    if bad:
        raise DataError(f"{p}: {ykey!r} holds {bad} NaN/Inf values as float32; regression targets must be finite")
    return y, task


def _read(npz, p: Path, key: str) -> np.ndarray:
    try:
        return npz[key]
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise DataError(f"{p}: array {key!r} holds Python objects (pickled); data files must hold plain arrays") from None
        raise DataError(f"{p}: array {key!r} cannot be read: {e}") from None
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise DataError(f"{p}: array {key!r} cannot be read (truncated or corrupt: {e})") from None
