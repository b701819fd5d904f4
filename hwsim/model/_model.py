"""In-memory model: the float weights of a PyTorch RNN/GRU/LSTM stack plus an optional linear head.

This is the one representation every part of hwsim reads. Loading and saving live in
``hwsim.model._modelfile``; the quantization record (``QuantSpec``) says how each weight tensor maps to
integer hardware codes (see docs/datapath.md, "Weights").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
from .._repr import short_repr
from ._kinds import CELL_GATES, METHODS, TRAIN_METHODS  # noqa: F401  (re-exported: the model's vocabulary)

@dataclass(frozen=True)
class Layer:
    """One recurrent layer in PyTorch's layout (gate blocks stacked along rows)."""

    __repr__ = short_repr

    w_ih: np.ndarray  # (G*H, I_layer)
    w_hh: np.ndarray  # (G*H, H)
    b_ih: np.ndarray | None  # (G*H,) or None when the module had bias=False
    b_hh: np.ndarray | None


@dataclass(frozen=True)
class Head:
    """The optional nn.Linear applied to the last layer's hidden state at the last step."""

    __repr__ = short_repr

    weight: np.ndarray  # (C, H)
    bias: np.ndarray | None  # (C,)


@dataclass(frozen=True)
class QuantSpec:
    """How the weights of a quantized model map to integer codes.

    Every quantized weight equals ``m * 2**scales[key]`` with ``m`` an integer in the method's code
    range (docs/datapath.md). ``key`` is the tensor name inside the model file. Tensors without an
    entry in ``scales`` (biases when ``biases == "fixed"``) are kept as float and rounded into the
    accumulator format by the datapath. A matrix quantized with per-row scales (``scale="row"``)
    has a tuple of scales, one per output row.
    """

    method: str
    bits: int  # code width in bits
    scales: Mapping[str, int | tuple[int, ...]]  # tensor key -> log2 of the scale (per-row scales: one per row)
    biases: str = "fixed"  # "fixed" (kept in fixed point) or "quantized" (like the weights)
    e_min: int | None = None  # exponential methods: smallest exponent (s of every tensor)
    e_max: int | None = None
    zero: bool = True  # exponential: False for the paper-exact variant with no zero code
    params: Mapping[str, object] = field(default_factory=dict)  # seed, w0, ... for the record

    @property
    def granularity(self) -> str:
        """``"row"`` when any tensor has per-row scales, else ``"tensor"``."""
        return "row" if any(isinstance(v, (tuple, list)) for v in self.scales.values()) else "tensor"

    def to_json(self) -> str:
        return json.dumps(
            {
                "method": self.method,
                "bits": self.bits,
                "scales": {k: list(v) if isinstance(v, (tuple, list)) else v for k, v in self.scales.items()},
                "biases": self.biases,
                "e_min": self.e_min,
                "e_max": self.e_max,
                "zero": self.zero,
                "params": dict(self.params),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> "QuantSpec":
        """Parse and schema-check a record (``hwsim.model._records.QuantRecord``): wrong types,
        non-finite or out-of-range numbers raise ``HwsimError`` before any arithmetic."""
        from .._errors import HwsimError
        from .._validate import validate
        from ._records import QuantRecord

        d = validate(QuantRecord, json.loads(text), source="record", error=HwsimError)
        return cls(
            method=d.method,
            bits=d.bits,
            scales={k: tuple(v) if isinstance(v, list) else v for k, v in d.scales.items()},
            biases=d.biases,
            e_min=d.e_min,
            e_max=d.e_max,
            zero=d.zero,
            params=dict(d.params),
        )


@dataclass(frozen=True)
class RNNModel:
    """A stack of recurrent layers, an optional head, and (when quantized) its QuantSpec.

    ``prefix`` and ``head_prefix`` are the key prefixes of the source file, so a saved model keeps
    PyTorch's tensor names (``f"{prefix}weight_ih_l{k}"``, ``f"{head_prefix}weight"``).
    """

    __repr__ = short_repr

    cell: str
    layers: tuple[Layer, ...]
    head: Head | None = None
    quant: QuantSpec | None = None
    prefix: str = ""
    head_prefix: str = "head."

    @property
    def gates(self) -> int:
        return CELL_GATES[self.cell]

    @property
    def hidden_size(self) -> int:
        return self.layers[0].w_hh.shape[1]

    @property
    def input_size(self) -> int:
        return self.layers[0].w_ih.shape[1]

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def num_classes(self) -> int | None:
        return None if self.head is None else self.head.weight.shape[0]

    def tensor_keys(self) -> dict[str, tuple[str, int | None, str]]:
        """Map every tensor key to (kind, layer index or None, field name)."""
        keys: dict[str, tuple[str, int | None, str]] = {}
        for k, layer in enumerate(self.layers):
            for name in ("w_ih", "w_hh", "b_ih", "b_hh"):
                if getattr(layer, name) is not None:
                    torch_name = {"w_ih": "weight_ih", "w_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}[name]
                    keys[f"{self.prefix}{torch_name}_l{k}"] = ("layer", k, name)
        if self.head is not None:
            keys[f"{self.head_prefix}weight"] = ("head", None, "weight")
            if self.head.bias is not None:
                keys[f"{self.head_prefix}bias"] = ("head", None, "bias")
        return keys

    def tensor(self, key: str) -> np.ndarray:
        kind, k, name = self.tensor_keys()[key]
        return getattr(self.layers[k] if kind == "layer" else self.head, name)
