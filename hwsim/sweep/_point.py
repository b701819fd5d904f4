"""One design point, computed on a Dask worker: quantize, choose formats, check, schedule, synthesize.

``compute_point`` takes a plain dict (the task) and returns ``(record, qmodel_bytes)``: the JSON
record of the point and the bytes of the quantized model it measured (the client stores them, so
``best.toml`` plus that file reproduce the metric with ``hwsim check``). Everything it needs
travels in the task (model bytes included) except the data set (a built-in name or a path the
workers can read) and the synthesis cache directory (shared with the client on one machine or a
shared file system; a worker that cannot reach it synthesizes without the cache).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from .._errors import HwsimError
from ..analysis._loss import loss

#: Bump when a record's meaning changes: it is part of every point's key.
RECORD_VERSION = 1


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def point_key(task_inputs: dict[str, Any]) -> str:
    """Content hash of everything a point's result depends on (canonical JSON of the inputs)."""
    return sha256(json.dumps(task_inputs, sort_keys=True, separators=(",", ":")).encode())[:32]


@functools.lru_cache(maxsize=4)
def _dataset(data: str, split: str | None, limit: int | None, input_size: int):
    from ..data._datasets import load_data

    ds = load_data(data, split=split, input_size=input_size)
    return ds.head(limit) if limit is not None else ds


def _load_model_bytes(data: bytes, suffix: str):
    from ..model._modelfile import load_model

    with tempfile.TemporaryDirectory(prefix="hwsim-sweep-") as tmp:
        p = Path(tmp) / f"model{suffix}"
        p.write_bytes(data)
        return load_model(p)


def _model_bytes(model) -> bytes:
    from ..model._modelfile import save_model

    with tempfile.TemporaryDirectory(prefix="hwsim-sweep-") as tmp:
        p = Path(tmp) / "q.safetensors"
        save_model(model, p)
        return p.read_bytes()


def quantized(model, method: str):
    """(quantized model, float model or None) for a grid method: ``given`` or ``METHOD[:BITS]``."""
    from .._errors import QuantError
    from ..model._quant import quantize_model

    if method == "given":
        if model.quant is None:
            raise QuantError("method given needs a quantized checkpoint; this model is float (name a method)")
        return model, None
    name, _, bits = method.partition(":")
    return quantize_model(model, name, bits=int(bits) if bits else None), model


def resolve_config(qmodel, point: dict[str, Any], base: dict[str, Any], x=None):
    """The contract of a point: base, then the point's field values, then its widths."""
    from ..analysis._advise import observed_ranges, suggest_config
    from ..datapath._config import DatapathConfig

    fields = {k: v for k, v in point.items() if k not in ("model", "method", "bits", "formats", "target")}
    cfg = DatapathConfig.from_dict({**base, **fields, **point.get("formats", {})}, source="sweep point")
    if point.get("bits") is not None:
        cfg = suggest_config(qmodel, observed_ranges(qmodel, x), cfg, bits=point["bits"])
    return cfg


def _export_key(export_dir: Path, target: str, yosys: str) -> str:
    """Hash of what yosys reads (rtl/*.v and the ROM images) plus the target and yosys version."""
    h = hashlib.sha256(f"{target}\0{yosys}\0".encode())
    for p in sorted(export_dir.rglob("*")):
        if p.is_file() and p.parent.name in ("rtl", "rom") and p.suffix in (".v", ".vh", ".hex"):
            h.update(p.relative_to(export_dir).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:32]


def _synth(qmodel, cfg, target: str, cache_dir: str | None, yosys: str, pnr: bool) -> dict[str, Any]:
    from ..export import write_export
    from ..export import _synth as synth_mod
    from .._fsutil import atomic_write

    with tempfile.TemporaryDirectory(prefix="hwsim-sweep-") as tmp:
        ex = Path(tmp) / "export"
        write_export(qmodel, ex, cfg, formats=("hex",))
        key = _export_key(ex, target, yosys) + ("-pnr" if pnr else "")
        cache = None if cache_dir is None else Path(cache_dir) / f"{key}.json"
        if cache is not None and cache.is_file():
            try:
                out = json.loads(cache.read_text())
                return {**out, "synth_key": key, "synth_cached": True}
            except (OSError, json.JSONDecodeError):
                pass  # a damaged entry is recomputed
        rep = synth_mod.synthesize(ex, target)
        out = {"luts": rep.luts, "ffs": rep.ffs, "brams": rep.brams, "dsps": rep.dsps, "synth_seconds": rep.seconds}
        if pnr:
            fmax = pnr_fmax(ex, target)
            out["fmax_mhz"] = fmax
        if cache is not None:
            try:
                cache.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(cache, lambda t: Path(t).write_text(json.dumps(out)))
            except OSError:
                pass  # an unreachable cache only costs time
        return {**out, "synth_key": key, "synth_cached": False}


