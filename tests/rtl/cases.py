"""Configurations of the RTL co-simulation sweep, shared by the pytest sweep and scripts/cosim_sweep.py."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from hwsim.datapath._config import DatapathConfig, FixedFormat
from hwsim.model._model import Head, RNNModel

#: narrow formats: every requant point sees overflow with saturating inputs, LUTs stay small
NARROW = dict(
    x=FixedFormat(8, 4), h=FixedFormat(8, 6), c=FixedFormat(10, 6), pre=FixedFormat(8, 4),
    act=FixedFormat(10, 7), out=FixedFormat(6, 3), lut_bits=6,
)


@dataclass(frozen=True)
class Case:
    """One design: model shape, quantizer, contract; ``id`` names the pytest case and build dir."""

    cell: str = "gru"
    method: str = "ternary"
    bits: int | None = None
    inputs: int = 3
    hidden: int = 5
    layers: int = 1
    classes: int | None = 3
    word_bits: int = 32
    lanes: int = 1
    rows: int = 1
    pointwise_units: int = 0
    mul_stages: int = 1
    rounding: str = "half_up"
    overflow: str = "saturate"
    activation: str = "lut"
    narrow: bool = False
    gain: float = 1.0  # weights times gain before quantizing: > 1 drives the extreme codes
    saturate: float = 0.0  # fraction of inputs at the x format's extremes
    bias: bool = True
    quant_kw: dict = field(default_factory=dict, hash=False)
    seed: int = 0
    #: per-layer precision: the contract's ``layers`` / ``head`` tables (docs/datapath.md)
    precision: dict = field(default_factory=dict, hash=False)
    #: the stream knobs (docs/rtl.md, "Beat order")
    in_elems: int = 1
    out_elems: int = 1
    out_mode: str = "steps"
    #: row i of every weight matrix times 2**-(i % (row_spread + 1)) before quantizing, so that
    #: per-row scales (``quant_kw={"scale": "row"}``) give row shifts up to ``row_spread``
    row_spread: int = 0

    @property
    def id(self) -> str:
        b = "" if self.bits is None else str(self.bits)
        pw = f"u{self.pointwise_units}" if self.pointwise_units else ""
        parts = [self.cell, f"{self.method}{b}", f"w{self.word_bits}", f"r{self.rows}{pw}l{self.lanes}",
                 f"i{self.inputs}", f"h{self.hidden}", f"l{self.layers}", f"c{self.classes or 0}"]
        if (self.rounding, self.overflow) != ("half_up", "saturate"):
            parts.append(f"{self.rounding}-{self.overflow}")
        if self.activation != "lut":
            parts.append(self.activation)
        if self.mul_stages != 1:
            parts.append(f"m{self.mul_stages}")
        if self.narrow:
            parts.append("narrow")
        if self.gain != 1.0:
            parts.append(f"gain{self.gain:g}")
        if self.saturate:
            parts.append("sat")
        if self.quant_kw:
            parts.append("-".join(f"{k}{v}" for k, v in sorted(self.quant_kw.items())))
        if not self.bias:
            parts.append("nobias")
        if self.row_spread:
            parts.append(f"spread{self.row_spread}")
        if self.precision:
            parts.append("mixed-" + "-".join(sorted(self.precision.get("layers", {}))) + ("-head" if "head" in self.precision else ""))
        if (self.in_elems, self.out_elems, self.out_mode) != (1, 1, "steps"):
            parts.append(f"in{self.in_elems}-out{self.out_elems}-{self.out_mode}")
        return "-".join(str(p) for p in parts)

    def config(self) -> DatapathConfig:
        kw = dict(NARROW) if self.narrow else {}
        cfg = DatapathConfig(word_bits=self.word_bits, lanes=self.lanes, rows=self.rows,
                             pointwise_units=self.pointwise_units, mul_stages=self.mul_stages, rounding=self.rounding,
                             overflow=self.overflow, activation=self.activation, in_elems=self.in_elems,
                             out_elems=self.out_elems, out_mode=self.out_mode, **kw)
        if self.precision:
            cfg = DatapathConfig.from_dict({**cfg.to_dict(), **self.precision}, source=self.id)
        return cfg

    def model(self) -> RNNModel:
        import helpers
        from hwsim.model._quant import quantize_model

        m = helpers.make_model(self.cell, self.inputs, self.hidden, self.layers, self.classes, self.seed, bias=self.bias)
        if self.gain != 1.0:
            g = self.gain
            m = dataclasses.replace(
                m,
                layers=tuple(dataclasses.replace(l, w_ih=l.w_ih * g, w_hh=l.w_hh * g) for l in m.layers),
                head=None if m.head is None else Head(m.head.weight * g, m.head.bias),
            )
        if self.row_spread:
            def spread(w):
                return w * np.ldexp(1.0, -(np.arange(w.shape[0]) % (self.row_spread + 1)))[:, None]

            m = dataclasses.replace(
                m,
                layers=tuple(dataclasses.replace(l, w_ih=spread(l.w_ih), w_hh=spread(l.w_hh)) for l in m.layers),
                head=None if m.head is None else Head(spread(m.head.weight), m.head.bias),
            )
        return quantize_model(m, self.method, bits=self.bits, **self.quant_kw)


#: The CI sweep: every cell, code kind, rounding and overflow mode; rows x lanes from 1 x 1 to fully
#: parallel, primes and values that divide neither the rows nor the columns, pointwise units below
#: rows; sizes 1, primes, non-powers of two; saturating inputs; extreme codes.
SWEEP = [
    Case("gru", "ternary"),
    Case("gru", "ternary", lanes=2, rows=3, hidden=5),
    Case("gru", "binary", word_bits=8, lanes=8, rows=2, inputs=1, hidden=1, classes=1),
    Case("gru", "pow2-ternary", word_bits=64, lanes=4, rows=7, pointwise_units=1, inputs=5, hidden=7, layers=2,
         classes=None),
    Case("gru", "exp", bits=6, word_bits=12, lanes=2, rows=2, hidden=3, gain=4.0),
    Case("gru", "uniform", bits=8, word_bits=32, lanes=5, rows=4, pointwise_units=2, hidden=6, rounding="half_even",
         overflow="wrap", narrow=True, saturate=0.3, gain=4.0),
    Case("gru", "binary", word_bits=128, lanes=13, rows=11, inputs=2, hidden=11, activation="pwl"),
    Case("lstm", "ternary", inputs=1, hidden=1, classes=2),
    Case("lstm", "exp", bits=4, word_bits=16, lanes=4, rows=5, hidden=7, rounding="zero", overflow="wrap",
         narrow=True, saturate=0.3, gain=4.0),
    Case("lstm", "uniform", bits=4, word_bits=32, lanes=8, rows=2, pointwise_units=1, hidden=5, layers=2,
         activation="pwl"),
    Case("lstm", "pow2-ternary", word_bits=32, lanes=3, rows=6, pointwise_units=3, hidden=6, rounding="floor",
         narrow=True, saturate=0.5, gain=8.0),
    Case("lstm", "exp", bits=3, word_bits=6, lanes=1, rows=3, hidden=4, quant_kw={"zero": False}, gain=2.0),
    Case("rnn_tanh", "ternary", word_bits=32, lanes=4, rows=13, inputs=3, hidden=13, rounding="half_even"),
    Case("rnn_tanh", "binary", word_bits=1, lanes=1, inputs=2, hidden=3, layers=3, overflow="wrap", narrow=True,
         saturate=0.4, activation="pwl"),
    Case("rnn_relu", "exp", bits=5, word_bits=20, lanes=7, rows=2, hidden=5, rounding="floor", overflow="wrap",
         narrow=True, saturate=0.3, gain=4.0),
    Case("rnn_relu", "uniform", bits=16, word_bits=32, lanes=2, rows=4, inputs=4, hidden=2, classes=5, gain=2.0,
         bias=False),
    Case("rnn_relu", "ternary-stoch", word_bits=16, lanes=15, rows=9, pointwise_units=3, inputs=6, hidden=9,
         rounding="zero"),
    # per-layer precision: narrow PWL layer 0 feeding a LUT layer 1 with its own tables (one copy per
    # pointwise unit), formats, rounding and overflow, and a head in its own output format and rounding
    Case("gru", "ternary", hidden=5, layers=2, lanes=2, rows=4, pointwise_units=2, saturate=0.3, gain=2.0, precision={
        "layers": {"0": {"h": [9, 7], "pre": [10, 5], "act": [9, 6], "activation": "pwl"},
                   "1": {"pre": [12, 7], "act": [10, 8], "lut_bits": 7, "rounding": "floor", "overflow": "wrap"}},
        "head": {"out": [8, 4], "rounding": "half_even"}}),
    # a wider last layer read by the head through that layer's h port (one lane, one pointwise unit)
    Case("lstm", "exp", bits=4, word_bits=16, rows=2, pointwise_units=1, hidden=4, layers=2, classes=3, narrow=True,
         saturate=0.3, gain=4.0, precision={
        "layers": {"1": {"h": [12, 9], "c": [14, 9], "activation": "pwl", "rounding": "zero"}}}),
]


#: Per-row weight scales (a row shift table beside each bias ROM, docs/rtl.md): ternary, binary and
#: pow2-ternary codes, every cell, a head, one lane and several, one row PE and several, rounding
#: modes whose ties the row shift moves, saturating inputs.
ROW = [
    Case("gru", "ternary", gain=2.0, quant_kw={"scale": "row"}, row_spread=3),
    Case("lstm", "binary", word_bits=16, lanes=3, rows=2, hidden=5, classes=2, narrow=True, saturate=0.5, gain=8.0,
         quant_kw={"scale": "row"}, row_spread=2),
    Case("rnn_tanh", "pow2-ternary", word_bits=32, lanes=4, rows=3, pointwise_units=1, hidden=6, layers=2, classes=4,
         rounding="half_even", quant_kw={"scale": "row"}, row_spread=3),
    Case("rnn_relu", "ternary", word_bits=32, lanes=2, rows=4, pointwise_units=2, hidden=7, classes=None,
         rounding="zero", overflow="wrap", gain=4.0, quant_kw={"scale": "row"}, row_spread=1),
    Case("gru", "pow2-ternary", lanes=5, rows=5, inputs=2, hidden=5, classes=3, rounding="floor", narrow=True,
         saturate=0.5, gain=4.0, quant_kw={"scale": "row"}, row_spread=2),
]


#: Stream-timing cases (end-to-end cycles checked without stalls): compute-bound, input-bound (I > the
#: step's compute cycles), output-bound (H > them), and a head with more classes than H.
STREAM = [
    SWEEP[0],
    SWEEP[3],
    Case("rnn_tanh", "ternary", inputs=20, hidden=3, classes=2, rows=3, lanes=23),
    Case("rnn_relu", "ternary", inputs=2, hidden=24, classes=None, rows=24, lanes=26),
    Case("gru", "ternary", inputs=9, hidden=4, classes=7, rows=4, lanes=13, layers=2),
]

#: The stream knobs: several elements a beat (divisors and not, all of I), and each output mode;
#: run with random stalls (values) and without (end-to-end cycles against the model).
STREAM_KNOBS = [
    Case("gru", "ternary", in_elems=2, out_elems=2, out_mode="head"),                   # 3 / 5 elements: padded beats
    Case("rnn_tanh", "ternary", inputs=20, hidden=3, classes=2, rows=3, lanes=23, in_elems=4, out_elems=3),
    Case("rnn_relu", "ternary", inputs=2, hidden=24, classes=None, rows=24, lanes=26, in_elems=2, out_elems=5,
         out_mode="last"),
    Case("gru", "ternary", inputs=9, hidden=4, classes=7, rows=4, lanes=13, layers=2, in_elems=9, out_elems=7,
         out_mode="head"),
    Case("lstm", "exp", bits=4, inputs=5, hidden=6, classes=4, rows=2, lanes=3, layers=2, in_elems=3, out_elems=4,
         out_mode="last"),
    # two-cycle pointwise products (mul_stages = 2): LAT_H 12, the LSTM's LAT_C 6
    Case("gru", "ternary", inputs=4, hidden=6, classes=3, rows=3, lanes=2, pointwise_units=3, mul_stages=2),
    Case("lstm", "ternary", inputs=3, hidden=4, classes=2, rows=2, lanes=2, layers=2, mul_stages=2, out_mode="last"),
    Case("rnn_tanh", "ternary", inputs=20, hidden=24, classes=None, rows=24, lanes=44, in_elems=20, out_elems=24),
    # 40 head beats outlast a one-step sequence and its head: the next head waits for the last y
    Case("rnn_tanh", "ternary", inputs=2, hidden=3, classes=40, rows=3, lanes=5, out_mode="head"),
]


def random_x(case: Case, plan, sequences: int, steps: int) -> np.ndarray:
    from hwsim.hdl._cosim import random_inputs

    return random_inputs(plan, sequences, steps, seed=case.seed + 17, saturate=case.saturate)
