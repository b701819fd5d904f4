"""Reading ONNX models (``.onnx``): stacked ``RNN`` / ``GRU`` / ``LSTM`` nodes and a linear head.

The graph is read with the ``onnx`` package (protobuf only, the optional ``hwsim[onnx]`` extra); it
is never run. A small abstract interpreter walks the nodes in their (topological) order and keeps,
for every value, what it is: the graph input, a layer's hidden states at every step (``_Seq``), a
layer's state at the last step (``_Last``), the head's output (``_Out``), a constant, or shape
arithmetic (``_Aux``, which may not carry data, only shapes and all-zero initial states). The glue
that ``torch.onnx.export`` writes around the recurrent nodes (Transpose, Squeeze, Gather/Slice of the
last step, zero initial states built from the input's shape) is understood; anything else is refused
with one line that names the node.

What must hold, as the datapath defines the cells (docs/datapath.md):

- forward direction only; the default activations (``Tanh`` or ``Relu`` for RNN, ``Sigmoid, Tanh``
  for GRU, ``Sigmoid, Tanh, Tanh`` for LSTM); no ``clip``, no LSTM ``input_forget`` or non-zero
  peepholes, no ``sequence_lens``, zero initial states;
- GRU ``linear_before_reset = 1``: the datapath's candidate is PyTorch's
  ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, which is ONNX's ``linear_before_reset = 1``
  (what ``torch.onnx.export`` writes). ONNX's default ``0`` applies ``r`` to ``h`` before the
  matrix product, a different cell;
- the nodes form one chain (layer k reads layer k-1's hidden states), one hidden size throughout;
  the head (``Gemm``, or ``MatMul`` with an optional ``Add``) reads the last layer, at the last step
  or at every step.

ONNX stacks gate blocks in another order than PyTorch (GRU ``z, r, h`` against ``r, z, n``; LSTM
``i, o, f, c`` against ``i, f, g, o``) and keeps both biases in one ``B``; the reader reorders rows
into hwsim's (PyTorch's) layout and returns a state_dict that ``model_from_tensors`` validates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._errors import ModelFileError

#: ONNX gate block order -> PyTorch's: PyTorch block j is ONNX block ORDER[op][j].
GATE_ORDER = {"RNN": (0,), "GRU": (1, 0, 2), "LSTM": (0, 2, 3, 1)}
#: The activations the datapath implements, per op (ONNX names, compared case-insensitively).
ACTIVATIONS = {"GRU": ("sigmoid", "tanh"), "LSTM": ("sigmoid", "tanh", "tanh")}
RNN_CELLS = {"tanh": "rnn_tanh", "relu": "rnn_relu"}
_CELL_OF_OP = {"GRU": "gru", "LSTM": "lstm"}
#: Ops that reshape or copy a value without changing its numbers (for shape arithmetic and zeros).
_PLUMBING = {"Identity", "Cast", "Expand", "Tile", "Slice", "Squeeze", "Unsqueeze", "Reshape", "Gather", "Transpose", "Concat"}
_SHAPE_MATH = _PLUMBING | {"Shape", "ConstantOfShape", "Add", "Sub", "Mul", "Div", "Range", "Equal", "Where", "Size"}
_INT64_MAX = (1 << 63) - 1


@dataclass(frozen=True)
class _Seq:
    """Hidden states of ``layer`` at every step (layer -1: the graph input). ``axes`` labels each axis:
    T (time), B (batch), F (features), D (ONNX's direction axis, size 1), 1 (another size-1 axis)."""

    layer: int
    axes: tuple[str, ...] | None  # None: the graph input, whose layout the first node defines


@dataclass(frozen=True)
class _Last:
    """The state of ``layers[index]`` at the last step; several layers when ``Y_h`` are concatenated."""

    layers: tuple[int, ...]
    axes: tuple[str, ...]
    cell: bool = False  # LSTM Y_c (the cell state): never a model output


@dataclass(frozen=True)
class _Out:
    """The head's output: ``weight`` (C, H) applied to ``source``; ``bias`` once an Add has been seen."""

    source: _Seq | _Last
    weight: np.ndarray
    bias: np.ndarray | None
    axes: tuple[str, ...]


@dataclass(frozen=True)
class _Const:
    value: np.ndarray


@dataclass(frozen=True)
class _Aux:
    """Shape arithmetic on the input's (dynamic) shape; ``zero`` when every element is known to be 0."""

    zero: bool


@dataclass(frozen=True)
class _Layer:
    cell: str
    w_ih: np.ndarray
    w_hh: np.ndarray
    b_ih: np.ndarray | None
    b_hh: np.ndarray | None
    node: str


def read_onnx(p: Path) -> tuple[dict[str, np.ndarray], str]:
    """The state_dict (PyTorch names and gate order) and the cell kind of the ONNX model in ``p``."""
    try:
        import onnx
    except ImportError:
        raise ModelFileError(f"{p}: an ONNX model needs the onnx package to read (pip install 'hwsim[onnx]')") from None
    try:
        proto = onnx.load(str(p))
    except Exception as e:  # protobuf's DecodeError, missing external data, ...: many types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelFileError(f"{p}: not a readable ONNX model (truncated, corrupt or missing its external data: {first})") from None
    return _Reader(proto.graph, str(p)).state_dict()


class _Reader:
    def __init__(self, graph, source: str):
        from onnx import numpy_helper

        self.source = source
        self.to_array = numpy_helper.to_array
        self.values: dict[str, object] = {"": None}
        self.layers: list[_Layer] = []
        self.head_name = "head."
        for init in graph.initializer:
            self.values[init.name] = _Const(self._array(init))
        inputs = [i.name for i in graph.input if i.name not in self.values]
        if len(inputs) != 1:
            raise ModelFileError(
                f"{source}: an ONNX model for hwsim takes one input (the sequences), not "
                f"{len(inputs)}: {', '.join(repr(i) for i in inputs) or 'none'}; initial states start at zero"
            )
        self.values[inputs[0]] = _Seq(-1, None)
        for i, node in enumerate(graph.node):
            self.node = node
            self.label = f"node {node.name or '#' + str(i)!r} ({node.op_type})"
            outs = self._eval(node)
            for name, value in zip(node.output, outs):
                if name:
                    self.values[name] = value
        if not self.layers:
            raise ModelFileError(f"{source}: no RNN, GRU or LSTM node: hwsim reads recurrent models")
        self.output = self._model_output([o.name for o in graph.output])

    # ---- the result

    def state_dict(self) -> tuple[dict[str, np.ndarray], str]:
        prefix = _common_prefix([layer.node for layer in self.layers])
        out: dict[str, np.ndarray] = {}
        has_bias = any(layer.b_ih is not None for layer in self.layers)
        for k, layer in enumerate(self.layers):
            out[f"{prefix}weight_ih_l{k}"] = layer.w_ih
            out[f"{prefix}weight_hh_l{k}"] = layer.w_hh
            if has_bias:  # ONNX's B defaults to zeros; hwsim's layers all have biases or none
                zeros = np.zeros(layer.w_hh.shape[0])
                out[f"{prefix}bias_ih_l{k}"] = zeros if layer.b_ih is None else layer.b_ih
                out[f"{prefix}bias_hh_l{k}"] = zeros if layer.b_hh is None else layer.b_hh
        if isinstance(self.output, _Out):
            out[f"{self.head_name}weight"] = self.output.weight
            if self.output.bias is not None:
                out[f"{self.head_name}bias"] = self.output.bias
        return out, self.layers[0].cell

    def _model_output(self, names: list[str]):
        if not names:
            raise ModelFileError(f"{self.source}: the ONNX graph has no output")
        value = self.values.get(names[0])
        source = value.source if isinstance(value, _Out) else value
        layer = None
        if isinstance(source, _Seq):
            layer = source.layer
        elif isinstance(source, _Last) and len(source.layers) == 1 and not source.cell:
            layer = source.layers[0]
        if layer != len(self.layers) - 1:
            raise ModelFileError(
                f"{self.source}: graph output {names[0]!r} must be the last recurrent layer's hidden state or a "
                f"linear head on it, not {_describe(value)}"
            )
        if isinstance(value, _Out) and value.axes[-1:] != ("C",):
            raise ModelFileError(f"{self.source}: graph output {names[0]!r} must end in the head's outputs, not axes {value.axes}")
        return value

    # ---- nodes

    def _eval(self, node) -> list:
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            self._refuse(f"is a custom op of domain {node.domain!r}")
        args = [self.values[name] if name in self.values else self._missing(name) for name in node.input]
        if op in ("RNN", "GRU", "LSTM"):
            return self._recurrent(op, args)
        if op == "Constant":
            return [_Const(self._constant(node))]
        data = [a for a in args if isinstance(a, (_Seq, _Last, _Out))]
        if not data:
            return [self._static(op, args)]
        if op == "Shape":
            return [_Aux(False)]
        if op == "Identity":
            return [args[0]]
        x = args[0]
        if op not in ("Add", "Concat"):
            if not isinstance(x, (_Seq, _Last, _Out)):
                self._refuse(f"reads {_describe(data[0])} as a later input, not as its first (the head is h @ W.T)")
            if any(not isinstance(a, (_Const, type(None))) for a in args[1:]):
                self._refuse("reads a shape computed at run time; hwsim needs constant indices here")
        if op == "Transpose":
            perm = self._attr("perm", list(reversed(range(len(x.axes)))) if x.axes is not None else None)
            return [self._with_axes(x, None if x.axes is None else tuple(x.axes[i] for i in perm))]
        if isinstance(x, _Seq) and x.axes is None:
            self._refuse("changes the graph input before the first recurrent node (only Transpose is understood)")
        if op == "Squeeze":
            return [self._squeeze(x, self._ints("axes", 1))]
        if op == "Unsqueeze":
            axes = self._ints("axes", 1)
            labels = list(x.axes)
            for a in sorted(int(a) % (len(labels) + len(axes)) for a in axes):
                labels.insert(a, "1")
            return [self._with_axes(x, tuple(labels))]
        if op == "Gather":
            return [self._gather(x, args[1].value)]
        if op == "Slice":
            return [self._slice(x)]
        if op == "Concat":
            return [self._concat(args)]
        if op in ("Gemm", "MatMul"):
            return [self._head(op, x, args)]
        if op == "Add":
            return [self._bias(args)]
        self._refuse("is not supported on the recurrent layers' outputs: hwsim reads RNN, GRU and LSTM nodes with a "
                     "Gemm or MatMul+Add head")

    def _recurrent(self, op: str, args: list) -> list:
        k = len(self.layers)
        x, w, r = (args + [None] * 3)[:3]
        b, seq_lens, h0, c0, peep = (args[3:] + [None] * 5)[:5]
        layout = self._attr("layout", 0)
        if self._attr("direction", b"forward") != b"forward":
            self._refuse(f"runs {self._attr('direction', b'forward').decode()}; hwsim simulates forward RNNs only")
        if self._attr("clip", None) is not None:
            self._refuse("clips the gate inputs (attribute clip); the datapath does not")
        for attr in ("activation_alpha", "activation_beta"):
            if self._attr(attr, None) is not None:
                self._refuse(f"has {attr}; the datapath's activations take no parameters")
        acts = tuple(a.decode().lower() for a in self._attr("activations", []))
        if op == "RNN":
            if len(acts) > 1 or (acts and acts[0] not in RNN_CELLS):
                self._refuse(f"has activations {list(acts)}; hwsim's RNN cells use Tanh or Relu")
            cell = RNN_CELLS[acts[0] if acts else "tanh"]
        else:
            if acts and acts != ACTIVATIONS[op]:
                self._refuse(f"has activations {list(acts)}; the datapath's {op} uses {list(ACTIVATIONS[op])}")
            cell = _CELL_OF_OP[op]
        if op == "GRU" and self._attr("linear_before_reset", 0) == 0:
            self._refuse("has linear_before_reset = 0 (the ONNX default: r applied to h before the matrix product); "
                         "the datapath's GRU is PyTorch's, linear_before_reset = 1")
        if op == "LSTM" and self._attr("input_forget", 0) != 0:
            self._refuse("couples the input and forget gates (input_forget = 1); the datapath's LSTM does not")
        if seq_lens is not None:
            self._refuse("has sequence_lens; hwsim runs every sequence to its last step")
        for name, state in (("initial_h", h0), ("initial_c", c0)):
            if state is not None and not _is_zero(state):
                self._refuse(f"has a non-zero {name}; hwsim's states start at zero")
        if peep is not None and not _is_zero(peep):
            self._refuse("has peepholes (input P); the datapath's LSTM has none")
        if self.layers and cell != self.layers[0].cell:
            self._refuse(f"is a {cell} layer after {self.layers[0].cell} layers; hwsim stacks one cell kind")
        want = ("T", "B", "F") if layout == 0 else ("B", "T", "F")
        if not (isinstance(x, _Seq) and x.layer == k - 1 and (x.axes is None or x.axes == want)):
            self._refuse(f"must read {'the graph input' if k == 0 else f'layer {k - 1} hidden states'} as {want} "
                         f"(layout {layout}), not {_describe(x)}")
        hidden = self._attr("hidden_size", None)
        gates = len(GATE_ORDER[op])
        for name, arr in (("W", w), ("R", r), ("B", b)):
            if arr is not None and not isinstance(arr, _Const):
                self._refuse(f"input {name} must be a constant (an initializer), not {_describe(arr)}")
        if w is None or r is None:
            self._refuse("needs the weights W and R")
        w, r = w.value, r.value
        if hidden is None and r.ndim == 3:
            hidden = r.shape[2]
        gh = gates * (hidden or 0)
        if w.ndim != 3 or w.shape[:2] != (1, gh) or w.shape[2] == 0:
            self._refuse(f"input W must have shape (1, {gates}*hidden_size = {gh}, input_size), not {w.shape}")
        if r.shape != (1, gh, hidden):
            self._refuse(f"input R must have shape (1, {gh}, {hidden}), not {r.shape}")
        if self.layers and hidden != self.layers[0].w_hh.shape[1]:
            self._refuse(f"has hidden_size {hidden}, layer 0 {self.layers[0].w_hh.shape[1]}; hwsim's layers share one hidden size")
        b_ih = b_hh = None
        if b is not None:
            if b.value.shape != (1, 2 * gh):
                self._refuse(f"input B must have shape (1, {2 * gh}), not {b.value.shape}")
            b_ih, b_hh = _reorder(op, b.value[0, :gh], hidden), _reorder(op, b.value[0, gh:], hidden)
        self.layers.append(_Layer(cell, _reorder(op, w[0], hidden), _reorder(op, r[0], hidden), b_ih, b_hh, self.node.name))
        y = _Seq(k, ("T", "D", "B", "F") if layout == 0 else ("B", "T", "D", "F"))
        last_axes = ("D", "B", "F") if layout == 0 else ("B", "D", "F")
        return [y, _Last((k,), last_axes), _Last((k,), last_axes, cell=True)]

    def _head(self, op: str, x, args: list) -> _Out:
        if not isinstance(x, (_Seq, _Last)) or x.axes[-1] != "F" or len(args) < 2 or not isinstance(args[1], _Const):
            self._refuse(f"must multiply a recurrent layer's state by a constant weight, not {_describe(x)}")
        w = args[1].value
        if op == "Gemm":
            if self._attr("transA", 0):
                self._refuse("has transA = 1; the head multiplies the state from the left")
            if x.axes not in (("B", "F"), ("1", "F")):
                self._refuse(f"must read a (batch, hidden) state, not axes {x.axes}")
            w = w * self._attr("alpha", 1.0)
            w = w if self._attr("transB", 0) else w.T
        else:
            w = w.T
        if w.ndim != 2:
            self._refuse(f"weight must be a matrix, not shape {args[1].value.shape}")
        self.head_name = _module_path(self.node.name, ("Gemm", "MatMul")) or "head."
        out = _Out(x, np.ascontiguousarray(w), None, x.axes[:-1] + ("C",))
        if op == "Gemm" and len(args) > 2 and args[2] is not None:
            if not isinstance(args[2], _Const):
                self._refuse(f"input C must be a constant, not {_describe(args[2])}")
            out = self._bias([out, _Const(args[2].value * self._attr("beta", 1.0))])
        return out

    def _bias(self, args: list) -> _Out:
        outs = [a for a in args if isinstance(a, _Out)]
        consts = [a for a in args if isinstance(a, _Const)]
        if len(outs) != 1 or len(consts) != 1 or outs[0].bias is not None:
            self._refuse(f"must add a constant bias to a head's output, not {' + '.join(_describe(a) for a in args)}")
        out, c = outs[0], consts[0].value
        n = out.weight.shape[0]
        if c.size != n or (c.ndim > 1 and c.shape[-1] != n):
            self._refuse(f"bias must have {n} values (one per head output), not shape {c.shape}")
        return _Out(out.source, out.weight, c.reshape(n).astype(np.float64), out.axes)

    def _squeeze(self, x, axes):
        labels = x.axes
        if axes is None:
            axes = [i for i, a in enumerate(labels) if a in ("D", "1")]
        axes = {int(a) % len(labels) for a in axes}
        if any(labels[a] not in ("D", "1") for a in axes):
            self._refuse(f"squeezes axes {sorted(axes)} of {labels}; only the size-1 axes can go")
        return self._with_axes(x, tuple(a for i, a in enumerate(labels) if i not in axes))

    def _gather(self, x, index: np.ndarray):
        axis = self._attr("axis", 0) % len(x.axes)
        label = x.axes[axis]
        if index.size != 1 or index.ndim > 1:
            self._refuse(f"gathers {index.size} indices; hwsim reads one step or one layer")
        i = int(index.reshape(()))
        rest = x.axes[:axis] + (("1",) if index.ndim == 1 else ()) + x.axes[axis + 1:]
        if label == "T" and isinstance(x, _Seq) and i == -1:
            return _Last((x.layer,), rest)
        if label == "D" and isinstance(x, _Last) and -len(x.layers) <= i < len(x.layers):
            return _Last((x.layers[i],), rest, x.cell)
        if label in ("D", "1") and i in (0, -1) and not (isinstance(x, _Last) and len(x.layers) > 1):
            return self._with_axes(x, rest)
        self._refuse(f"reads index {i} of axis {label!r} of {_describe(x)}; hwsim's head reads the last step (index -1)")

    def _slice(self, x):
        starts, ends = self._ints("starts", 1), self._ints("ends", 2)
        axes = self._ints("axes", 3)
        steps = self._ints("steps", 4)
        axes = list(range(len(starts))) if axes is None else axes
        steps = [1] * len(starts) if steps is None else steps
        labels = list(x.axes)
        result = x
        for a, s, e, st in zip(axes, starts, ends, steps):
            a = int(a) % len(labels)
            whole = s == 0 and e >= _INT64_MAX // 2 and st == 1
            if whole:
                continue
            if labels[a] == "T" and isinstance(x, _Seq) and s == -1 and e >= _INT64_MAX // 2 and st == 1:
                labels[a] = "1"
                result = _Last((x.layer,), ())
                continue
            self._refuse(f"slices [{s}:{e}:{st}] along axis {labels[a]!r}; hwsim reads whole layers and the last step")
        return self._with_axes(result, tuple(labels))

    def _concat(self, args: list):
        lasts = [a for a in args if isinstance(a, _Last)]
        if len(lasts) != len(args):
            self._refuse(f"concatenates {', '.join(_describe(a) for a in args)}; only layers' last states can be stacked")
        axis = self._attr("axis", 0) % len(lasts[0].axes)
        if any(a.axes != lasts[0].axes or a.cell != lasts[0].cell for a in lasts) or lasts[0].axes[axis] != "D":
            self._refuse("stacks last states along another axis than the layers' (h_n's first axis)")
        return _Last(tuple(k for a in lasts for k in a.layers), lasts[0].axes, lasts[0].cell)

    def _with_axes(self, x, axes):
        if isinstance(x, _Seq):
            return _Seq(x.layer, axes)
        if isinstance(x, _Last):
            return _Last(x.layers, axes, x.cell)
        return _Out(x.source, x.weight, x.bias, axes)

    # ---- constants and shape arithmetic

    def _static(self, op: str, args: list):
        if any(isinstance(a, _Aux) for a in args):
            if op not in _SHAPE_MATH:
                self._refuse("is not supported in shape arithmetic")
            if op == "ConstantOfShape":
                value = self._attr_tensor("value")
                return _Aux(value is None or not np.any(value))
            if op in _PLUMBING:
                data = [a for a in args if a is not None] if op == "Concat" else args[:1]
                return _Aux(all(_is_zero(a) for a in data))
            return _Aux(False)
        try:
            return _Const(_fold(op, [None if a is None else a.value for a in args], self))
        except _Unsupported:
            self._refuse("is not supported on constants (hwsim folds Identity, Cast, Transpose, (Un)Squeeze, "
                         "Reshape, Concat, Slice, Gather, Shape and ConstantOfShape)")

    def _constant(self, node) -> np.ndarray:
        value = self._attr_tensor("value")
        if value is not None:
            return value
        for attr in node.attribute:
            if attr.name in ("value_float", "value_int"):
                return np.array(attr.f if attr.name == "value_float" else attr.i)
            if attr.name in ("value_floats", "value_ints"):
                return np.array(list(attr.floats if attr.name == "value_floats" else attr.ints))
        self._refuse("holds no tensor value")

    def _array(self, tensor) -> np.ndarray:
        try:
            arr = self.to_array(tensor)
        except Exception as e:  # missing external data, wrong sizes
            self.label = f"initializer {tensor.name!r}"
            self._refuse(f"cannot be read ({str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__})")
        if arr.dtype.name == "bfloat16":  # ml_dtypes: NumPy has no bfloat16 of its own
            arr = arr.astype(np.float32)
        return arr

    # ---- attributes and errors

    def _attr(self, name: str, default):
        from onnx import helper

        for attr in self.node.attribute:
            if attr.name == name:
                return helper.get_attribute_value(attr)
        return default

    def _attr_tensor(self, name: str):
        for attr in self.node.attribute:
            if attr.name == name and attr.HasField("t"):
                return self._array(attr.t)
        return None

    def _ints(self, name: str, index: int):
        """An int list given as an attribute (older opsets) or as constant input ``index``."""
        value = self._attr(name, None)
        if value is not None:
            return [int(v) for v in value]
        if len(self.node.input) > index and self.node.input[index]:
            arg = self.values[self.node.input[index]]
            if not isinstance(arg, _Const):
                self._refuse(f"input {name} must be a constant, not {_describe(arg)}")
            return [int(v) for v in np.asarray(arg.value).reshape(-1)]
        return None

    def _missing(self, name: str):
        self._refuse(f"reads {name!r}, which no earlier node, initializer or graph input defines")

    def _refuse(self, what: str):
        raise ModelFileError(f"{self.source}: {self.label} {what}")


class _Unsupported(Exception):
    pass


def _fold(op: str, a: list, reader: _Reader) -> np.ndarray:
    """Evaluate a node whose inputs are all constants (the exporter's weight plumbing)."""
    if op in ("Identity", "Cast"):
        return a[0]
    if op == "Transpose":
        return np.transpose(a[0], reader._attr("perm", None))
    if op == "Squeeze":
        axes = reader._ints("axes", 1)
        return np.squeeze(a[0], axis=None if axes is None else tuple(axes))
    if op == "Unsqueeze":
        out = a[0]
        axes = reader._ints("axes", 1)
        for ax in sorted(int(x) % (out.ndim + len(axes)) for x in axes):
            out = np.expand_dims(out, ax)
        return out
    if op == "Reshape":
        shape = [d if d != 0 else a[0].shape[i] for i, d in enumerate(a[1].astype(np.int64).tolist())]
        return a[0].reshape(shape)
    if op == "Concat":
        return np.concatenate([x for x in a if x is not None], axis=reader._attr("axis", 0))
    if op == "Gather":
        return np.take(a[0], a[1].astype(np.int64), axis=reader._attr("axis", 0))
    if op == "Slice":
        starts, ends, axes, steps = (reader._ints(n, i) for n, i in (("starts", 1), ("ends", 2), ("axes", 3), ("steps", 4)))
        index = [slice(None)] * a[0].ndim
        for ax, s, e, st in zip(axes or range(len(starts)), starts, ends, steps or [1] * len(starts)):
            index[int(ax)] = slice(s, e, st)
        return a[0][tuple(index)]
    if op == "Shape":
        return np.array(a[0].shape, dtype=np.int64)
    if op == "ConstantOfShape":
        value = reader._attr_tensor("value")
        return np.full(a[0].astype(np.int64).tolist(), 0.0 if value is None else value.reshape(()))
    raise _Unsupported(op)


def _reorder(op: str, rows: np.ndarray, hidden: int) -> np.ndarray:
    """ONNX gate blocks (rows) in PyTorch's order, as a float64 copy."""
    blocks = [rows[j * hidden:(j + 1) * hidden] for j in GATE_ORDER[op]]
    return np.array(np.concatenate(blocks, axis=0), dtype=np.float64)


def _is_zero(value) -> bool:
    if isinstance(value, _Aux):
        return value.zero
    return isinstance(value, _Const) and not np.any(value.value)


def _describe(value) -> str:
    if isinstance(value, _Seq):
        return "the graph input" if value.layer < 0 else f"layer {value.layer} hidden states {value.axes}"
    if isinstance(value, _Last):
        what = "cell state" if value.cell else "last state"
        return f"layer {'/'.join(map(str, value.layers))} {what} {value.axes}"
    if isinstance(value, _Out):
        return f"a head on {_describe(value.source)}"
    if isinstance(value, _Const):
        return f"a constant of shape {value.value.shape}"
    if isinstance(value, _Aux):
        return "a shape computed at run time"
    return "nothing"


def _module_path(node_name: str, ops: tuple[str, ...]) -> str | None:
    """``rnn.`` from torch's node name ``/rnn/GRU_1``: the PyTorch module path, as a key prefix."""
    m = re.match(r"^/((?:[A-Za-z_]\w*/)+)(?:" + "|".join(ops) + r")(?:_\d+)?$", node_name or "")
    return m[1].replace("/", ".") if m else None


def _common_prefix(node_names: list[str]) -> str:
    """The recurrent nodes' common module path (``rnn.`` when they have none or differ)."""
    prefixes = {_module_path(name, ("RNN", "GRU", "LSTM")) for name in node_names}
    return (prefixes.pop() or "rnn.") if len(prefixes) == 1 else "rnn."
