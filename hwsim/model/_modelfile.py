"""Reading and writing models: PyTorch RNN/GRU/LSTM state_dicts in ``.safetensors``, ``.npz`` or ``.pt``, and ONNX graphs.

A model file holds the tensors of one ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` (any ``num_layers``,
with or without bias) under one common key prefix, plus at most one ``nn.Linear`` head (a
``*weight`` / ``*bias`` pair). No torch import: safetensors is read with its NumPy front end and
``.npz`` with ``np.load(allow_pickle=False)``, so a model file can never run code. ``torch.save``
files (``.pt`` / ``.pth``) are read by ``hwsim.model._torchfile`` with ``torch.load(weights_only=True)``
when PyTorch is installed. ONNX graphs (``.onnx``, recognised by suffix: protobuf has no magic
number) are read by ``hwsim.model._onnx`` with the ``onnx`` package, converted to a state_dict.

The quantization record travels with the weights: safetensors metadata key ``hwsim.quant``, or a
0-d unicode array ``__hwsim_quant__`` in an ``.npz``; both hold ``QuantSpec.to_json()``.

Every problem with a file is a ``ModelFileError`` whose one-line message names the offending key
and the shapes involved.
"""

from __future__ import annotations

import json
import os
import re
import struct
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np

from .._fsutil import atomic_write as _atomic_write

from .._errors import ModelFileError
from ._model import CELL_GATES, Head, Layer, QuantSpec, RNNModel

#: safetensors metadata key and .npz array name of the quantization record.
QUANT_META_KEY = "hwsim.quant"
QUANT_NPZ_KEY = "__hwsim_quant__"

SUFFIXES = (".safetensors", ".npz")

_RECURRENT = re.compile(r"^(?P<prefix>.*?)(?P<kind>weight_ih|weight_hh|bias_ih|bias_hh)_l(?P<k>\d+)(?P<rev>_reverse)?$")
_HEAD = re.compile(r"^(?P<prefix>.*?)(?P<kind>weight|bias)$")
# Raw safetensors dtypes that NumPy cannot hold directly; BF16 is widened by hand.
_FLOAT_DTYPES = (np.float16, np.float32, np.float64)


# --------------------------------------------------------------------------------------------
# public API


def load_model(path: str | os.PathLike, cell: str | None = None) -> RNNModel:
    """Load a PyTorch RNN/GRU/LSTM state_dict (plus optional linear head) from a model file.

    Parameters
    ----------
    path
        A ``.safetensors``, ``.npz`` or ``torch.save`` (``.pt`` / ``.pth``) file, recognised by
        content (the suffix is not trusted). A torch.save file may hold a bare state_dict or a
        checkpoint with one inside (see ``hwsim.model._torchfile``); reading it needs PyTorch.
        An ``.onnx`` file holds RNN/GRU/LSTM nodes and a Gemm or MatMul+Add head (see
        ``hwsim.model._onnx``); reading it needs the ``onnx`` package (``hwsim[onnx]``).
    cell
        ``"rnn_tanh"``, ``"rnn_relu"``, ``"gru"`` or ``"lstm"``. By default the cell type follows
        from the row count of ``weight_hh_l0`` (H, 3H, 4H), which cannot tell tanh from relu, so
        ``cell="rnn_relu"`` is needed for ReLU RNNs (an ONNX graph names its activation). A cell
        that contradicts the shapes or the graph is an error.

    Returns
    -------
    RNNModel
        All tensors as float64 copies; ``quant`` set when the file carries a quantization record.
    """
    p = Path(path)
    tensors, quant_text, file_cell = _read_file(p)
    if file_cell is not None:  # an ONNX graph names its activations: it can tell tanh from relu
        if cell is not None and cell != file_cell:
            raise ModelFileError(f"{p}: cell {cell!r} contradicts the graph, whose recurrent nodes are {file_cell}")
        cell = file_cell
    quant = None
    if quant_text is not None:
        try:
            quant = QuantSpec.from_json(quant_text)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ModelFileError(f"{p}: quantization record {QUANT_META_KEY!r} must be a QuantSpec JSON object ({e})") from None
    return model_from_tensors(tensors, cell=cell, quant=quant, source=str(p))


