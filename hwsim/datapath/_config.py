"""The arithmetic contract: one frozen, validated object read by the simulator, the packer and the RTL.

docs/datapath.md is the prose version of this module; keep the two in step. Nothing else in hwsim
defines a format, a rounding point, a code layout or a schedule constant.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import ConfigError

#: Rounding modes of a right shift by k bits (docs/datapath.md, "Requantization").
ROUNDINGS = ("floor", "half_up", "half_even", "zero")
#: Overflow modes when a value leaves a wider format for a narrower one.
OVERFLOWS = ("saturate", "wrap")
#: Activation hardware units.
ACTIVATIONS = ("lut", "pwl")
#: Weight-scale granularities the datapath takes: "auto" (the model's own), "tensor" (one shift per
#: matrix: a model with per-row scales is refused), "row" (a shift per output row, docs/datapath.md).
WEIGHT_SCALES = ("auto", "tensor", "row")
#: What the output stream carries (docs/rtl.md, "Beat order"): "steps" every step's h then the head's
#: result, "last" only the sequence's last h then the head's result, "head" only the head's result.
OUT_MODES = ("steps", "last", "head")
#: Keys of the contract that shape the AXI4-Stream ports only; at their defaults they are left out of
#: ``to_dict`` (a contract that does not name them keeps the dict it always had).
STREAM_DEFAULTS = {"in_elems": 1, "out_elems": 1, "out_mode": "steps"}
#: Where an export keeps its weights: "rom" (memory files baked in at synthesis) or "runtime"
#: (writable memories behind a load port, the files as power-on contents; docs/rtl.md "Run-time weights").
WEIGHT_STORES = ("rom", "runtime")

#: Integer code of each rounding / overflow mode / activation, as passed to the Numba kernels and
#: written into RTL parameters (ROUND_MODE, OVERFLOW_MODE, ACT_KIND).
ROUNDING_CODE = {name: i for i, name in enumerate(ROUNDINGS)}
OVERFLOW_CODE = {name: i for i, name in enumerate(OVERFLOWS)}
ACTIVATION_CODE = {name: i for i, name in enumerate(ACTIVATIONS)}

#: Widest fixed-point format; keeps every product of two formats inside 48 bits, so every
#: intermediate of the datapath fits a signed 64-bit integer with room for the sums.
MAX_FORMAT_BITS = 24
#: Widest accumulator the simulator (int64) and the contract accept.
MAX_ACC_BITS = 62
MAX_LUT_BITS = 16
MAX_WORD_BITS = 1024
#: Most lanes / row PEs a contract may ask for (far beyond any FPGA; keeps every product of counts small).
MAX_PARALLEL = 1 << 16


@dataclass(frozen=True)
class FixedFormat:
    """Signed two's complement fixed point: ``bits`` in all, ``frac`` of them after the point.

    The integer ``q`` stands for ``q * 2**-frac``; ``q`` lies in ``[-2**(bits-1), 2**(bits-1) - 1]``.
    """

    bits: int
    frac: int

    def __post_init__(self) -> None:
        for name in ("bits", "frac"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"fixed-point {name} must be an int, not {type(v).__name__}")
        if not 2 <= self.bits <= MAX_FORMAT_BITS:
            raise ConfigError(f"fixed-point width must be in [2, {MAX_FORMAT_BITS}] bits, not {self.bits}")
        if not 0 <= self.frac <= self.bits - 1:
            raise ConfigError(
                f"fraction bits must be in [0, bits-1] = [0, {self.bits - 1}], not {self.frac}"
            )

    @property
    def min_int(self) -> int:
        return -(1 << (self.bits - 1))

    @property
    def max_int(self) -> int:
        return (1 << (self.bits - 1)) - 1

    @property
    def int_bits(self) -> int:
        """Integer bits including the sign bit."""
        return self.bits - self.frac

    def __str__(self) -> str:
        return f"s{self.bits}.{self.frac}"

    def to_dict(self) -> dict[str, int]:
        return {"bits": self.bits, "frac": self.frac}


def _fmt(bits: int, frac: int) -> Any:
    return field(default_factory=lambda: FixedFormat(bits, frac))


#: The named fixed-point formats of the contract, in the order docs/datapath.md lists them.
FORMAT_NAMES = ("x", "h", "c", "pre", "act", "out")


#: Fields a layer may set for itself (``[layers.K]`` in TOML); the head may set ``HEAD_FIELDS``.
LAYER_FIELDS = ("h", "c", "pre", "act", "rounding", "overflow", "activation", "lut_bits", "sigmoid_range_log2",
                "tanh_range_log2")
HEAD_FIELDS = ("out", "rounding", "overflow")


@dataclass(frozen=True)
class Override:
    """Per-layer (or head) precision: the fields it sets replace the global ones there.

    ``index`` is the layer (None for the head). Unset fields (None) follow the global contract.
    A layer's ``h`` is also the input format of the layer above it and, for the last layer, of
    the head.
    """

    index: int | None = None
    h: FixedFormat | None = None
    c: FixedFormat | None = None
    pre: FixedFormat | None = None
    act: FixedFormat | None = None
    out: FixedFormat | None = None
    rounding: str | None = None
    overflow: str | None = None
    activation: str | None = None
    lut_bits: int | None = None
    sigmoid_range_log2: int | None = None
    tanh_range_log2: int | None = None

    def changes(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name != "index" and getattr(self, f.name) is not None}

    def to_dict(self) -> dict[str, Any]:
        return {k: v.to_dict() if isinstance(v, FixedFormat) else v for k, v in self.changes().items()}


@dataclass(frozen=True)
class DatapathConfig:
    """The datapath contract. See docs/datapath.md for what every field means.

    Formats
        x    network input (layer 0 input)
        h    hidden state (also the input of layers > 0 and of the head)
        c    LSTM cell state (more integer bits than h)
        pre  activation-unit input (pre-activations, leaving the accumulators)
        act  activation-unit output (sigmoid / tanh values, gate factors)
        out  head output (logits)
    """

    x: FixedFormat = _fmt(16, 12)
    h: FixedFormat = _fmt(16, 14)
    c: FixedFormat = _fmt(20, 14)
    pre: FixedFormat = _fmt(16, 11)
    act: FixedFormat = _fmt(16, 14)
    out: FixedFormat = _fmt(16, 11)
    rounding: str = "half_up"
    overflow: str = "saturate"
    activation: str = "lut"
    lut_bits: int = 10
    sigmoid_range_log2: int = 3  # sigmoid LUT covers [-8, 8)
    tanh_range_log2: int = 2  # tanh LUT covers [-4, 4)
    bias_int_bits: int = 5  # biases must lie in [-2**5, 2**5)
    word_bits: int = 32  # weight ROM word width: tiles narrower than this share a word
    lanes: int = 1  # columns per beat (shift-add lanes of every row PE)
    rows: int = 1  # row processing elements: output rows per beat
    pointwise_units: int = 0  # parallel pointwise units; 0: one per row PE (= rows)
    #: cycles of a pointwise product: 1 (a product register), or 2 (an operand register too, both
    #: inside the DSP block on ECP5 and iCE40 UltraPlus: a faster clock for 2 cycles a layer a step)
    mul_stages: int = 1
    weight_scales: str = "auto"  # one of WEIGHT_SCALES: per-tensor or per-row weight scales
    in_elems: int = 1  # x elements per input beat (1..I)
    out_elems: int = 1  # h / head elements per output beat
    out_mode: str = "steps"  # one of OUT_MODES: what the output stream carries
    weights: str = "rom"  # one of WEIGHT_STORES: ROMs, or memories loadable at run time
    #: Per-layer precision (docs/datapath.md, "Per-layer precision"); empty: one contract for all.
    layers: tuple[Override, ...] = ()
    head: Override | None = None

    def __post_init__(self) -> None:
        self._check_overrides()
        for name in FORMAT_NAMES:
            v = getattr(self, name)
            if not isinstance(v, FixedFormat):
                raise TypeError(f"format {name!r} must be a FixedFormat, not {type(v).__name__}")
        for name, allowed in (("rounding", ROUNDINGS), ("overflow", OVERFLOWS), ("activation", ACTIVATIONS),
                              ("weight_scales", WEIGHT_SCALES), ("out_mode", OUT_MODES), ("weights", WEIGHT_STORES)):
            v = getattr(self, name)
            if v not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {v!r}")
        for name in ("lut_bits", "sigmoid_range_log2", "tanh_range_log2", "bias_int_bits", "word_bits", "lanes",
                     "rows", "pointwise_units", "mul_stages", "in_elems", "out_elems"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"{name} must be an int, not {type(v).__name__}")
        if self.act.int_bits < 2:
            raise ConfigError(
                f"act format needs at least 2 integer bits (sign and 1.0), not {self.act.int_bits} ({self.act})"
            )
        if self.activation == "pwl":
            if self.act.frac < 5:
                raise ConfigError(f"pwl activation needs act.frac >= 5 (constants 27/32), not {self.act.frac}")
            if self.pre.frac < 3:
                raise ConfigError(f"pwl activation needs pre.frac >= 3 (breakpoint 19/8), not {self.pre.frac}")
        if not 1 <= self.lut_bits <= MAX_LUT_BITS:
            raise ConfigError(f"lut_bits must be in [1, {MAX_LUT_BITS}], not {self.lut_bits}")
        for name in ("sigmoid_range_log2", "tanh_range_log2"):
            r = getattr(self, name)
            if not 0 <= r <= 6:
                raise ConfigError(f"{name} must be in [0, 6], not {r}")
            # The LUT index is a bit slice of (x + R) in pre format: needs pre.frac + r + 1 >= lut_bits.
            if self.activation == "lut" and self.pre.frac + r + 1 < self.lut_bits:
                raise ConfigError(
                    f"lut_bits ({self.lut_bits}) must be at most pre.frac + {name} + 1 = {self.pre.frac + r + 1}"
                )
        if not 0 <= self.bias_int_bits <= 16:
            raise ConfigError(f"bias_int_bits must be in [0, 16], not {self.bias_int_bits}")
        if not 1 <= self.word_bits <= MAX_WORD_BITS:
            raise ConfigError(f"word width must be in [1, {MAX_WORD_BITS}] bits, not {self.word_bits}")
        for name in ("lanes", "rows", "in_elems", "out_elems"):
            v = getattr(self, name)
            if not 1 <= v <= MAX_PARALLEL:
                raise ConfigError(
                    f"{name} must be at least 1, not {v}" if v < 1 else f"{name} must be at most {MAX_PARALLEL}, not {v}"
                )
        if self.mul_stages not in (1, 2):
            raise ConfigError(f"mul_stages must be 1 or 2, not {self.mul_stages}")
        if self.pointwise_units < 0 or (self.pointwise_units and self.rows % self.pointwise_units):
            raise ConfigError(
                f"pointwise_units must be 0 (one per row PE) or divide rows ({self.rows}), not {self.pointwise_units}"
            )

    @property
    def pointwise(self) -> int:
        """Pointwise units of the RTL: ``pointwise_units``, or ``rows`` when that is 0."""
        return self.pointwise_units or self.rows

    def check_stream(self, input_size: int, hidden: int, classes: int | None) -> None:
        """Refuse stream knobs the model cannot meet: ``in_elems`` above ``I``, ``out_elems`` above the
        longest output job (``H`` words of h, ``C`` of the head), ``out_mode = "head"`` without a head."""
        if self.in_elems > input_size:
            raise ConfigError(f"in_elems must be in [1, I] = [1, {input_size}], not {self.in_elems}")
        if self.out_mode == "head" and not classes:
            raise ConfigError('out_mode = "head" needs a model with a head (classes), this one has none')
        words = max(classes or 0, 0 if self.out_mode == "head" else hidden)
        if self.out_elems > words:
            what = "C" if self.out_mode == "head" else ("max(H, C)" if classes else "H")
            raise ConfigError(f"out_elems must be in [1, {what}] = [1, {words}], not {self.out_elems}")

    # -- per-layer precision ------------------------------------------------------------------------
    def _check_overrides(self) -> None:
        if not isinstance(self.layers, tuple) or not all(isinstance(o, Override) for o in self.layers):
            raise TypeError("layers must be a tuple of Override")
        if self.head is not None and not isinstance(self.head, Override):
            raise TypeError(f"head must be an Override or None, not {type(self.head).__name__}")
        seen = set()
        for o in self.layers:
            if isinstance(o.index, bool) or not isinstance(o.index, int) or o.index < 0:
                raise ConfigError(f"layer override index must be an int >= 0, not {o.index!r}")
            if o.index in seen:
                raise ConfigError(f"layer override index must be unique, not {o.index} twice")
            seen.add(o.index)
            bad = sorted(set(o.changes()) - set(LAYER_FIELDS))
            if bad:
                raise ConfigError(f"layer {o.index} may set {', '.join(LAYER_FIELDS)}, not {bad[0]!r}")
        if self.head is not None:
            bad = sorted(set(self.head.changes()) - set(HEAD_FIELDS))
            if bad:
                raise ConfigError(f"head may set {', '.join(HEAD_FIELDS)}, not {bad[0]!r}")
        if self.is_global:
            return
        for o in self.layers:  # every layer's contract must hold on its own
            self.layer_config(o.index)
        if self.head is not None:
            try:
                dataclasses.replace(self, layers=(), head=None, **self.head.changes())
            except ConfigError as e:
                raise ConfigError(f"head: {e}") from None

    @property
    def is_global(self) -> bool:
        """True when no layer and not the head overrides the contract."""
        return not self.layers and self.head is None

    def layer_config(self, k: int) -> "DatapathConfig":
        """The contract layer ``k`` works in: the global one with that layer's overrides applied."""
        base = dataclasses.replace(self, layers=(), head=None) if not self.is_global else self
        for o in self.layers:
            if o.index == k:
                try:
                    return dataclasses.replace(base, **o.changes())
                except ConfigError as e:
                    raise ConfigError(f"layer {k}: {e}") from None
        return base

    def head_config(self, num_layers: int) -> "DatapathConfig":
        """The contract of the head: the last layer's (its ``h`` is the head's input) with the head's
        overrides applied."""
        base = self.layer_config(num_layers - 1)
        if self.head is None:
            return base
        try:
            return dataclasses.replace(base, **self.head.changes())
        except ConfigError as e:
            raise ConfigError(f"head: {e}") from None

    def check_layers(self, num_layers: int) -> None:
        """Refuse overrides of layers the model does not have."""
        for o in self.layers:
            if o.index >= num_layers:
                raise ConfigError(f"layer override index must be below the model's {num_layers} layer(s), not {o.index}")

    # -- (de)serialization --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name == "layers":
                if v:  # a global contract's dict stays as it always was
                    d["layers"] = {str(o.index): o.to_dict() for o in sorted(v, key=lambda o: o.index)}
            elif f.name == "head":
                if v is not None:
                    d["head"] = v.to_dict()
            elif f.name in ("weight_scales", "weights"):
                if v != f.default:  # likewise: the dict of a contract that does not name it is unchanged
                    d[f.name] = v
            elif f.name in STREAM_DEFAULTS:
                if v != STREAM_DEFAULTS[f.name]:  # and of one that keeps one element a beat, every step's h
                    d[f.name] = v
            else:
                d[f.name] = v.to_dict() if isinstance(v, FixedFormat) else v
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "config") -> "DatapathConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown key {unknown[0]!r}; known keys: {', '.join(sorted(known))}")
        from .._validate import validate
        from ._records import ContractRecord

        # types first (the schema), then the contract's own rules, each error naming the file; the
        # per-layer and head tables go through the same schema in _override
        plain = {k: v for k, v in d.items() if k not in ("layers", "head")}
        rec = validate(ContractRecord, plain, source=source, error=ConfigError)
        kw: dict[str, Any] = {}
        if "layers" in d:
            if not isinstance(d["layers"], dict):
                raise ConfigError(f"{source}: layers must be a table of layer index -> overrides, not {d['layers']!r}")
            kw["layers"] = tuple(_override(val, k, source) for k, val in d["layers"].items())
        if "head" in d:
            kw["head"] = _override(d["head"], None, source)
        try:
            for name in plain:
                v = getattr(rec, name)
                kw[name] = FixedFormat(v.bits, v.frac) if name in FORMAT_NAMES else v
            return cls(**kw)
        except (TypeError, ConfigError) as e:
            raise ConfigError(f"{source}: {e}") from None

    @classmethod
    def from_toml(cls, path: str | Path) -> "DatapathConfig":
        """Read a contract from TOML: top-level keys are the field names (formats as tables)."""
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file must exist, not found: {p}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"config file must be valid TOML: {p}: {e}") from None
        return cls.from_dict(data, source=str(p))

    def replace(self, **changes: Any) -> "DatapathConfig":
        """A validated copy with some fields changed (e.g. ``lanes`` from the CLI)."""
        return dataclasses.replace(self, **changes)


