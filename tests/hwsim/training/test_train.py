"""hwsim train (hwsim/_train.py, hwsim/cli/_train.py), the shipped default model, scripts/reproduce.py."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hwsim.data._datasets import load_data
from hwsim._errors import HwsimError
from hwsim.model._modelfile import load_model
from hwsim.model._quant import decode_model_codes
from hwsim.sim._reference import float_forward
from hwsim.training._train import TORCH_MISSING, TrainConfig, command_line, default_model_path, metrics_path, train
from hwsim.cli import main

ROOT = Path(__file__).resolve().parents[3]
torch_mark = pytest.mark.torch


def _needs_torch():
    return pytest.importorskip("torch")


def _tiny(**kw) -> TrainConfig:
    base = dict(cell="gru", hidden=8, method="ternary", data="digits", epochs=2, limit=96, eval_limit=64, batch=32)
    base.update(kw)
    return TrainConfig(**base)


# -------------------------------------------------------------------------------------- library


@torch_mark
def test_train_writes_a_quantized_model_and_metrics(tmp_path):
    _needs_torch()
    from hwsim.training._train import train

    out = tmp_path / "m.safetensors"
    res = train(_tiny(), out, progress=False, command="hwsim train ...")
    model = load_model(out)
    assert model.cell == "gru" and model.hidden_size == 8 and model.num_classes == 10
    assert model.quant.method == "ternary" and model.quant.biases == "fixed"
    codes = decode_model_codes(model)
    assert set(codes) == {"rnn.weight_ih_l0", "rnn.weight_hh_l0", "head.weight"}
    m = json.loads(metrics_path(out).read_text())
    assert m["command"] == "hwsim train ..."
    assert m["config"]["method"] == "ternary" and len(m["history"]) == 2
    assert m["n_train"] == 96 and m["n_test"] == 64 and m["metric"] == "accuracy"
    # the recorded test metric is the saved model's float accuracy on the recorded test subset
    y = float_forward(model, res.test.x).y
    assert m["test_metric"] == pytest.approx(float((y.argmax(-1) == res.test.y).mean()))
    assert 1 <= m["best_epoch"] <= 2
    assert m["best_valid_metric"] == max(h["valid"] for h in m["history"])


@torch_mark
def test_train_is_seeded(tmp_path):
    _needs_torch()
    from hwsim.training._train import train

    a = train(_tiny(method="ternary-stoch", seed=3), progress=False).model
    b = train(_tiny(method="ternary-stoch", seed=3), progress=False).model
    c = train(_tiny(method="ternary-stoch", seed=4), progress=False).model
    for key in a.tensor_keys():
        np.testing.assert_array_equal(a.tensor(key), b.tensor(key))
    assert any(not np.array_equal(a.tensor(k), c.tensor(k)) for k in a.tensor_keys())
    # stochastic training saves the deterministic twin
    assert a.quant.method == "ternary" and a.quant.params["trained_with"] == "ternary-stoch"


@torch_mark
@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_train_full_and_other_cells(cell):
    _needs_torch()
    from hwsim.training._train import train

    res = train(_tiny(cell=cell, method="full", epochs=1), progress=False)
    assert res.model.quant is None
    assert res.model.cell == {"rnn": "rnn_tanh", "lstm": "lstm"}[cell]
    assert res.metrics["test_metric"] == res.metrics["shadow_test_metric"]


@torch_mark
def test_train_next_symbol_task(tmp_path):
    """A next-symbol .npz data set trains a per-step head and reports bits per character."""
    _needs_torch()
    from hwsim.training._train import train

    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 5, size=(80, 13))
    data = tmp_path / "lm.npz"
    oh = np.eye(5, dtype=np.float32)[tokens[:, :-1]]  # one-hot: token ids would need the alphabet size
    np.savez(data, x_train=oh, y_train=tokens[:, 1:], x_test=oh[:20], y_test=tokens[:20, 1:])
    res = train(_tiny(data=str(data), method="pow2-ternary", limit=None, eval_limit=None), progress=False)
    assert res.metrics["metric"] == "bits_per_symbol" and res.metrics["task"] == "next-symbol"
    assert 0 < res.metrics["test_metric"] < 6  # bits per symbol of a 5-symbol alphabet, barely trained


def _one_set_file(tmp_path, n=300, classes=3):
    """A data file of one set (x, y alone): class c's sequences hold the value c + noise; every row is unique."""
    rng = np.random.default_rng(0)
    y = np.arange(n) % classes
    x = (y[:, None, None] + 0.3 * rng.normal(size=(n, 5, 2))).astype(np.float32)
    path = tmp_path / "one.npz"
    np.savez(path, x=x, y=y)
    return path, x, y