def save_model(model: RNNModel, path: str | os.PathLike, *, dtype: type = np.float32) -> None:
    """Write ``model`` to ``path`` (``.safetensors`` or ``.npz`` by suffix), atomically.

    Tensors keep PyTorch's names (``model.prefix`` / ``model.head_prefix``), so the file loads
    back into ``nn.GRU(...).load_state_dict`` after stripping the prefix. ``dtype`` is float32 by
    default, like torch; quantized weights ``m * 2**s`` are exact in float32.
    The file is first written next to its target and then renamed over it, so a reader never sees
    a half-written model.
    """
    p = Path(path)
    if p.suffix not in SUFFIXES:
        raise ModelFileError(f"model file name must end in .safetensors or .npz, not {p.name!r}")
    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"save dtype must be float32 or float64, not {np.dtype(dtype)}")
    tensors = model_to_tensors(model, dtype=dtype)
    quant_text = None if model.quant is None else model.quant.to_json()
    if p.suffix == ".safetensors":
        from safetensors.numpy import save_file

        metadata = {} if quant_text is None else {QUANT_META_KEY: quant_text}

        def write(tmp: str) -> None:
            save_file(tensors, tmp, metadata=metadata or None)

    else:
        if QUANT_NPZ_KEY in tensors:  # pragma: no cover - torch names can never collide
            raise ModelFileError(f"tensor name {QUANT_NPZ_KEY!r} is reserved")
        arrays = dict(tensors)
        if quant_text is not None:
            arrays[QUANT_NPZ_KEY] = np.array(quant_text)  # 0-d '<U' array, loads without pickle

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:  # a file object, so np.savez appends no suffix
                np.savez(f, **arrays)

    atomic_write(p, write)


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_name)`` on a temporary file beside ``path``, then rename it over ``path``."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ModelFileError(f"output directory must exist, not found: {directory}")
    _atomic_write(path, write)


def model_to_tensors(model: RNNModel, *, dtype: type = np.float32) -> dict[str, np.ndarray]:
    """The model's tensors under their PyTorch names (the state_dict a model file holds)."""
    out: dict[str, np.ndarray] = {}
    for key, (kind, k, name) in model.tensor_keys().items():
        arr = getattr(model.layers[k] if kind == "layer" else model.head, name)
        out[key] = np.ascontiguousarray(arr, dtype=dtype)
    return out


