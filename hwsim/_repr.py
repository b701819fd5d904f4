"""Short reprs for the result and model dataclasses: shapes instead of arrays, sizes instead of dicts.

A dataclass's generated repr prints every array and nested dict in full (an ``ExportResult`` printed
its whole manifest); ``short_repr`` keeps one line a person can read in a REPL.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np


def _value(v, depth: int) -> str:
    if isinstance(v, np.ndarray):
        return f"<{v.dtype} {'x'.join(map(str, v.shape)) or 'scalar'}>"
    if isinstance(v, Path):
        return repr(str(v))
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return short_repr(v, depth + 1) if depth < 1 else f"{type(v).__name__}(...)"
    if isinstance(v, dict):
        return repr(v) if len(v) <= 3 and len(repr(v)) <= 60 else f"{{...{len(v)} keys}}"
    if isinstance(v, (list, tuple)):
        if len(v) <= 3 and len(repr(v)) <= 60:
            return repr(v)
        inner = _value(v[0], depth)
        body = f"{inner}," if len(v) == 1 else f"{len(v)} items: {inner}, ..."
        return f"[{body}]" if isinstance(v, list) else f"({body})"
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def short_repr(obj, depth: int = 0) -> str:
    """``Name(field=value, ...)`` with arrays as ``<dtype shape>`` and long containers as their size."""
    parts = [f"{f.name}={_value(getattr(obj, f.name), depth)}" for f in dataclasses.fields(obj) if f.repr]
    return f"{type(obj).__name__}({', '.join(parts)})"