def test_one_set_file_is_split_by_a_stratified_holdout(tmp_path):
    """Train, valid and test of a file without per-split arrays never share a sequence (issue 24)."""
    from hwsim.training._train import load_splits

    path, x, y = _one_set_file(tmp_path)
    record = {}
    train, valid, test = load_splits(_tiny(data=str(path), limit=None, eval_limit=None), record=record)
    rows = lambda d: {r.tobytes() for r in d.x}  # noqa: E731
    assert rows(train).isdisjoint(rows(test)) and rows(train).isdisjoint(rows(valid)) and rows(valid).isdisjoint(rows(test))
    assert rows(train) | rows(valid) | rows(test) == {r.tobytes() for r in x}
    assert (len(train), len(valid), len(test)) == (210, 30, 60)
    for c in range(3):  # stratified: each class keeps its share in every part
        assert (np.sum(train.y == c), np.sum(valid.y == c), np.sum(test.y == c)) == (70, 10, 20)
    assert record == {"method": "stratified holdout", "seed": 0, "valid_fraction": 0.1, "test_fraction": 0.2,
                      "train": f"{path}:train (holdout)", "valid": f"{path}:valid (holdout)",
                      "test": f"{path}:test (holdout)"}
    # the holdout's seed is its own: another training seed tests on the same sequences
    assert rows(load_splits(_tiny(data=str(path), limit=None, eval_limit=None, seed=5))[2]) == rows(test)
    assert rows(load_splits(_tiny(data=str(path), limit=None, eval_limit=None, split_seed=1))[2]) != rows(test)
    other = load_splits(_tiny(data=str(path), limit=None, eval_limit=None, valid_fraction=0.2, test_fraction=0.3))
    assert [len(d) for d in other] == [150, 60, 90]


def test_per_split_files_train_on_their_parts(tmp_path):
    from hwsim.training._train import load_splits

    _, x, y = _one_set_file(tmp_path)
    path = tmp_path / "parts.npz"
    np.savez(path, x_train=x[:200], y_train=y[:200], x_valid=x[200:240], y_valid=y[200:240], x_test=x[240:], y_test=y[240:])
    record = {}
    train, valid, test = load_splits(_tiny(data=str(path), limit=None, eval_limit=None), record=record)
    np.testing.assert_array_equal(test.x, x[240:])
    np.testing.assert_array_equal(valid.x, x[200:240])
    assert record["method"] == "the data's own parts" and record["test"] == f"{path}:test"
    np.savez(path, x_train=x[:200], y_train=y[:200], x_valid=x[200:], y_valid=y[200:])
    with pytest.raises(HwsimError, match=r"^.*parts\.npz: hwsim train needs the per-split arrays x_train and x_test "
                       r"\(and optionally x_valid\), not only x_train, x_valid$"):
        load_splits(_tiny(data=str(path)))
    np.savez(path, x_train=x[:200], y_train=y[:200], x_test=x[200:], y_test=y[200:])
    record = {}
    train, valid, test = load_splits(_tiny(data=str(path), limit=None, eval_limit=None), record=record)
    assert (len(train), len(valid), len(test)) == (180, 20, 100)  # valid carved out of train
    assert record["valid_carved_from_train"] == {"fraction": 0.1, "seed": 0}
    assert record["valid"] == f"{path}:valid (carved from train)"
    assert rows_disjoint(train, valid) and rows_disjoint(train, test)


def rows_disjoint(a, b) -> bool:
    return {r.tobytes() for r in a.x}.isdisjoint({r.tobytes() for r in b.x})