def model_from_tensors(
    tensors: Mapping[str, np.ndarray],
    *,
    cell: str | None = None,
    quant: QuantSpec | None = None,
    source: str = "model",
) -> RNNModel:
    """Build an ``RNNModel`` from a state_dict-like mapping of name -> array, validating it.

    This is ``load_model`` without the file: use it on a state_dict converted with
    ``{k: v.numpy() for k, v in module.state_dict().items()}``.
    """
    if cell is not None and cell not in CELL_GATES:
        raise ModelFileError(f"cell must be one of {', '.join(CELL_GATES)}, not {cell!r}")
    arrays = {k: _as_float(k, v, source) for k, v in tensors.items()}

    # recurrent tensors: one prefix, layers 0..L-1
    rec: dict[tuple[str, int], str] = {}
    prefixes = set()
    for key in arrays:
        m = _RECURRENT.match(key)
        if m is None:
            continue
        if m["rev"]:
            raise ModelFileError(
                f"{source}: bidirectional RNNs are not supported (found {key!r}); "
                "hwsim simulates one direction only"
            )
        prefixes.add(m["prefix"])
        rec[(m["kind"], int(m["k"]))] = key
    if not rec:
        raise ModelFileError(
            f"{source}: no recurrent layers: expected keys like 'weight_ih_l0' and 'weight_hh_l0' "
            f"(found {_key_list(arrays)})"
        )
    if len(prefixes) > 1:
        raise ModelFileError(
            f"{source}: recurrent keys must share one prefix, found {', '.join(repr(p) for p in sorted(prefixes))}"
        )
    prefix = prefixes.pop()
    num_layers = max(k for _, k in rec) + 1
    has_bias = any(kind.startswith("bias") for kind, _ in rec)
    needed = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if has_bias else ())
    for k in range(num_layers):
        for kind in needed:
            if (kind, k) not in rec:
                missing = f"{prefix}{kind}_l{k}"
                raise ModelFileError(f"{source}: missing key {missing!r} (layer {k} of {num_layers})")

    # cell type and hidden size from weight_hh_l0
    w_hh0_key = f"{prefix}weight_hh_l0"
    w_hh0 = arrays[w_hh0_key]
    if w_hh0.ndim != 2 or w_hh0.shape[1] == 0:
        raise ModelFileError(f"{source}: {w_hh0_key!r} must be a 2-D (G*H, H) matrix, not shape {w_hh0.shape}")
    hidden = w_hh0.shape[1]
    rows = w_hh0.shape[0]
    gates_of_rows = {g * hidden: g for g in sorted(set(CELL_GATES.values()))}
    if cell is None:
        if rows not in gates_of_rows:
            raise ModelFileError(
                f"{source}: {w_hh0_key!r} must have H, 3H or 4H rows for H = {hidden} columns "
                f"(RNN, GRU, LSTM), not {rows}"
            )
        cell = {1: "rnn_tanh", 3: "gru", 4: "lstm"}[gates_of_rows[rows]]
    elif rows != CELL_GATES[cell] * hidden:
        raise ModelFileError(
            f"{source}: cell {cell!r} needs {CELL_GATES[cell]}H = {CELL_GATES[cell] * hidden} rows in "
            f"{w_hh0_key!r} (H = {hidden}), not {rows}: shape {w_hh0.shape}"
        )
    gh = CELL_GATES[cell] * hidden

    layers = []
    for k in range(num_layers):
        w_ih = arrays[rec[("weight_ih", k)]]
        in_size = w_ih.shape[1] if (k == 0 and w_ih.ndim == 2) else hidden
        if k == 0 and w_ih.ndim == 2 and in_size == 0:
            in_size = 1  # force the shape error below: an RNN needs at least one input
        expected = {"weight_ih": (gh, in_size), "weight_hh": (gh, hidden), "bias_ih": (gh,), "bias_hh": (gh,)}
        fields = {}
        for kind in needed:
            key = rec[(kind, k)]
            _check_shape(key, arrays[key], expected[kind], source)
            fields[kind] = arrays[key]
        layers.append(
            Layer(
                w_ih=fields["weight_ih"],
                w_hh=fields["weight_hh"],
                b_ih=fields.get("bias_ih"),
                b_hh=fields.get("bias_hh"),
            )
        )

    # the head: whatever is left must be one (weight, bias?) pair
    rest = [k for k in arrays if k not in set(rec.values())]
    head = None
    head_prefix = "head."
    if rest:
        groups: dict[str, dict[str, str]] = {}
        for key in rest:
            m = _HEAD.match(key)
            if m is None:
                raise ModelFileError(
                    f"{source}: unexpected tensor {key!r} {arrays[key].shape}: a model file holds one "
                    "RNN/GRU/LSTM and at most one linear head"
                )
            groups.setdefault(m["prefix"], {})[m["kind"]] = key
        candidates = sorted(p for p, g in groups.items() if "weight" in g)
        if len(candidates) > 1:
            raise ModelFileError(
                f"{source}: more than one candidate head: "
                + ", ".join(repr(p + "weight") for p in candidates)
                + "; a model file holds at most one linear head"
            )
        for p, g in groups.items():
            if "weight" not in g:
                raise ModelFileError(f"{source}: unexpected tensor {g['bias']!r}: no matching {p + 'weight'!r}")
        head_prefix = candidates[0]
        wkey = f"{head_prefix}weight"
        weight = arrays[wkey]
        if weight.ndim != 2 or weight.shape[0] == 0:
            raise ModelFileError(f"{source}: {wkey!r} must have shape (C, {hidden}), not {weight.shape}")
        _check_shape(wkey, weight, (weight.shape[0], hidden), source)
        bias = None
        if "bias" in groups[head_prefix]:
            bkey = f"{head_prefix}bias"
            bias = arrays[bkey]
            _check_shape(bkey, bias, (weight.shape[0],), source)
        head = Head(weight=weight, bias=bias)

    for key, arr in arrays.items():
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        if bad:
            raise ModelFileError(f"{source}: {key!r} holds {bad} NaN/Inf values; weights must be finite")

    model = RNNModel(cell=cell, layers=tuple(layers), head=head, quant=quant, prefix=prefix, head_prefix=head_prefix)
    if quant is not None:
        unknown = sorted(set(quant.scales) - set(model.tensor_keys()))
        if unknown:
            raise ModelFileError(
                f"{source}: quantization record names tensors the model does not hold: {', '.join(map(repr, unknown))}"
            )
        for key, s in quant.scales.items():
            a = model.tensor(key)
            if isinstance(s, tuple) and (a.ndim != 2 or len(s) != a.shape[0]):
                raise ModelFileError(f"{source}: quantization record gives {key!r} {len(s)} per-row scales; per-row "
                                     f"scales must be one per row of a weight matrix, and it has shape {a.shape}")
    return model


# --------------------------------------------------------------------------------------------
# file readers


def _read_file(p: Path) -> tuple[dict[str, np.ndarray], str | None, str | None]:
    """Raw tensors, the quantization JSON (or None) and the cell an ONNX graph names (or None) of a
    model file, chosen by its content (ONNX by its suffix)."""
    try:
        with open(p, "rb") as f:
            head = f.read(9)
    except FileNotFoundError:
        raise ModelFileError(f"model file must exist, not found: {p}") from None
    except IsADirectoryError:
        raise ModelFileError(f"model file must be a file, not a directory: {p}") from None
    except OSError as e:
        raise ModelFileError(f"model file cannot be read: {p}: {e.strerror}") from None
    from ._torchfile import is_torch_save, read_torch

    # safetensors first: its u64 header length may begin with 0x80 (a 0x380-byte header), which
    # is_torch_save would take for a pickle; a pickle never has "{" at byte 8.
    if len(head) == 9 and head[8:9] == b"{":
        return *_read_safetensors(p), None
    if is_torch_save(p, head):
        return read_torch(p), None, None
    if head[:4] == b"PK\x03\x04" or head[:4] == b"PK\x05\x06":
        return *_read_npz(p), None
    if p.suffix == ".safetensors":
        raise ModelFileError(f"{p}: not a safetensors file (truncated or corrupt header)")
    if p.suffix.lower() == ".onnx":
        from ._onnx import read_onnx

        tensors, cell = read_onnx(p)
        return tensors, None, cell
    raise ModelFileError(
        f"{p}: model file must be .safetensors, .npz, a torch.save .pt/.pth or an .onnx graph, not {_describe(head)}"
    )


