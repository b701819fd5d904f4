"""Lowering: a quantized model plus the contract -> the integer datapath plan.

The plan is what the simulator runs, what the packer writes into ROMs and what the RTL parameters
are made from: integer multipliers per accumulation, shifts, accumulator fraction bits and widths,
biases in accumulator format, and activation tables. docs/datapath.md explains every number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._activation import lut_table
from ..model._codes import WeightCodec
from ._config import MAX_ACC_BITS, DatapathConfig, FixedFormat
from .._errors import ConfigError, QuantError
from ..model._model import RNNModel
from .._repr import short_repr

#: Accumulations of one layer, in schedule / ROM order, and which gate rows of PyTorch's stacked
#: matrices each one reads: (name, gate index, uses input columns, uses recurrent columns).
ACCUMS = {
    "rnn_tanh": (("a", 0, True, True),),
    "rnn_relu": (("a", 0, True, True),),
    "gru": (("r", 0, True, True), ("z", 1, True, True), ("n_x", 2, True, False), ("n_h", 2, False, True)),
    "lstm": (("i", 0, True, True), ("f", 1, True, True), ("g", 2, True, True), ("o", 3, True, True)),
}


@dataclass(frozen=True, eq=False)
class Accum:
    """One accumulation: for every row, bias + sum over [input cols | recurrent cols] of m * v << shift."""

    __repr__ = short_repr

    name: str
    m: np.ndarray  # (rows, n_in + n_rec) int64 multipliers
    n_in: int  # leading columns read the layer input (x, or h of the layer below)
    n_rec: int  # trailing columns read this layer's own h (previous step)
    bias: np.ndarray  # (rows,) int64 in accumulator format (row j: acc_frac + row_shift[j] fraction bits)
    #: (rows,) int64 >= 0: row j's accumulator has acc_frac + row_shift[j] fraction bits (per-row weight
    #: scales, docs/datapath.md); its requantization shifts that much further. None: all 0.
    row_shift: np.ndarray | None = None

    def shifts(self) -> np.ndarray:
        """``row_shift``, zeros when there is none."""
        return np.zeros(self.rows, np.int64) if self.row_shift is None else self.row_shift

    @property
    def rows(self) -> int:
        return self.m.shape[0]

    @property
    def cols(self) -> int:
        return self.n_in + self.n_rec


@dataclass(frozen=True, eq=False)
class LayerPlan:
    __repr__ = short_repr

    index: int
    in_fmt: FixedFormat  # format of the layer input (cfg.x for layer 0, else cfg.h)
    s_in: int  # log2 scale of weight_ih
    s_rec: int  # log2 scale of weight_hh
    acc_frac: int  # accumulator fraction bits
    shift_in: int  # left shift of m * input (acc_frac - in_fmt.frac + s_in >= 0)
    shift_rec: int  # left shift of m * h (acc_frac - h.frac + s_rec >= 0)
    acc_bits: int  # accumulator width that provably cannot overflow (docs/datapath.md)
    accums: tuple[Accum, ...]


@dataclass(frozen=True, eq=False)
class HeadPlan:
    __repr__ = short_repr

    s: int
    acc_frac: int
    shift: int  # left shift of m * h
    acc_bits: int
    m: np.ndarray  # (C, H) int64
    bias: np.ndarray  # (C,) int64 in accumulator format (row j: acc_frac + row_shift[j] fraction bits)
    row_shift: np.ndarray | None = None  # (C,) int64 >= 0, as Accum.row_shift

    def shifts(self) -> np.ndarray:
        """``row_shift``, zeros when there is none."""
        return np.zeros(self.m.shape[0], np.int64) if self.row_shift is None else self.row_shift


@dataclass(frozen=True, eq=False)
class Plan:
    __repr__ = short_repr

    config: DatapathConfig
    cell: str
    codec: WeightCodec
    input_size: int
    hidden_size: int
    layers: tuple[LayerPlan, ...]
    head: HeadPlan | None
    sigmoid_table: np.ndarray  # (2**lut_bits,) int64, act format (also exported to ROM)
    tanh_table: np.ndarray

    @property
    def num_classes(self) -> int | None:
        return None if self.head is None else self.head.m.shape[0]

    @property
    def row_scaled(self) -> bool:
        """Whether any accumulator row has a row shift (per-row weight scales)."""
        rows = [a.row_shift for lp in self.layers for a in lp.accums] + [None if self.head is None else self.head.row_shift]
        return any(r is not None for r in rows)

    def layer_config(self, k: int) -> DatapathConfig:
        """The contract layer ``k`` works in (the global one unless the config overrides layer k)."""
        return self.config.layer_config(k)

    def head_config(self) -> DatapathConfig:
        """The contract of the head (the last layer's, with the head's overrides)."""
        return self.config.head_config(len(self.layers))

    def layer_tables(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Sigmoid and tanh tables of layer ``k``: the plan's own unless the layer's contract differs."""
        lc = self.layer_config(k)
        if _table_key(lc) == _table_key(self.config):
            return self.sigmoid_table, self.tanh_table
        return lut_table("sigmoid", lc), lut_table("tanh", lc)


    def lut_roms(self, k: int) -> tuple[str, str] | None:
        """ROM names of layer ``k``'s sigmoid and tanh tables (None for the PWL unit): the shared
        ``sigmoid_lut`` / ``tanh_lut`` when its tables are the global contract's, else its own."""
        return lut_rom_names(self.config, k)


