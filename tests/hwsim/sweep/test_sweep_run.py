"""hwsim.sweep.run_sweep on real Dask clusters: a LocalCluster, an external scheduler + worker on
127.0.0.1, and a sweep killed mid-way and restarted (every point computed once)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwsim.model._modelfile import save_model
from hwsim.sweep import RESULTS_NAME, parse_grid, run_sweep

DEFAULT = Path(__file__).parents[3] / "hwsim" / "data" / "default_gru.safetensors"
LIMIT = 40  # sequences of digits per point: the tests check the machinery, not the accuracy


@pytest.fixture(scope="module")
def lstm_file(tmp_path_factory):
    """A user's float LSTM (random, digits-shaped: 8 inputs, 10 classes)."""
    from helpers import make_model

    p = tmp_path_factory.mktemp("m") / "user_lstm.safetensors"
    save_model(make_model("lstm", 8, 8, classes=10, seed=3), p)
    return p


def _lines(d: Path) -> list[dict]:
    return [json.loads(ln) for ln in (d / RESULTS_NAME).read_text().splitlines()]


def test_local_cluster_sweep_then_resume_computes_nothing(tmp_path, lstm_file):
    grid = parse_grid({"axes": {"method": ["given", "pow2-ternary"], "bits": [10], "activation": ["lut", "pwl"]}})
    res = run_sweep([DEFAULT, lstm_file], "digits", grid, tmp_path, workers=2, limit=LIMIT, progress=False)
    assert len(res.records) == 8 and res.computed == 8 and res.cached == 0 and res.workers == 2
    refused = [r for r in res.records if r["error"]]
    # method given on a float checkpoint is refused per point; the sweep goes on
    assert [(r["model"], r["point"]["method"]) for r in refused] == [("user_lstm.safetensors", "given")] * 2
    ok = [r for r in res.records if not r["error"]]
    for r in ok:
        assert r["config"]["pre"]["bits"] == 10 and r["config"]["activation"] == r["point"]["activation"]
        assert 0.0 <= r["fixed_metric"] <= 1.0 and r["cycles_per_step"] > 0
        assert (tmp_path / r["model_file"]).is_file()
        # where the loss comes from: per layer, for post-training methods (a float model to compare)
        assert (r["quantization_loss"] is None) == (r["point"]["method"] == "given")
    assert {r["worker"] for r in ok} <= {r["worker"] for r in res.records}
    again = run_sweep([DEFAULT, lstm_file], "digits", grid, tmp_path, workers=2, limit=LIMIT, progress=False)
    assert again.computed == 0 and again.cached == 8
    assert [r["key"] for r in again.records] == [r["key"] for r in res.records]
    assert len(_lines(tmp_path)) == 8


def test_a_different_limit_is_a_different_point(tmp_path):
    grid = parse_grid({"axes": {"activation": ["pwl"]}})
    a = run_sweep([DEFAULT], "digits", grid, tmp_path, workers=1, limit=10, progress=False)
    b = run_sweep([DEFAULT], "digits", grid, tmp_path, workers=1, limit=11, progress=False)
    assert b.computed == 1 and a.keys != b.keys


def _popen(args, **kw):
    return subprocess.Popen(args, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def _stop(p):
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
    p.communicate(timeout=30)


def test_external_scheduler_and_worker_on_localhost(tmp_path):
    sched_file = tmp_path / "scheduler.json"
    sched = _popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                    "--no-dashboard", "--scheduler-file", str(sched_file)])
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        addr = json.loads(sched_file.read_text())["address"]
        assert addr.startswith("tcp://127.0.0.1:")
        worker = _popen([sys.executable, "-m", "distributed.cli.dask_worker", addr, "--nthreads", "1",
                         "--nworkers", "1", "--no-dashboard", "--name", "hwsim-test-worker"])
        grid = parse_grid({"axes": {"method": ["given"], "bits": [8, 12]}})
        res = run_sweep([DEFAULT], "digits", grid, tmp_path / "out", scheduler=addr, limit=LIMIT, progress=False)
        assert res.computed == 2 and res.workers == 1
        assert all(r["error"] is None for r in res.records)
        assert {r["worker"].split(":")[1] for r in res.records} != {str(os.getpid())}  # ran in the worker
    finally:
        for p in (worker, sched):
            if p is not None:
                _stop(p)


_FORK_SCRIPT = r"""
import json, sys
from pathlib import Path
import hwsim.sweep._run as run_mod
from hwsim.sweep import parse_grid, run_sweep
model, out, limit = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
grid = parse_grid({"axes": {"bits": [8, 12], "activation": ["lut", "pwl"]}})
forked = run_sweep([model], "digits", grid, out / "fork", workers=2, limit=limit, progress=False)
run_mod.fork_is_safe = lambda: False
spawned = run_sweep([model], "digits", grid, out / "spawn", workers=2, limit=limit, progress=False)
print(json.dumps({"start": [forked.start, spawned.start], "records": [forked.records, spawned.records]}))
"""