def _describe(head: bytes) -> str:
    if head[:6] == b"\x93NUMPY":
        return "a single-array .npy file"
    if not head:
        return "an empty file"
    return "an unknown format"


def _read_npz(p: Path) -> tuple[dict[str, np.ndarray], str | None]:
    from .._validate import check_npz

    check_npz(p, error=ModelFileError)  # every header against its size, before anything is allocated
    try:
        npz = np.load(p, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise ModelFileError(f"{p}: not a readable .npz archive (truncated or corrupt: {e})") from None
    with npz:
        names = npz.zip.namelist() if hasattr(npz, "zip") else [f + ".npy" for f in npz.files]
        foreign = [n for n in names if not n.endswith(".npy")]
        if foreign:
            hint = " (a torch.save archive?)" if any(n.endswith("data.pkl") for n in foreign) else ""
            raise ModelFileError(f"{p}: not an .npz archive{hint}: member {foreign[0]!r} is not a .npy array")
        tensors: dict[str, np.ndarray] = {}
        quant = None
        for name in npz.files:
            try:
                arr = npz[name]
            except ValueError as e:
                if "pickle" in str(e).lower():
                    raise ModelFileError(
                        f"{p}: array {name!r} holds Python objects (pickled); model files must hold plain numeric arrays"
                    ) from None
                raise ModelFileError(f"{p}: array {name!r} cannot be read: {e}") from None
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise ModelFileError(f"{p}: array {name!r} cannot be read (truncated or corrupt: {e})") from None
            if name == QUANT_NPZ_KEY:
                if arr.ndim != 0 or arr.dtype.kind != "U":
                    raise ModelFileError(
                        f"{p}: {QUANT_NPZ_KEY!r} must be a 0-d unicode array holding JSON, not {arr.dtype} {arr.shape}"
                    )
                quant = str(arr[()])
            else:
                tensors[name] = arr
    return tensors, quant


def _read_safetensors(p: Path) -> tuple[dict[str, np.ndarray], str | None]:
    from safetensors import safe_open

    try:
        with safe_open(str(p), framework="np") as f:
            meta = f.metadata() or {}
            tensors = {}
            bf16 = []
            for key in f.keys():
                if f.get_slice(key).get_dtype() == "BF16":
                    bf16.append(key)
                else:
                    tensors[key] = f.get_tensor(key)
    except Exception as e:  # SafetensorError is not importable by a stable name across versions
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ModelFileError(f"{p}: not a readable safetensors file (truncated or corrupt: {first})") from None
    if bf16:
        tensors.update(_read_bf16(p, bf16))
    return tensors, meta.get(QUANT_META_KEY)


def _read_bf16(p: Path, keys: list[str]) -> dict[str, np.ndarray]:
    """bfloat16 tensors widened to float32 (NumPy has no bfloat16; safetensors' np reader refuses)."""
    with open(p, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for key in keys:
            info = header[key]
            start, stop = info["data_offsets"]
            f.seek(base + start)
            raw = np.frombuffer(f.read(stop - start), dtype="<u2")
            out[key] = (raw.astype(np.uint32) << 16).view(np.float32).reshape(info["shape"])
    return out


# --------------------------------------------------------------------------------------------
# checks


def _as_float(key: str, arr, source: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype.type not in _FLOAT_DTYPES:
        raise ModelFileError(
            f"{source}: {key!r} must hold floats (float16/bfloat16/float32/float64), not {arr.dtype}"
        )
    return np.array(arr, dtype=np.float64)  # a private, writable float64 copy


def _check_shape(key: str, arr: np.ndarray, shape: tuple[int, ...], source: str) -> None:
    if arr.shape != shape:
        raise ModelFileError(f"{source}: {key!r} must have shape {shape}, not {arr.shape}")


def _key_list(arrays: Mapping[str, np.ndarray], limit: int = 5) -> str:
    keys = sorted(arrays)
    if not keys:
        return "no tensors"
    shown = ", ".join(repr(k) for k in keys[:limit])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")