def pnr_function():
    """``hwsim synth``'s place-and-route entry point, or None where this hwsim has none."""
    from ..export import _synth as synth_mod

    for name in ("place_and_route", "pnr", "run_pnr"):
        fn = getattr(synth_mod, name, None)
        if callable(fn):
            return fn
    return None


def pnr_fmax(export_dir: Path, target: str) -> float | None:
    fn = pnr_function()
    if fn is None:
        return None
    rep = fn(export_dir, target)
    d = rep if isinstance(rep, dict) else getattr(rep, "to_dict", lambda: vars(rep))()
    for k in ("fmax_mhz", "fmax"):
        if d.get(k) is not None:
            return float(d[k])
    return None


def warm_up(task: dict[str, Any]) -> None:
    """Load into this process what computing ``task`` needs before any kernel runs: the modules,
    the model and the data set (``_dataset`` keeps it), so that processes forked from this one
    start with them. Runs no Numba kernel (see ``_run.fork_is_safe``); a refusal is left to the
    point itself."""
    from ..analysis import _check  # noqa: F401  the modules a point imports
    from ..datapath import _plan, _schedule  # noqa: F401

    try:  # what Numba imports when it first loads a cached kernel (scipy.linalg among them): ~0.3 s
        from numba.core.registry import cpu_target

        cpu_target.target_context.refresh()
    except (ImportError, AttributeError):  # pragma: no cover - another Numba: the worker loads them
        pass
    try:
        model = _load_model_bytes(task["model_bytes"], task["model_suffix"])
        _dataset(task["data"], task["split"], task["limit"], model.input_size)
    except HwsimError:
        pass


def compute_point(task: dict[str, Any]) -> tuple[dict[str, Any], bytes | None]:
    """Compute one point (see the module docstring); a refused configuration is a record with
    ``error`` set, not an exception, so the sweep goes on and the point counts as done."""
    import numba

    from ..analysis._check import run_check
    from ..datapath._plan import lower
    from ..datapath._schedule import cycles_per_step, sequence_cycles

    numba.set_num_threads(1)  # the sweep is parallel over points; one core per worker
    t0 = time.perf_counter()
    point = task["point"]
    rec: dict[str, Any] = {
        "key": task["key"],
        "point": point,
        "model": task["model_name"],
        "model_sha256": task["model_sha256"],
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }
    qbytes = None
    try:
        model = _load_model_bytes(task["model_bytes"], task["model_suffix"])
        qm, fm = quantized(model, point["method"])
        ds = _dataset(task["data"], task["split"], task["limit"], qm.input_size)
        cfg = resolve_config(qm, point, task["base"], ds.x)
        r = run_check(qm, ds, cfg, float_model=fm)
        plan = lower(qm, cfg)
        sched = cycles_per_step(plan)
        qbytes = task["model_bytes"] if point["method"] == "given" else _model_bytes(qm)
        ref = r["float_metric"] if r["float_metric"] is not None else r["quant_metric"]
        rec.update(
            config=cfg.to_dict(),
            qmodel_sha256=sha256(qbytes),
            metric=r["metric"],
            data=r["data"],  # the split included
            n_sequences=r["n_sequences"],
            float_metric=r["float_metric"],
            quant_metric=r["quant_metric"],
            fixed_metric=r["fixed_metric"],
            reference_metric=ref,
            loss=loss(r["metric"], ref, r["fixed_metric"]),
            argmax_flips=r["argmax_flips"],
            saturations=sum(r["saturations"].values()),
            saturations_by_node=r["saturations"],
            drift_last_step=r["drift"][-1],  # mean |h fixed - h quant| at the last step
            quantization_loss=None if r["quantization_loss"] is None else r["quantization_loss"]["layers"],
            cycles_per_step=sched["step"],
            step_period=sched["step_period"],
            latency_cycles=sequence_cycles(plan, ds.steps),
            code_bits=qm.quant.bits,
        )
        if point.get("target"):
            rec["resources"] = _synth(qm, cfg, point["target"], task.get("cache_dir"), task["yosys"], task["pnr"])
        rec["error"] = None
    except HwsimError as e:
        rec["error"] = str(e)
    rec["seconds"] = round(time.perf_counter() - t0, 3)
    rec["finished"] = time.time()
    return rec, qbytes