def _override(d: Any, key: str | None, source: str) -> Override:
    """An ``Override`` from its TOML table (``[layers.K]`` when ``key`` is K, ``[head]`` when None)."""
    where = "head" if key is None else f"layers.{key}"
    if not isinstance(d, dict):
        raise ConfigError(f"{source}: [{where}] must be a table, not {d!r}")
    index = None
    if key is not None:
        if not (isinstance(key, str) and key.isdigit()) and not isinstance(key, int):
            raise ConfigError(f"{source}: layer override keys must be layer indices (0, 1, ...), not {key!r}")
        index = int(key)
    allowed = HEAD_FIELDS if key is None else LAYER_FIELDS
    bad = sorted(set(d) - set(allowed))
    if bad:
        raise ConfigError(f"{source}: [{where}] may set {', '.join(allowed)}, not {bad[0]!r}")
    from .._validate import validate
    from ._records import ContractRecord

    rec = validate(ContractRecord, d, source=f"{source}: [{where}]", error=ConfigError)
    kw = {n: FixedFormat(getattr(rec, n).bits, getattr(rec, n).frac) if n in FORMAT_NAMES else getattr(rec, n) for n in d}
    try:
        return Override(index=index, **kw)
    except TypeError as e:
        raise ConfigError(f"{source}: [{where}]: {e}") from None


DEFAULT_CONFIG = DatapathConfig()
