"""``run_sweep``: every point of a grid, on Dask, resumable, with a progress bar.

The client builds each point's task and content key, skips the keys already in DIR/results.jsonl,
submits the rest to a ``distributed.Client`` (a ``LocalCluster`` of one single-threaded worker
process per core, or the scheduler at ``scheduler``) and appends every record as it comes back, so
a killed sweep restarted with the same arguments computes only what was missing.

A local cluster's workers are forked from the client after it has loaded what every point needs
(the modules, the data set, the model), so that a worker starts in ~0.1 s instead of ~1 s of
imports and data loading each; where fork is not safe (the client has already started Numba's
OpenMP threads, which GNU OpenMP does not survive in a forked child) they are spawned as before.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .._errors import ConfigError, HwsimError, ToolError
from ._grid import Grid
from ._point import RECORD_VERSION, compute_point, point_key, sha256, warm_up
from ._store import ResultStore


@dataclass
class SweepResult:
    out_dir: Path
    records: list[dict[str, Any]]  # every point of the grid, in grid order
    computed: int  # points computed by this run
    cached: int  # points found in results.jsonl
    workers: int
    seconds: float
    keys: list[str] = field(default_factory=list)
    start: str = ""  # how the workers started: "fork", "spawn", "scheduler" (given), "" (nothing to compute)


def tool_versions(need_yosys: bool) -> dict[str, str]:
    """Versions that enter every point's key (a new yosys or hwsim recomputes)."""
    import numpy

    from .. import __version__

    v = {"hwsim": __version__, "numpy": numpy.__version__, "record": str(RECORD_VERSION)}
    if need_yosys:
        exe = shutil.which("yosys")
        if exe is None:
            raise ToolError("yosys must be installed and on PATH for a grid with a target axis (apt install yosys)")
        v["yosys"] = subprocess.run([exe, "-V"], capture_output=True, text=True).stdout.strip()
    return v


def fork_is_safe() -> bool:
    """Whether a worker may be forked from this process: the platform has fork and this process
    has not started Numba's parallel threads (GNU OpenMP, the layer Numba picks on Linux, kills a
    forked child that uses it again)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    import sys

    par = sys.modules.get("numba.np.ufunc.parallel")
    return par is None or not getattr(par, "_is_initialized", True)


def _client(scheduler: str | None, workers: int | None, warm: Callable[[], None] | None = None):
    """A client of the scheduler at ``scheduler``, or of a new local cluster of ``workers``
    single-threaded worker processes (one per core), forked after ``warm`` where that is safe."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - a dependency; kept for trimmed installs
        raise ToolError("hwsim sweep needs dask[distributed]: pip install 'dask[distributed]'") from None
    if scheduler is not None:
        try:
            return Client(scheduler, timeout="20s"), None, "scheduler"
        except (OSError, TimeoutError) as e:
            raise ToolError(f"scheduler must be reachable at {scheduler}, not: {e}") from None
    import dask

    n = workers or os.cpu_count() or 1
    method = "spawn"
    if warm is not None and fork_is_safe():
        warm()
        method = "fork" if fork_is_safe() else "spawn"  # warm must not start the threads; checked again
    with dask.config.set({"distributed.worker.multiprocessing-method": method}):
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        )
    return Client(cluster), cluster, method


