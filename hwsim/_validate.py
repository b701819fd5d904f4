"""The one validation layer for external inputs: model metadata, data files, TOML, manifests.

Everything hwsim reads from a file passes through here before any arithmetic touches it:

- JSON/TOML records are checked against declared schemas (pydantic v2 in strict mode: ``16``
  is an int, ``"16"``, ``16.0`` and ``true`` are not; floats must be finite; every number has a
  range). A failure becomes the caller's domain error with one line naming the key, what must
  hold and what was given.
- ``.npz`` archives have every member's ``.npy`` header read and checked against the member's
  size and an element limit before NumPy allocates anything (a 236-byte file cannot declare a
  terabyte array).
- Labels are checked as integers in range whatever their dtype (a uint64 label >= 2**63 does not
  wrap to -1), and float inputs are checked finite after the cast to the working dtype (a float64
  1e39 is finite, its float32 is not).

Why pydantic: the schemas read as declarations (types, ranges, literals), strict mode refuses
the silent coercions (``"16"`` -> 16, ``true`` -> 1) that caused the tracebacks, and its error
records carry the location and the offending input, which is all a one-line message needs.
The domain objects (``DatapathConfig``, ``QuantSpec``) keep their own rules; the schemas only
guarantee that what reaches them has the right shape and type.
"""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path
from typing import Annotated, Any, Type, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from ._errors import HwsimError

E = TypeVar("E", bound=HwsimError)

#: Most elements one array of a data or model file may declare (2**28: 1 GiB of float32).
MAX_ELEMENTS = 1 << 28
#: Most bytes one ``.npy`` header may take (NumPy's own default limit).
MAX_HEADER_BYTES = 10_000
#: Most classes / symbols a label may range over.
MAX_CLASSES = 1 << 24
#: Scales (log2) a quantized tensor may carry: the float32 exponent range, where the weights live.
SCALE_RANGE = (-126, 127)
Scale = Annotated[StrictInt, Field(ge=SCALE_RANGE[0], le=SCALE_RANGE[1])]

# -- one-line messages from pydantic's error records ------------------------------------------------


def _where(loc: tuple) -> str:
    parts = [str(p) for p in loc if not str(p).startswith(("function-", "tagged-union"))]
    # pydantic names the branch of a union it tried ("list[...]", "FormatTable"): drop those
    parts = [p for p in parts if not (p[:1].isupper() or "[" in p)]
    return ".".join(parts) or "the record"


def one_line(err: ValidationError) -> str:
    """``KEY must be WHAT, not GIVEN`` for the first error pydantic found."""
    e = err.errors(include_url=False)[0]
    where, msg = _where(tuple(e["loc"])), e["msg"]
    if e["type"] == "missing":
        return f"{where} must be given (missing)"
    if e["type"] == "extra_forbidden":
        return f"{where} must not be there (unknown key)"
    msg = re.sub(r"^(Input|List|Value|String|Dictionary|Tuple) should", "must", msg).replace("Value error, ", "")
    msg = re.sub(r" after validation, not \d+", "", msg)
    msg = re.sub(r" or instance of \w+", "", msg)
    if not msg.startswith("must"):
        msg = f"must hold: {msg}"
    given = e.get("input")
    text = repr(given)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{where} {msg}, not {text}"


def validate(schema: Type[BaseModel], data: Any, *, source: str, error: Type[E]) -> BaseModel:
    """``schema.model_validate(data)`` with any failure raised as ``error("source: ...")``."""
    try:
        return schema.model_validate(data, strict=True)
    except ValidationError as e:
        raise error(f"{source}: {one_line(e)}") from None


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Open(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


Int64 = Annotated[StrictInt, Field(ge=-(1 << 63), le=(1 << 63) - 1)]
Count = Annotated[StrictInt, Field(ge=0, le=(1 << 31) - 1)]
Small = Annotated[StrictInt, Field(ge=-(1 << 16), le=1 << 16)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=256)]

# -- .npz archives: headers before allocation ---------------------------------------------------------