def lut_rom_names(cfg: DatapathConfig, k: int) -> tuple[str, str] | None:
    """``Plan.lut_roms`` from the contract alone (the manifest check names the ROMs a design reads)."""
    lc = cfg.layer_config(k)
    if lc.activation != "lut":
        return None
    if cfg.activation == "lut" and _table_key(lc) == _table_key(cfg):
        return "sigmoid_lut", "tanh_lut"
    return f"l{k}_sigmoid_lut", f"l{k}_tanh_lut"


def _table_key(cfg: DatapathConfig) -> tuple:
    """What the activation tables depend on."""
    return (cfg.pre, cfg.act, cfg.lut_bits, cfg.sigmoid_range_log2, cfg.tanh_range_log2)


def _acc_bits(terms: list[tuple[int, int, int]], bias_bound: int) -> int:
    """Width of a signed accumulator holding sum(n * m_max * 2**(in_bits-1) << shift) + bias_bound."""
    bound = bias_bound + sum(n * m_max * (1 << (in_bits - 1)) << shift for n, m_max, in_bits, shift in terms)
    return bound.bit_length() + 1


def _bias_int(model: RNNModel, key: str, b: np.ndarray | None, rows: slice, acc_frac: int | np.ndarray,
              cfg: DatapathConfig) -> np.ndarray:
    if b is None:
        return np.zeros(rows.stop - rows.start, dtype=np.int64)
    v = np.asarray(b[rows], dtype=np.float64)
    lim = 2.0**cfg.bias_int_bits
    bad = np.flatnonzero((v < -lim) | (v >= lim))
    if bad.size:
        i = bad[0] + rows.start
        raise ConfigError(
            f"bias {key!r}[{i}] = {b[i]:.6g} must lie in [-{lim:g}, {lim:g}) (bias_int_bits = {cfg.bias_int_bits})"
        )
    return np.rint(np.ldexp(v, acc_frac)).astype(np.int64)


def _row_base(key: str, s: int | np.ndarray) -> tuple[int, np.ndarray | None]:
    """A matrix's scale for the datapath: ``(s, None)``, or for per-row scales ``(max s_r, s - s_r)``
    (each row's extra right shift at its requantization, >= 0)."""
    if isinstance(s, (int, np.integer)):
        return int(s), None
    top = int(s.max())
    return top, (top - s).astype(np.int64)


def _shared_rows(k: int, k_ih: str, k_hh: str, e_ih: np.ndarray | None, e_hh: np.ndarray | None) -> np.ndarray | None:
    """The row shifts of layer ``k``: its two matrices' rows add up in one accumulator, so they must agree."""
    if e_ih is None and e_hh is None:
        return None
    if e_ih is None or e_hh is None or not np.array_equal(e_ih, e_hh):
        raise QuantError(f"layer {k}: the per-row scales of {k_ih!r} and {k_hh!r} must differ by one constant "
                         "on every row (the rows of both add up in one accumulator, which has one shift)")
    return e_ih