@torch_mark
def test_cli_train_on_a_one_set_file_tests_on_held_out_sequences(tmp_path):
    _needs_torch()
    path, x, y = _one_set_file(tmp_path)
    out = tmp_path / "m.safetensors"
    r = CliRunner().invoke(main, ["train", "--hidden", "4", "--data", str(path), "--epochs", "1", "-o", str(out),
                                  "--quiet", "--split-seed", "2", "--test-fraction", "0.25"])
    assert r.exit_code == 0, r.output
    assert re.match(rf"^gru H=4 ternary on {re.escape(str(path))}: test accuracy \d+\.\d\d% on 75 sequences of "
                    rf"{re.escape(str(path))}:test \(holdout\) .*trained on 195 of .*by validation on 30 of ", r.output)
    m = json.loads(metrics_path(out).read_text())
    assert (m["n_train"], m["n_valid"], m["n_test"]) == (195, 30, 75)
    assert m["split"]["seed"] == 2 and m["split"]["test_fraction"] == 0.25 and m["split"]["method"] == "stratified holdout"
    assert "--test-fraction 0.25 --split-seed 2" in m["command"] and "--valid-fraction" not in m["command"]
    r = CliRunner().invoke(main, ["train", "--data", str(path), "--valid-fraction", "0.5", "--test-fraction", "0.5",
                                  "-o", str(tmp_path / "n.safetensors")])
    assert r.exit_code == 2
    assert r.output.strip() == "Error: test_fraction must be in (0, 1) with valid_fraction + test_fraction < 1, not 0.5 (valid_fraction 0.5)"


@torch_mark
@pytest.mark.parametrize("per_step", [False, True])
def test_train_regression(tmp_path, per_step):
    """Float targets train with the mean squared error; the recorded metric is the saved model's mse on its test part."""
    _needs_torch()
    from hwsim.training._train import train

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 6, 2)).astype(np.float32)
    y = np.cumsum(x[..., :1], axis=1) * 0.3 if per_step else np.stack([x[:, :, 0].mean(1), x[:, -1, 1]], 1)
    data = tmp_path / "r.npz"
    np.savez(data, x=x, y=y.astype(np.float32))
    res = train(_tiny(data=str(data), cell="lstm", limit=None, eval_limit=None, epochs=3), progress=False)
    m = res.metrics
    assert (m["task"], m["metric"]) == ("regress-steps" if per_step else "regress", "mse")
    assert (m["n_train"], m["n_valid"], m["n_test"], m["split"]["method"]) == (84, 12, 24, "holdout")
    assert m["num_classes"] == (1 if per_step else 2) and m["best_valid_metric"] == min(h["valid"] for h in m["history"])
    out = float_forward(res.model, res.test.x)
    pred = out.h @ res.model.head.weight.T + res.model.head.bias if per_step else out.y
    assert m["test_metric"] == pytest.approx(float(np.mean((pred - res.test.y) ** 2)), rel=1e-5)


def test_train_config_errors():
    with pytest.raises(HwsimError, match=r"^cell must be one of rnn_tanh, rnn_relu, gru, lstm, rnn, not 'tcn'$"):
        TrainConfig(cell="tcn")
    with pytest.raises(HwsimError, match=r"^method must be one of full, binary, .*, uniform, not 'int8'$"):
        TrainConfig(method="int8")
    with pytest.raises(HwsimError, match=r"^hidden must be a positive int, not 0$"):
        TrainConfig(hidden=0)
    with pytest.raises(HwsimError, match=r"^lr must be a positive number, not -1\.0$"):
        TrainConfig(lr=-1.0)
    with pytest.raises(HwsimError, match=r"^valid_fraction must be in \(0, 1\), not 1\.5$"):
        TrainConfig(valid_fraction=1.5)
    with pytest.raises(HwsimError, match=r"^schedule must be one of constant, plateau, not 'cosine'$"):
        TrainConfig(schedule="cosine")
    with pytest.raises(HwsimError, match=r"^patience must be a non-negative int, not -1$"):
        TrainConfig(patience=-1)
    with pytest.raises(HwsimError, match=r"^scale must be one of tensor, row, exact, row-pow2, not 'rows'$"):
        TrainConfig(scale="rows")
    with pytest.raises(HwsimError, match=r"^per-row scales apply to binary, ternary and pow2-ternary methods, not exp$"):
        TrainConfig(scale="row", method="exp")
    with pytest.raises(HwsimError, match=r"^row_scale must be learned or stat, not 'x'$"):
        TrainConfig(row_scale="x")
    with pytest.raises(HwsimError, match=r"^distill_weight must be in \[0, 1\], not 2$"):
        TrainConfig(distill_weight=2)
    with pytest.raises(HwsimError, match=r"^distill_temperature must be a positive number, not 0$"):
        TrainConfig(distill_temperature=0)
    assert TrainConfig(scale="pow2").scale == "tensor"