def build_tasks(models: list[Path], data: str, grid: Grid, out_dir: Path, *, split: str | None = "test",
                limit: int | None = None, pnr: bool = False) -> list[dict[str, Any]]:
    """One task dict per grid point, each with its content key."""
    blobs = []
    for p in models:
        try:
            b = Path(p).read_bytes()
        except OSError as e:
            raise ConfigError(f"model file must be readable, not {p}: {e.strerror}") from None
        blobs.append((Path(p).name, Path(p).suffix or ".safetensors", b, sha256(b)))
    points = grid.points(len(models))
    versions = tool_versions(any(pt.target for pt in points))
    base = grid.base.to_dict()
    data_id = data
    if Path(data).is_file():  # a file's content, not its name, keys the point
        data_id = f"{Path(data).name}:{sha256(Path(data).read_bytes())}"
    tasks = []
    for pt in points:
        name, suffix, b, digest = blobs[pt.model]
        d = pt.to_dict()
        key = point_key({
            "model": digest, "point": {**d, "model": None}, "base": base, "data": data_id, "split": split,
            "limit": limit, "pnr": pnr, "versions": versions,
        })
        tasks.append({
            "key": key, "point": d, "model_name": name, "model_suffix": suffix, "model_bytes": b,
            "model_sha256": digest, "base": base, "data": data, "split": split, "limit": limit, "pnr": pnr,
            "yosys": versions.get("yosys", ""), "cache_dir": str((out_dir / "cache" / "synth").absolute()),
        })
    return tasks


def run_sweep(
    models: list[str | os.PathLike],
    data: str,
    grid: Grid,
    out_dir: str | os.PathLike,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    split: str | None = None,
    limit: int | None = None,
    pnr: bool = False,
    progress: bool = True,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> SweepResult:
    """Compute every point of ``grid`` for every model and return the records in grid order.

    Records already in ``out_dir/results.jsonl`` (same key) are reused; new ones are appended
    as they finish. Quantized models land in ``out_dir/models/<sha256>.safetensors``. ``split``
    is ``load_data``'s: None reads the test part, or the whole of a data file of one set.
    """
    import time

    from .._fsutil import atomic_write

    t0 = time.perf_counter()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output must be a directory, not a file: {out}")
    if pnr:
        from ._point import pnr_function

        if pnr_function() is None:
            raise ToolError("--pnr needs place and route in `hwsim synth` (hwsim.export._synth), which this hwsim lacks")
    from ..data._datasets import resolve_split

    split = resolve_split(data, split)  # refused here, not point by point; None: the whole of a one-set file
    tasks = build_tasks([Path(m) for m in models], data, grid, out, split=split, limit=limit, pnr=pnr)
    store = ResultStore(out)
    (out / "models").mkdir(exist_ok=True)
    todo = [t for t in tasks if t["key"] not in store]
    cached = len({t["key"] for t in tasks} - {t["key"] for t in todo})
    n_workers = 0
    computed = 0
    start = ""
    if todo:
        from distributed import as_completed
        from tqdm.auto import tqdm

        client, cluster, start = _client(scheduler, workers, warm=lambda: warm_up(todo[0]))
        try:
            n_workers = len(client.scheduler_info(n_workers=-1).get("workers", {})) or 1
            seen: set[str] = set()
            futures = []
            for t in todo:
                if t["key"] in seen:  # two models or axes that coincide: compute once
                    continue
                seen.add(t["key"])
                futures.append(client.submit(compute_point, t, key=f"hwsim-point-{t['key']}", pure=False))
            bar = tqdm(total=len(tasks), initial=cached, desc="sweep", unit="pt", disable=not progress)
            for fut in as_completed(futures):
                rec, qbytes = fut.result()
                if qbytes is not None:
                    qpath = out / "models" / f"{rec['qmodel_sha256'][:16]}.safetensors"
                    if not qpath.exists():
                        atomic_write(qpath, lambda tmp, b=qbytes: Path(tmp).write_bytes(b))
                    rec["model_file"] = f"models/{qpath.name}"
                store.append(rec)
                computed += 1
                if on_record is not None:
                    on_record(rec)
                bar.update(1)
            bar.close()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    records = [store.records[t["key"]] for t in tasks]
    errs = [r for r in records if r.get("error")]
    if errs and len(errs) == len(records):
        raise HwsimError(f"every point was refused; the first: {errs[0]['error']}")
    return SweepResult(out, records, computed, cached, n_workers,
                       round(time.perf_counter() - t0, 3), [t["key"] for t in tasks], start)
