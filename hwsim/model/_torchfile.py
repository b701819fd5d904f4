"""Reading ``torch.save`` files (``.pt`` / ``.pth``): state_dicts and checkpoints that hold one.

``torch.load(weights_only=True)`` is the only reader: it restores tensors and plain containers and
refuses any other pickled object, so a model file can never run code. Without PyTorch the reader
stops with one line that says how to re-save the file as safetensors.

What is understood, as PyTorch users save models:

- a bare ``state_dict`` (``torch.save(model.state_dict(), path)``);
- a checkpoint dict holding one under ``state_dict`` (PyTorch Lightning), ``model_state_dict`` (the
  PyTorch tutorials), ``model``, ``net`` or ``weights``; other entries (optimizer state, epoch,
  hyper-parameters) are ignored;
- wrapper prefixes: ``module.`` (``DataParallel`` / ``DistributedDataParallel``), ``_orig_mod.``
  (``torch.compile``) and ``model.`` (a Lightning module's attribute) when every key carries it.
  Any other common prefix (``rnn.``, ``encoder.``) is left to ``model_from_tensors``.

A whole ``nn.Module`` saved with ``torch.save(model, path)`` is refused (restoring it would mean
unpickling arbitrary classes); the message says to save ``model.state_dict()`` instead.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .._errors import ModelFileError

#: Checkpoint keys that hold the state_dict, in the order they are tried.
STATE_KEYS = ("state_dict", "model_state_dict", "model", "net", "weights")
#: Prefixes that wrappers put in front of every key; stripped when every key has one.
WRAPPER_PREFIXES = ("module.", "_orig_mod.", "model.")


def is_torch_save(p: Path, head: bytes) -> bool:
    """Whether ``p`` (first bytes ``head``) is a ``torch.save`` file: a zip with ``data.pkl``, or a legacy pickle."""
    if head[:1] == b"\x80":  # a pickle protocol header: torch.save's legacy (pre-1.6) format
        return True
    if head[:4] != b"PK\x03\x04":
        return False
    try:
        with zipfile.ZipFile(p) as z:
            return any(n == "data.pkl" or n.endswith("/data.pkl") for n in z.namelist())
    except (zipfile.BadZipFile, OSError):  # no central directory (truncated): torch writes data.pkl first
        with open(p, "rb") as f:
            return b"/data.pkl" in f.read(4096)


def resave_hint(p: Path) -> str:
    """The one-liner that re-saves a torch.save state_dict as safetensors (run where torch is)."""
    return (
        f"python -c \"import torch, safetensors.torch as s; "
        f"s.save_file(torch.load('{p}', weights_only=True), '{p.with_suffix('.safetensors')}')\""
    )


def read_torch(p: Path) -> dict[str, np.ndarray]:
    """The state_dict in a ``torch.save`` file as NumPy arrays (bfloat16 widened to float32)."""
    try:
        import torch
    except ImportError:
        raise ModelFileError(
            f"{p}: a torch.save file needs PyTorch to read (pip install 'hwsim[train]'), "
            f"or re-save it as safetensors where torch is: {resave_hint(p)}"
        ) from None
    import pickle

    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelFileError(
            f"{p}: holds Python objects that torch.load(weights_only=True) refuses to unpickle "
            f"(a whole nn.Module?); save model.state_dict() instead ({first})"
        ) from None
    except Exception as e:  # truncated zip, bad magic number, ...: torch raises many types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelFileError(f"{p}: not a readable torch.save file (truncated or corrupt: {first})") from None
    state = find_state_dict(obj, str(p))
    out = {}
    for key, t in state.items():
        t = t.detach().cpu()
        out[key] = (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    return out


def find_state_dict(obj, source: str) -> dict:
    """The tensors of a state_dict or of the checkpoint entry that holds one, wrapper prefixes stripped."""
    import torch

    def tensors(d: Mapping) -> dict:
        return {k: v for k, v in d.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}

    if not isinstance(obj, Mapping):
        raise ModelFileError(f"{source}: a torch.save file must hold a state_dict (a dict of tensors), not {type(obj).__name__}")
    state = tensors(obj)
    if not state:
        for key in STATE_KEYS:
            if isinstance(obj.get(key), Mapping) and tensors(obj[key]):
                state = tensors(obj[key])
                break
        else:
            keys = ", ".join(repr(k) for k in list(obj)[:6]) or "none"
            raise ModelFileError(
                f"{source}: a torch.save checkpoint must hold a state_dict (a dict of tensors) or one under "
                f"{', '.join(repr(k) for k in STATE_KEYS)}; its keys are {keys}"
            )
    return strip_wrapper_prefixes(state)


def strip_wrapper_prefixes(state: dict) -> dict:
    """Drop ``module.`` / ``_orig_mod.`` / ``model.`` while every key starts with one of them."""
    changed = True
    while changed and state:
        changed = False
        for prefix in WRAPPER_PREFIXES:
            if all(k.startswith(prefix) for k in state):
                state = {k[len(prefix):]: v for k, v in state.items()}
                changed = True
    return state