@torch_mark
def test_train_early_stopping_and_schedule():
    _needs_torch()
    from hwsim.training._train import train

    # a learning rate too small to move a ternary weight: the validation metric never improves after
    # epoch 1, so patience 2 stops after epoch 3 of 6
    m = train(_tiny(epochs=6, patience=2, schedule="plateau", lr=1e-9), progress=False).metrics
    assert [h["epoch"] for h in m["history"]] == [1, 2, 3] and m["best_epoch"] == 1
    assert len({h["valid"] for h in m["history"]}) == 1
    m = train(_tiny(epochs=3, patience=0, lr=1e-9), progress=False).metrics
    assert len(m["history"]) == 3  # patience 0: never stops early


@torch_mark
def test_train_torch_only_scale_writes_no_model(tmp_path):
    _needs_torch()
    from hwsim.training._train import train

    out = tmp_path / "m.safetensors"
    res = train(_tiny(scale="exact", check=True), out, progress=False)
    assert res.model is None and not out.exists() and res.metrics["fixed_test_metric"] is None
    assert 0 <= res.metrics["test_metric"] <= 1


@torch_mark
@pytest.mark.parametrize("data", ["digits", "kjv"])
def test_fixed_point_metric_without_analyses_is_hwsim_checks(data):
    """analyses=False (what scripts/reproduce.py uses) measures the same simulator output with the
    same formula as hwsim check: accuracy exactly, bits per character up to float summation order."""
    _needs_torch()
    from hwsim.training._train import fixed_point_metric, train

    res = train(_tiny(data=data, eval_limit=24), progress=False)
    full, how_full = fixed_point_metric(res.model, res.test, res.float_model)
    fast, how_fast = fixed_point_metric(res.model, res.test, res.float_model, analyses=False)
    assert (how_full, how_fast) == ("hwsim check", "hwsim.sim._sim.run_fixed")
    if data == "digits":
        assert fast == full
    else:
        assert fast == pytest.approx(full, rel=1e-12, abs=0)  # a mean of logs: summation order only


def test_command_line_spells_out_the_config():
    cmd = command_line(TrainConfig(method="exp", bits=3, zero=False), "out dir/m.safetensors")
    assert cmd.startswith("hwsim train --cell gru --hidden 32 --method exp --data digits ")
    assert "--bits 3" in cmd and "--paper-exact" in cmd and "--limit" not in cmd
    assert cmd.endswith("-o 'out dir/m.safetensors'")
    assert "--schedule" not in cmd and "--patience" not in cmd  # the defaults are not spelled out
    cmd = command_line(TrainConfig(schedule="plateau", patience=15), "m.safetensors")
    assert "--schedule plateau --patience 15" in cmd