def lower(model: RNNModel, cfg: DatapathConfig) -> Plan:
    """Check that ``model`` is quantized and fits the contract, and build its integer plan."""
    if model.quant is None:
        raise QuantError("the fixed-point datapath needs a quantized model (run `hwsim quantize` first)")
    from ..model._quant import decode_model_codes  # the one place that turns float weights back into m

    codes = decode_model_codes(model)
    spec = model.quant
    if spec.granularity == "row" and cfg.weight_scales == "tensor":
        raise ConfigError("the model has per-row weight scales, but the contract says weight_scales = \"tensor\"; "
                          "set weight_scales = \"row\" (or \"auto\") or quantize with --scale tensor")
    codec = WeightCodec.for_method(spec.method, spec.bits)
    keys = {v: k for k, v in model.tensor_keys().items()}  # (kind, layer, field) -> key
    H = model.hidden_size
    bias_bound = 2 * (1 << cfg.bias_int_bits)  # b_ih + b_hh, each |b| <= 2**bias_int_bits

    cfg.check_layers(model.num_layers)
    cfg.check_stream(model.input_size, H, model.num_classes)
    layers = []
    for li, layer in enumerate(model.layers):
        in_fmt = cfg.x if li == 0 else cfg.layer_config(li - 1).h  # the layer below's h
        lc = cfg.layer_config(li)
        k_ih, k_hh = keys[("layer", li, "w_ih")], keys[("layer", li, "w_hh")]
        m_ih, s_in = codes[k_ih]
        m_hh, s_rec = codes[k_hh]
        s_in, e_ih = _row_base(k_ih, s_in)
        s_rec, e_hh = _row_base(k_hh, s_rec)
        e_rows = _shared_rows(li, k_ih, k_hh, e_ih, e_hh)
        e_max = 0 if e_rows is None else int(e_rows.max())
        acc_frac = max(in_fmt.frac - s_in, lc.h.frac - s_rec, lc.pre.frac)
        shift_in = acc_frac - in_fmt.frac + s_in
        shift_rec = acc_frac - lc.h.frac + s_rec
        # Every cell has an accumulation over all input and all recurrent columns, which bounds the
        # layer's width. It depends only on the contract and the shapes; check it before any bias is
        # scaled into accumulator units, so an absurd scale is refused instead of overflowing int64.
        acc_bits = _acc_bits(
            [(m_ih.shape[1], codec.m_max, in_fmt.bits, shift_in), (H, codec.m_max, lc.h.bits, shift_rec)],
            bias_bound << (acc_frac + e_max),  # a row's bias has acc_frac + row_shift fraction bits
        )
        if acc_bits + e_max > MAX_ACC_BITS:  # the simulator aligns every row at acc_frac + e_max
            raise ConfigError(
                f"layer {li} accumulator needs {acc_bits} bits, at most {MAX_ACC_BITS} are supported; "
                "narrow the formats or the exponent range"
            )
        accums = []
        for name, g, use_in, use_rec in ACCUMS[model.cell]:
            rows = slice(g * H, (g + 1) * H)
            parts = ([m_ih[rows]] if use_in else []) + ([m_hh[rows]] if use_rec else [])
            bias = np.zeros(H, dtype=np.int64)
            row_shift = None if e_rows is None else np.ascontiguousarray(e_rows[rows])
            b_frac = acc_frac if row_shift is None else acc_frac + row_shift
            if use_in:
                bias += _bias_int(model, keys.get(("layer", li, "b_ih"), ""), layer.b_ih, rows, b_frac, cfg)
            if use_rec:
                bias += _bias_int(model, keys.get(("layer", li, "b_hh"), ""), layer.b_hh, rows, b_frac, cfg)
            accums.append(
                Accum(
                    name=name,
                    m=np.ascontiguousarray(np.concatenate(parts, axis=1), dtype=np.int64),
                    n_in=m_ih.shape[1] if use_in else 0,
                    n_rec=H if use_rec else 0,
                    bias=bias,
                    row_shift=row_shift,
                )
            )
        layers.append(LayerPlan(li, in_fmt, s_in, s_rec, acc_frac, shift_in, shift_rec, acc_bits, tuple(accums)))

    head = None
    if model.head is not None:
        m, s = codes[keys[("head", None, "weight")]]
        s, e_rows = _row_base(keys[("head", None, "weight")], s)
        e_max = 0 if e_rows is None else int(e_rows.max())
        hc = cfg.head_config(model.num_layers)
        acc_frac = max(hc.h.frac - s, hc.out.frac)
        shift = acc_frac - hc.h.frac + s
        acc_bits = _acc_bits([(H, codec.m_max, hc.h.bits, shift)], (1 << cfg.bias_int_bits) << (acc_frac + e_max))
        if acc_bits + e_max > MAX_ACC_BITS:
            raise ConfigError(f"head accumulator needs {acc_bits + e_max} bits, at most {MAX_ACC_BITS} are supported")
        b_frac = acc_frac if e_rows is None else acc_frac + e_rows
        bias = _bias_int(model, keys.get(("head", None, "bias"), ""), model.head.bias, slice(0, m.shape[0]), b_frac, cfg)
        head = HeadPlan(s, acc_frac, shift, acc_bits, np.ascontiguousarray(m, dtype=np.int64), bias, e_rows)

    return Plan(
        config=cfg,
        cell=model.cell,
        codec=codec,
        input_size=model.input_size,
        hidden_size=H,
        layers=tuple(layers),
        head=head,
        sigmoid_table=lut_table("sigmoid", cfg),
        tanh_table=lut_table("tanh", cfg),
    )