def test_workers_forked_from_a_fresh_client_compute_what_spawned_ones_do(tmp_path):
    """``hwsim sweep`` in a fresh process forks its workers after loading the data (no Numba
    thread is running yet); every record equals the one spawned workers compute."""
    r = subprocess.run([sys.executable, "-c", _FORK_SCRIPT, str(DEFAULT), str(tmp_path), str(LIMIT)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["start"] == ["fork", "spawn"]
    volatile = {"worker", "seconds", "finished", "model_file"}
    forked, spawned = ([{k: v for k, v in rec.items() if k not in volatile} for rec in recs] for recs in out["records"])
    assert len(forked) == 4 and all(rec["error"] is None for rec in forked)
    assert forked == spawned


def test_workers_are_spawned_once_this_process_has_started_numba_threads(tmp_path):
    """GNU OpenMP does not survive a fork of a process that used it: after a kernel has run here,
    the local cluster spawns its workers."""
    import numpy as np

    from hwsim.datapath._config import DatapathConfig
    from hwsim.datapath._plan import lower
    from hwsim.model._modelfile import load_model
    from hwsim.sim._sim import simulate
    from hwsim.sweep._run import fork_is_safe

    plan = lower(load_model(DEFAULT), DatapathConfig())
    simulate(plan, np.zeros((1, 2, plan.input_size), dtype=np.int64))
    assert not fork_is_safe()
    res = run_sweep([DEFAULT], "digits", parse_grid({"axes": {"activation": ["pwl"]}}), tmp_path, workers=1,
                    limit=LIMIT, progress=False)
    assert res.start == "spawn" and res.computed == 1 and res.records[0]["error"] is None


def test_killed_sweep_restarts_and_computes_every_point_once(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text('[axes]\nmethod = ["given", "pow2-ternary"]\nbits = [8, 10, 12]\nactivation = ["lut", "pwl"]\n')
    out = tmp_path / "out"
    args = [sys.executable, "-m", "hwsim", "sweep", str(DEFAULT), "--data", "digits", "--grid", str(grid),
            "-o", str(out), "--workers", "1", "--limit", str(LIMIT), "--json"]
    p = _popen(args)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and p.poll() is None:
            if (out / RESULTS_NAME).exists() and (out / RESULTS_NAME).read_bytes().count(b"\n") >= 1:
                break
            time.sleep(0.05)
    finally:
        _stop(p)  # SIGKILL to the whole group: client, nanny and worker
    before = {r["key"] for r in _lines(out)}
    assert 1 <= len(before) <= 12
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["points"] == 12
    assert summary["cached"] == len(before) and summary["computed"] == 12 - len(before)
    keys = [rec["key"] for rec in _lines(out)]
    assert len(keys) == 12 and len(set(keys)) == 12  # every point computed exactly once across both runs


@pytest.mark.rtl
@pytest.mark.skipif(__import__("shutil").which("yosys") is None, reason="needs yosys")
def test_points_that_share_rtl_synthesize_once(tmp_path):
    """Two points whose contracts coincide ({} and the default h written out) have different keys but
    the same RTL: yosys runs for the first and the second reads the synthesis cache."""
    from helpers import make_model
    from hwsim.model._quant import quantize_model

    small = tmp_path / "small_gru.safetensors"
    save_model(quantize_model(make_model("gru", 8, 3, classes=10, seed=5), "ternary"), small)
    grid = parse_grid({"axes": {"formats": [{}, {"h": [16, 14]}], "target": ["ice40"]}})
    res = run_sweep([small], "digits", grid, tmp_path / "out", workers=1, limit=LIMIT, progress=False)
    a, b = res.records
    assert a["key"] != b["key"] and a["config"] == b["config"]
    assert a["resources"]["synth_key"] == b["resources"]["synth_key"]
    assert sorted([a["resources"]["synth_cached"], b["resources"]["synth_cached"]]) == [False, True]
    strip = lambda r: {k: v for k, v in r["resources"].items() if k != "synth_cached"}  # noqa: E731
    assert strip(a) == strip(b) and a["resources"]["luts"] > 0


def test_rows_axis_folds_the_hardware_not_the_numbers(tmp_path):
    """rows (issue #10) is a contract field, so a sweep axis: more row PEs, fewer cycles, same bits."""
    grid = parse_grid({"axes": {"rows": [1, 4], "pointwise_units": [1]}})
    res = run_sweep([DEFAULT], "digits", grid, tmp_path, workers=1, limit=10, progress=False)
    assert res.computed == 2
    recs = {r["point"]["rows"]: r for r in _lines(tmp_path)}
    assert set(recs) == {1, 4} and not any(r.get("error") for r in recs.values())
    assert (recs[4]["config"]["rows"], recs[4]["config"]["pointwise_units"]) == (4, 1)
    assert recs[4]["cycles_per_step"] < recs[1]["cycles_per_step"]
    assert recs[4]["latency_cycles"] < recs[1]["latency_cycles"]
    assert recs[4]["metric"] == recs[1]["metric"] and recs[4]["saturations"] == recs[1]["saturations"]