@torch_mark
def test_cli_train_schedule_and_patience(tmp_path):
    """--schedule plateau --patience N reach the trainer: a learning rate too small to improve
    anything stops after 1 + N epochs, and the recorded command reruns the same config."""
    _needs_torch()
    out = tmp_path / "m.safetensors"
    args = ["train", "--hidden", "4", "--data", "digits", "--epochs", "6", "--lr", "1e-9", "--limit", "32",
            "--eval-limit", "16", "--schedule", "plateau", "--patience", "2", "-o", str(out), "--quiet"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    rec = json.loads(metrics_path(out).read_text())
    assert len(rec["history"]) == 3 and rec["config"]["schedule"] == "plateau"
    assert "--schedule plateau --patience 2" in rec["command"]


# ------------------------------------------------------------------------------------------ CLI


@torch_mark
def test_cli_train(tmp_path):
    _needs_torch()
    out = tmp_path / "m.safetensors"
    args = ["train", "--cell", "gru", "--hidden", "8", "--method", "pow2-ternary", "--data", "digits",
            "--epochs", "1", "--limit", "64", "--eval-limit", "32", "-o", str(out), "--quiet"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert r.output.startswith("gru H=8 pow2-ternary on digits: test accuracy ")
    assert load_model(out).quant.method == "pow2-ternary"
    rec = json.loads(metrics_path(out).read_text())
    assert rec["command"].startswith("hwsim train --cell gru --hidden 8 --method pow2-ternary --data digits --epochs 1")
    # the float shadow weights beside it, for `hwsim check --float-model`
    fm = load_model(tmp_path / "m.float.safetensors")
    assert fm.quant is None and rec["float_model"] == str(tmp_path / "m.float.safetensors")
    assert f"(hwsim check {out} --float-model {tmp_path / 'm.float.safetensors'})" in r.output
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2
    assert r.output.strip() == f"Error: output file {out} exists; pass --force to overwrite it"
    # input errors come before output errors
    r = CliRunner().invoke(main, [*args[:args.index("digits")], "nope.npz", *args[args.index("digits") + 1:]])
    assert r.exit_code == 2 and r.output.startswith("Error: data file must exist, not found: nope.npz")
    r = CliRunner().invoke(main, ["train", "--cell", "rnn", "--hidden", "4", "--data", "digits", "--epochs", "1",
                                  "--limit", "32", "--eval-limit", "16", "-o", str(tmp_path / "r.safetensors"), "--quiet"])
    assert r.exit_code == 0 and load_model(tmp_path / "r.safetensors").cell == "rnn_tanh"  # rnn: alias of rnn_tanh


def test_cli_train_without_torch(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    r = CliRunner().invoke(main, ["train", "--data", "digits", "-o", str(tmp_path / "m.safetensors")])
    assert r.exit_code == 2
    assert r.output.strip() == f"Error: {TORCH_MISSING}"
    assert TORCH_MISSING == "hwsim train needs PyTorch: pip install 'hwsim[train]'"


@torch_mark
def test_cli_train_bad_inputs(tmp_path):
    _needs_torch()
    r = CliRunner().invoke(main, ["train", "--data", "digits", "-o", str(tmp_path / "m.pt")])
    assert r.exit_code == 2
    assert r.output.strip() == "Error: model file name must end in .safetensors or .npz, not 'm.pt'"
    r = CliRunner().invoke(main, ["train", "--data", "nope", "-o", str(tmp_path / "m.npz")])
    assert r.exit_code == 2
    assert r.output.strip().startswith("Error: unknown data set 'nope'")
    r = CliRunner().invoke(main, ["train", "--data", "digits", "--method", "ternary", "--paper-exact",
                                  "-o", str(tmp_path / "m.npz")])
    assert r.exit_code == 2
    assert r.output.strip() == "Error: --paper-exact applies to exp and exp-stoch only, not ternary"


# -------------------------------------------------------------------------------- default model


def test_default_model_ships_and_runs_without_torch(monkeypatch):
    test = load_data("digits")  # before hiding torch: scikit-learn probes sys.modules["torch"]
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    from hwsim.sim._sim import run_fixed
    from hwsim.data import default_model_path, default_record_path

    path = default_model_path()
    assert path.is_file() and path.stat().st_size < 64_000
    model = load_model(path)
    assert model.cell == "gru" and model.quant.method in ("ternary", "pow2-ternary")
    decode_model_codes(model)
    rec = json.loads(default_record_path().read_text())
    assert rec["command"].startswith("hwsim train --cell gru ")
    assert rec["command"].endswith("-o hwsim/data/default_gru.safetensors")
    assert rec["config"]["data"] == "digits"
    assert rec["n_test"] == len(test)
    acc_float = float((float_forward(model, test.x).y.argmax(-1) == test.y).mean())
    assert acc_float == pytest.approx(rec["test_metric"])
    acc_fixed = float((run_fixed(model, test.x).y.argmax(-1) == test.y).mean())
    assert abs(acc_fixed - acc_float) <= 0.02  # the done-when of issue 4: within 2 points
    if "fixed_test_metric" in rec:
        assert acc_fixed == pytest.approx(rec["fixed_test_metric"])


# ------------------------------------------------------------------------------------ reproduce


def _reproduce_module():
    spec = importlib.util.spec_from_file_location("hwsim_reproduce", ROOT / "scripts" / "reproduce.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def _check_smoke_table(text: str, data: str) -> None:
    section = text.split(f"## {data}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| method")]
    if "Not in this report:" in section:
        return
    assert len(rows) == 11  # full + 8 trained methods + 2 post-training rows
    assert rows[0].startswith("| full precision (float) |") and "n/a" in rows[0]
    assert rows[-2].startswith("| *ternarization after float training") and rows[-1].startswith("| *pow2-ternarization")
    for row in rows[1:]:
        cells = [c.strip() for c in row.strip("|").split("|")[1:]]
        assert all(c not in ("-", "", "n/a") for c in cells), row


@torch_mark
def test_reproduce_smoke_digits_resumes(tmp_path):
    _needs_torch()
    mod = _reproduce_module()
    work, out = tmp_path / "w", tmp_path / "results.md"
    args = ["--budget", "smoke", "--data", "digits", "--jobs", "1", "--work", str(work), "-o", str(out)]
    # an interrupted run: 5 of the 41 runs finish, and the report says it is partial
    assert mod.main(args + ["--max-runs", "5"]) == 0
    first = {p.name: p.stat().st_mtime_ns for p in (work / "runs").iterdir()}
    assert len(first) == 5
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["meta"]["partial"] is True and saved["meta"]["finished"] == 5 and saved["meta"]["planned"] == 41
    assert "(smoke, partial: 5 of 41 runs finished)" in out.read_text().splitlines()[0]
    # restarted with the same arguments: the 5 finished runs are not recomputed
    assert mod.main(args) == 0
    runs = {p.name: p.stat().st_mtime_ns for p in (work / "runs").iterdir()}
    assert len(runs) == 41 and all(runs[name] == t for name, t in first.items())
    text = out.read_text()
    assert text.startswith("# Reproduction of the seed paper's quantization results (smoke, complete: all 41 runs)")
    assert "| method | RNN (tanh) quant | RNN (tanh) fixed | GRU quant | GRU fixed | LSTM quant | LSTM fixed |" in text
    _check_smoke_table(text, "digits")
    assert "## Ablation: what closes the gap" in text and "## Targets of issue 16 against this run" in text
    saved = json.loads(out.with_suffix(".json").read_text())
    results = saved["results"]
    assert saved["meta"]["partial"] is False and saved["meta"]["budget"] == "smoke"
    assert len(results) == 41 and all(r["status"] == "ok" and r["budget"] == "smoke" for r in results)
    assert all(r["device"] == "cpu" for r in results)
    for r in results:
        assert {"data", "cell", "method", "seed", "float_metric", "quant_float_metric", "fixed_metric", "wall_s"} <= set(r)
        # every quantized run with an hwsim model has a fixed-point metric; float and torch-only runs do not
        torch_only = r["method"] == "full" or r["variant"] in ("exact-w0", "row-pow2")
        assert (r["fixed_metric"] is None) == torch_only, r
    # a changed budget is not mistaken for a finished run: two seeds reuse seed 0 and add seed 1
    assert len(mod.load_done(work, mod.plan("smoke", ["digits"], 2))) == 41
    # re-rendering from the saved runs gives the same Markdown
    again = tmp_path / "again.md"
    assert mod.main(args[:-1] + [str(again), "--render-only"]) == 0
    assert again.read_text().replace("again.json", "results.json") == text  # the header names its JSON


def test_committed_results_are_rendered_from_their_json():
    """docs/results.md is what scripts/reproduce.py renders from docs/results.json (no hand edits), and
    every record the tables count is a finished run of the budget the report names."""
    mod = _reproduce_module()
    saved = json.loads((ROOT / "docs" / "results.json").read_text())
    meta, rows = saved["meta"], saved["results"]
    assert (ROOT / "docs" / "results.md").read_text() == mod.render(rows, meta) + "\n"
    assert meta["finished"] == len(rows) <= meta["planned"]
    assert all(r["budget"] == meta["budget"] for r in rows)
    assert all(r["seed"] < meta["seeds"] for r in rows)


@torch_mark
def test_reproduce_deadline_and_budget_data(tmp_path, capsys):
    _needs_torch()
    mod = _reproduce_module()
    work, out = tmp_path / "w", tmp_path / "results.md"
    # past its deadline the script starts no run (resume later) and still writes the partial report
    args = ["--budget", "smoke", "--data", "digits", "--jobs", "1", "--work", str(work), "-o", str(out)]
    for jobs in ("1", "2"):  # in turn, and with a pool of workers
        assert mod.main(args + ["--deadline", "0", "--jobs", jobs]) == 0
        assert not list((work / "runs").iterdir())
        assert "deadline: 41 runs not started" in capsys.readouterr().out
    assert json.loads(out.with_suffix(".json").read_text())["meta"]["finished"] == 0
    # the GPU budget plans kjv alone; a data set it does not hold is refused in one line
    assert {j["data"] for j in mod.plan("large", ["kjv"], 3)} == {"kjv"}
    assert all(j["device"] == "cuda" for j in mod.plan("large", ["kjv"], 1, device="cuda"))
    with pytest.raises(SystemExit) as e:
        mod.main(["--budget", "large", "--data", "digits", "--render-only", "--work", str(work)])
    assert e.value.code == 2
    assert "--data must name data sets of the large budget (kjv), not digits" in capsys.readouterr().err


@torch_mark
def test_cli_train_device_errors(tmp_path):
    torch = _needs_torch()
    base = ["train", "--data", "digits", "--epochs", "1", "--limit", "32", "-o", str(tmp_path / "m.safetensors")]
    r = CliRunner().invoke(main, base + ["--device", "gpu"])
    assert r.exit_code == 2 and r.output == "Error: device must be cpu, cuda or cuda:N, not 'gpu'\n"
    if not torch.cuda.is_available():
        r = CliRunner().invoke(main, base + ["--device", "cuda"])
        assert r.exit_code == 2, r.output
        assert r.output == "Error: device cuda needs a CUDA GPU that PyTorch can see; none is here (use cpu)\n"
    assert not list(tmp_path.iterdir())


def test_train_config_device():
    assert TrainConfig(device="cuda:1").device == "cuda:1"
    with pytest.raises(HwsimError, match=r"^device must be cpu, cuda or cuda:N, not 'gpu'$"):
        TrainConfig(device="gpu")


@torch_mark
@pytest.mark.slow
def test_reproduce_smoke_all(tmp_path):
    _needs_torch()
    mod = _reproduce_module()
    out = tmp_path / "results.md"
    assert mod.main(["--budget", "smoke", "--jobs", "1", "--work", str(tmp_path / "w"), "-o", str(out)]) == 0
    text = out.read_text()
    for data in ("digits", "fashion", "kjv"):
        _check_smoke_table(text, data)


@torch_mark
def test_cli_train_row_scales_and_teacher(tmp_path):
    """--scale row / --row-scale and --teacher reach the trainer; the model keeps its per-row scales."""
    _needs_torch()
    teacher = default_model_path()  # a model of digits: 8 inputs, 10 classes
    out = tmp_path / "m.safetensors"
    args = ["train", "--hidden", "8", "--data", "digits", "--epochs", "1", "--limit", "64", "--eval-limit", "32",
            "--scale", "row", "--row-scale", "learned", "--teacher", str(teacher), "--distill-weight", "0.7",
            "--distill-temperature", "3", "-o", str(out), "--quiet"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    q = load_model(out)
    assert q.quant.granularity == "row" and q.quant.params["row_scale"] == "learned"
    rec = json.loads(metrics_path(out).read_text())
    assert rec["config"]["teacher"] == str(teacher) and rec["config"]["distill_weight"] == 0.7
    assert (f"--scale row --row-scale learned --teacher {teacher} --distill-temperature 3.0 --distill-weight 0.7"
            in rec["command"])
    r = CliRunner().invoke(main, args[:args.index("--teacher") + 1] + [str(tmp_path / "nope.npz")]
                           + args[args.index("--teacher") + 2:] + ["--force"])
    assert r.exit_code == 2 and r.output.strip() == f"Error: --teacher must be an existing model file, not found: {tmp_path / 'nope.npz'}"
    r = CliRunner().invoke(main, ["train", "--data", "digits", "--method", "exp", "--scale", "row", "-o",
                                  str(tmp_path / "e.npz")])
    assert r.exit_code == 2
    assert r.output.strip() == "Error: per-row scales apply to binary, ternary and pow2-ternary methods, not exp"


@torch_mark
def test_distillation_weight_and_teacher_shape():
    """distill_weight 0 trains exactly as without a teacher; 1 follows the teacher alone; a teacher of
    another task is refused in one line."""
    _needs_torch()
    base = dict(hidden=8, data="digits", epochs=1, limit=64, eval_limit=32, seed=3)
    plain = train(TrainConfig(**base), progress=False).metrics
    teacher = str(default_model_path())
    zero = train(TrainConfig(**base, teacher=teacher, distill_weight=0.0), progress=False).metrics
    one = train(TrainConfig(**base, teacher=teacher, distill_weight=1.0), progress=False).metrics
    assert zero["history"] == plain["history"]
    assert one["history"] != plain["history"]
    from hwsim.training._train import _distill_loss
    import torch

    z = torch.randn(5, 7)
    assert float(_distill_loss(z, z, 2.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(_distill_loss(z, -z, 2.0)) > 0
    with pytest.raises(HwsimError, match=r"^teacher .* must read 8 inputs and give 2 classes, not 8 inputs and 10 classes$"):
        from hwsim.training._train import teacher_logits

        teacher_logits(TrainConfig(teacher=teacher), torch.zeros(3, 4, 8), 2, False)


@torch_mark
def test_reproduce_new_rows_and_base(tmp_path):
    """--new adds the per-row, learned and distilled rows (teachers first); --base counts an earlier
    report's runs as finished without rerunning them."""
    _needs_torch()
    mod = _reproduce_module()
    work, out = tmp_path / "w", tmp_path / "results.md"
    args = ["--budget", "smoke", "--data", "digits", "--jobs", "1", "--work", str(work), "-o", str(out), "--new",
            "--no-ablation"]
    jobs = mod.plan("smoke", ["digits"], 1, ablation=False, new=True)
    new = [j for j in jobs if j["variant"] in mod.NEW_ROWS]
    assert [mod.run_name(j) for j in new[:4]] == ["digits-rnn-full-teacher-s0", "digits-gru-full-teacher-s0",
                                                   "digits-lstm-full-teacher-s0", "digits-rnn-ternary-row-s0"]
    assert {j["variant"] for j in new} == {"teacher", "row", "pow2-row", "row-kd", "row-learned"}
    assert mod.main(args + ["--max-runs", "4"]) == 0
    row = json.loads((work / "runs" / "digits-rnn-ternary-row-s0.json").read_text())
    assert row["status"] == "ok" and row["fixed_metric"] is not None  # the simulator takes per-row scales
    text = out.read_text()
    assert "| **ternarization, per-row scales (row statistic) (new)** |" in text
    # an earlier report of the same budget: its runs count as finished, nothing is rerun
    base = tmp_path / "base.json"
    base.write_text(out.with_suffix(".json").read_text())
    again = tmp_path / "again.md"
    assert mod.main(args[:-3] + [str(again), "--new", "--no-ablation", "--render-only", "--base", str(base),
                                 "--work", str(tmp_path / "empty")]) == 0
    assert json.loads(again.with_suffix(".json").read_text())["meta"]["finished"] == 4