def check_npz(path: Path, *, error: Type[E], max_elements: int = MAX_ELEMENTS) -> None:
    """Read every ``.npy`` header of the archive at ``path`` and refuse, before anything is allocated,
    an array whose declared size disagrees with its member's size or exceeds ``max_elements``."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise error(f"{path}: must be a readable .npz archive (truncated or corrupt: {e})") from None
    with zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue  # the loaders name foreign members themselves
            name = info.filename[:-4]
            try:
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=MAX_HEADER_BYTES)
                    else:
                        shape, _, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=MAX_HEADER_BYTES)
                    header = f.tell()
            except (ValueError, OSError, EOFError, zipfile.BadZipFile, SyntaxError) as e:
                first = str(e).splitlines()[0] if str(e) else type(e).__name__
                raise error(f"{path}: array {name!r} must have a valid .npy header ({first})") from None
            if dtype.hasobject:
                continue  # a pickle: the loaders refuse it with allow_pickle=False, unread
            count = math.prod(int(n) for n in shape)
            if count > max_elements:
                raise error(f"{path}: array {name!r} must have at most {max_elements} elements, not {count} {tuple(shape)}")
            want = count * dtype.itemsize
            if info.file_size - header != want:
                raise error(
                    f"{path}: array {name!r} declares {tuple(shape)} {dtype} ({want} bytes) but its member holds "
                    f"{info.file_size - header} bytes; the header must match the data"
                )


# -- labels and inputs -------------------------------------------------------------------------------


def check_labels(y: np.ndarray, *, what: str, num_classes: int | None, error: Type[E]) -> np.ndarray:
    """Integer labels in ``[0, num_classes)`` (or ``[0, MAX_CLASSES)``), as int64, whatever their dtype."""
    if y.dtype.kind not in "iu":
        raise error(f"{what} must hold integer labels, not {y.dtype}")
    if y.size == 0:
        return y.astype(np.int64)
    lo, hi = int(y.min()), int(y.max())  # Python ints: a uint64 above 2**63 stays what it is
    if lo < 0:
        raise error(f"{what} labels must be >= 0, not {lo}")
    limit = MAX_CLASSES if num_classes is None else num_classes
    if hi >= limit:
        name = f"num_classes = {num_classes}" if num_classes is not None else f"{MAX_CLASSES}"
        raise error(f"{what} labels must be < {name}, not {hi}")
    return y.astype(np.int64)


def check_count(v: np.ndarray, *, what: str, lo: int = 1, hi: int = MAX_CLASSES, error: Type[E]) -> int:
    """A 0-d integer array (``num_classes`` in a data file) in ``[lo, hi]``."""
    if v.ndim != 0 or v.dtype.kind not in "iu":
        raise error(f"{what} must be one integer, not {v.dtype} {v.shape}")
    n = int(v[()])
    if not lo <= n <= hi:
        raise error(f"{what} must be in [{lo}, {hi}], not {n}")
    return n


def check_lengths(lengths, n: int, t: int, *, what: str, error: Type[E]) -> np.ndarray:
    """Steps per sequence of a padded (N, T) batch (docs/datapath.md, "Variable-length sequences"):
    int64 (N,), each in ``[1, T]``."""
    arr = np.asarray(lengths)
    if arr.dtype.kind not in "iu" or arr.shape != (n,):
        raise error(f"{what} must hold one integer per sequence, shape ({n},), not {arr.dtype} {arr.shape}")
    if n and (int(arr.min()) < 1 or int(arr.max()) > t):
        bad = int(np.flatnonzero((arr < 1) | (arr > t))[0])
        raise error(f"{what} must lie in [1, {t}] (the steps of x), not {int(arr[bad])} (sequence {bad})")
    return arr.astype(np.int64)


def as_finite(x: np.ndarray, dtype, *, what: str, error: Type[E]) -> np.ndarray:
    """``x`` cast to ``dtype``, refused when any value is NaN/Inf *after* the cast."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = x.astype(dtype)
    bad = int(np.count_nonzero(~np.isfinite(out)))
    if bad:
        raise error(f"{what} holds {bad} NaN/Inf values as {np.dtype(dtype)}; inputs must be finite")
    return out


def targets_fit(num_classes: int | None, dataset, *, error: Type[E]) -> None:
    """The data set's targets must name classes the model has, or (regression) hold as many values as it outputs."""
    y = dataset.y
    if num_classes is not None and y is not None and y.dtype.kind == "f":
        if y.shape[-1] != num_classes:
            raise error(f"{dataset.name}: regression targets must hold the model's {num_classes} outputs per "
                        f"{'step' if y.ndim == 3 else 'sequence'}, not {y.shape[-1]}")
    elif num_classes is not None and y is not None and y.size and int(y.max()) >= num_classes:
        raise error(f"{dataset.name}: targets must be below the model's {num_classes} classes, not up to {int(y.max())}")

