"""The sweep grid: a TOML file of axes whose product is the list of design points.

```toml
[axes]
method = ["given", "pow2-ternary", "exp:3"]  # "given": the checkpoint's own codes; else METHOD[:BITS]
bits = [8, 12, 16]                           # width budgets (the width advisor sets each format's point)
# formats = [{h = [12, 10]}, {}]             # or explicit format overrides on the base contract
activation = ["lut", "pwl"]                  # any scalar DatapathConfig field is an axis (lanes, ...)
lanes = [1, 2]
target = ["ice40"]                           # yosys family; no target axis: no synthesis

[config]                                     # the base contract (same keys as --config)
lut_bits = 10
```
"""

from __future__ import annotations

import dataclasses
import itertools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..datapath._config import FORMAT_NAMES, DatapathConfig
from .._errors import ConfigError
from ..model._model import METHODS

#: Axes that are not DatapathConfig fields.
SPECIAL_AXES = ("method", "bits", "formats", "target")


@dataclass(frozen=True)
class Point:
    """One design point: model file index, method, width (budget or format overrides), config
    field values and synthesis target (None: no synthesis)."""

    model: int
    method: str
    bits: int | None
    formats: tuple[tuple[str, tuple[int, int]], ...]
    fields: tuple[tuple[str, Any], ...]
    target: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "method": self.method,
            "bits": self.bits,
            "formats": {k: list(v) for k, v in self.formats},
            **dict(self.fields),
            "target": self.target,
        }


@dataclass(frozen=True)
class Grid:
    base: DatapathConfig
    axes: dict[str, list[Any]]

    def points(self, n_models: int) -> list[Point]:
        """The product of the axes, models outermost, in the file's axis order."""
        field_axes = [(k, v) for k, v in self.axes.items() if k not in SPECIAL_AXES]
        methods = self.axes.get("method", ["given"])
        widths: list[tuple[int | None, tuple]] = [(b, ()) for b in self.axes.get("bits", [])]
        widths += [(None, f) for f in self.axes.get("formats", [])]
        widths = widths or [(None, ())]
        targets = self.axes.get("target", [None])
        out = []
        for mi, method, (bits, fmts), *rest in itertools.product(
            range(n_models), methods, widths, *[v for _, v in field_axes], targets
        ):
            fields, target = rest[:-1], rest[-1]
            out.append(Point(mi, method, bits, fmts, tuple(zip((k for k, _ in field_axes), fields)), target))
        return out


def _check_method(m: Any, source: str) -> str:
    if not isinstance(m, str):
        raise ConfigError(f"{source}: method must be a string, not {m!r}")
    name, _, bits = m.partition(":")
    if name != "given" and name not in METHODS:
        raise ConfigError(f"{source}: method must be given or one of {', '.join(METHODS)} (optionally :BITS), not {m!r}")
    if bits and not bits.isdigit():
        raise ConfigError(f"{source}: method code width must be an integer, not {m!r}")
    if name == "given" and bits:
        raise ConfigError(f"{source}: method given takes no code width, not {m!r}")
    return m


def parse_grid(data: dict[str, Any], *, source: str = "grid") -> Grid:
    """Validate a grid dict (the parsed TOML) and return the Grid; every point's config is built
    once here so that a bad axis value is refused before any work starts."""
    from ..export._synth import TARGETS

    unknown = sorted(set(data) - {"axes", "config"})
    if unknown:
        raise ConfigError(f"{source}: top-level keys must be axes and config, not {unknown[0]!r}")
    base = DatapathConfig.from_dict(data.get("config", {}), source=f"{source} [config]")
    raw = data.get("axes")
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{source}: needs an [axes] table with at least one axis")
    fields = {f.name for f in dataclasses.fields(DatapathConfig)} - set(FORMAT_NAMES)
    axes: dict[str, list[Any]] = {}
    for name, values in raw.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{source}: axis {name!r} must be a non-empty list, not {values!r}")
        if name == "method":
            values = [_check_method(m, source) for m in values]
        elif name == "bits":
            for b in values:
                if isinstance(b, bool) or not isinstance(b, int):
                    raise ConfigError(f"{source}: bits must be integers, not {b!r}")
        elif name == "formats":
            norm = []
            for f in values:
                if not isinstance(f, dict) or set(f) - set(FORMAT_NAMES):
                    raise ConfigError(f"{source}: formats entries must be tables of {', '.join(FORMAT_NAMES)}, not {f!r}")
                cfg = DatapathConfig.from_dict({**base.to_dict(), **f}, source=f"{source} formats")
                norm.append(tuple((k, (getattr(cfg, k).bits, getattr(cfg, k).frac)) for k in sorted(f)))
            values = norm
        elif name == "target":
            bad = [t for t in values if t not in TARGETS]
            if bad:
                raise ConfigError(f"{source}: target must be one of {', '.join(TARGETS)}, not {bad[0]!r}")
        elif name in fields:
            for v in values:
                DatapathConfig.from_dict({**base.to_dict(), name: v}, source=f"{source} axis {name}")
        else:
            raise ConfigError(
                f"{source}: axis must be one of {', '.join(SPECIAL_AXES)} or a contract field "
                f"({', '.join(sorted(fields))}), not {name!r}"
            )
        axes[name] = list(values)
    if "bits" in axes and "formats" in axes:
        raise ConfigError(f"{source}: give the width axis as bits or as formats, not both")
    return Grid(base, axes)


def load_grid(path: str | Path) -> Grid:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"grid file must exist, not found: {p}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"grid file must be valid TOML: {p}: {e}") from None
    return parse_grid(data, source=str(p))
