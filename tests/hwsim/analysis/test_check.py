"""``run_check`` and ``hwsim check``: the report's numbers follow from the engines they compare."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.testing import assert_allclose

from hwsim.analysis._check import format_report, interval_bounds, run_check
from hwsim.datapath._config import DatapathConfig, FixedFormat
from hwsim.data._datasets import Dataset
from hwsim._errors import DataError
from hwsim.model._modelfile import save_model
from hwsim.datapath._plan import lower
from hwsim.model._quant import quantize_model
from hwsim.sim._reference import float_forward
from hwsim.sim._sim import node_names, run_fixed
from hwsim.cli import main

KEYS = {"metric", "float_metric", "quant_metric", "fixed_metric", "argmax_flips", "max_abs_err_h", "drift",
        "first_divergence", "saturations", "suggested_widths"}  # fmt: skip


def _classify(make_model, cell="gru", n=40, T=7, seed=0):
    fm = make_model(cell, 5, 6, 2, 4, seed=seed)
    qm = quantize_model(fm, "exp", bits=4)
    rng = np.random.default_rng(seed)
    ds = Dataset("toy", rng.normal(size=(n, T, 5)).astype(np.float32), rng.integers(0, 4, n), "classify", 4)
    return fm, qm, ds


@pytest.mark.parametrize("cell", ["rnn_tanh", "rnn_relu", "gru", "lstm"])
def test_check_classify_numbers_follow_from_the_engines(make_model, cell):
    fm, qm, ds = _classify(make_model, cell)
    cfg = DatapathConfig()
    r = run_check(qm, ds, cfg, float_model=fm, chunk=16)  # chunks of 16: 3 chunks, one partial
    assert KEYS <= set(r) and r["metric"] == "accuracy"
    fx = run_fixed(qm, ds.x, cfg)
    qf = float_forward(qm, ds.x)
    ff = float_forward(fm, ds.x)
    assert r["fixed_metric"] == pytest.approx(np.mean(np.argmax(fx.y, 1) == ds.y))
    assert r["quant_metric"] == pytest.approx(np.mean(np.argmax(qf.y, 1) == ds.y))
    assert r["float_metric"] == pytest.approx(np.mean(np.argmax(ff.y, 1) == ds.y))
    assert r["argmax_flips"] == pytest.approx(np.mean(np.argmax(fx.y, 1) != np.argmax(qf.y, 1)))
    err = np.abs(fx.h - qf.h)
    assert_allclose(r["drift"], err.mean(axis=(0, 2)))
    assert r["max_abs_err_h"] == pytest.approx(max(np.abs(fx.sim.h_layers_int[k] * 2.0**-14 - qf.h_layers[k]).max() for k in range(2)))
    assert r["gate_errors"]["l1.h"]["max"] == pytest.approx(err.max())
    assert r["saturations"] == fx.saturations and list(r["saturations"]) == node_names(fx.plan)
    json.dumps(r)  # JSON-ready


def test_first_divergence_is_the_earliest_step_over_threshold(make_model):
    _, qm, ds = _classify(make_model, "lstm")
    cfg = DatapathConfig(h=FixedFormat(16, 14), act=FixedFormat(12, 10))
    r = run_check(qm, ds, cfg, threshold_lsb=1.0, chunk=7)
    fd = r["first_divergence"]
    assert fd is not None and fd["error_lsb"] > 1.0
    # Recompute independently: the earliest step at which any node's error exceeds 1 LSB of its format.
    fx = run_fixed(qm, ds.x, cfg, record_gates=True)
    qf = float_forward(qm, ds.x, record_gates=True)
    first_step = {}
    for k in range(2):
        pairs = {f"l{k}.{g}": (fx.gates[k][g], qf.gates[k][g], 2.0**-10) for g in "ifgo"}
        pairs[f"l{k}.c"] = (fx.sim.c_layers_int[k] * 2.0**-14, qf.c_layers[k], 2.0**-14)
        pairs[f"l{k}.h"] = (fx.sim.h_layers_int[k] * 2.0**-14, qf.h_layers[k], 2.0**-14)
        for name, (a, b, lsb) in pairs.items():
            steps = np.flatnonzero((np.abs(a - b) > lsb).any(axis=(0, 2)))
            if steps.size:
                first_step[name] = int(steps[0])
    assert fd["step"] == min(first_step.values())
    assert first_step[fd["node"]] == fd["step"]
    assert run_check(qm, ds, cfg, threshold_lsb=1e9)["first_divergence"] is None
    loose = run_check(qm, ds, cfg, threshold_lsb=3.0)["first_divergence"]
    assert loose is None or loose["step"] >= fd["step"]


def test_next_symbol_uses_the_head_at_every_step(make_model):
    fm = make_model("gru", 6, 8, 1, 6, seed=3)
    qm = quantize_model(fm, "ternary")
    rng = np.random.default_rng(3)
    tokens = rng.integers(0, 6, size=(10, 9))
    x = np.eye(6, dtype=np.float32)[tokens]
    ds = Dataset("chars", x, np.roll(tokens, -1, axis=1).astype(np.int64), "next-symbol", 6)
    r = run_check(qm, ds, float_model=fm)
    assert r["metric"] == "bits_per_symbol"
    qf = float_forward(qm, x)
    logits = qf.h @ qm.head.weight.T + qm.head.bias
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    want = -np.take_along_axis(logp, ds.y[..., None], -1).mean() / np.log(2)
    assert r["quant_metric"] == pytest.approx(want)
    fx = run_fixed(qm, x, head_all_steps=True)
    assert fx.y.shape == (10, 9, 6)
    assert r["argmax_flips"] == pytest.approx(np.mean(np.argmax(fx.y, -1) != np.argmax(logits, -1)))
    assert 0 < r["fixed_metric"] < 2 * np.log2(6)


def test_widths_interval_bound_holds_the_observed_range(make_model):
    _, qm, ds = _classify(make_model, "rnn_relu")
    cfg = DatapathConfig(x=FixedFormat(12, 8))
    r = run_check(qm, ds, cfg)
    for node, w in r["suggested_widths"].items():
        assert w["observed"] <= w["interval"], node
    bounds = interval_bounds(qm, lower(qm, cfg), ds.x.shape[1])
    assert bounds["x"] == cfg.x.max_int / 2**8
    assert r["suggested_widths"]["x"]["interval"] == 12  # the x format holds exactly its own range


def test_saturation_shows_in_report_and_table(make_model):
    _, qm, ds = _classify(make_model, "gru")
    cfg = DatapathConfig(pre=FixedFormat(6, 3), lut_bits=6)
    big = Dataset("big", ds.x * 50, ds.y, ds.task, ds.num_classes)
    r = run_check(qm, big, cfg)
    assert r["saturations"]["x"] > 0 and r["saturations"]["l0.pre_r"] > 0
    text = format_report(r)
    assert re.search(r"^l0\.pre_r\s+s6\.3\s+[1-9]\d*\s", text, re.M)


def test_run_check_rejects_bad_input(make_model):
    fm, qm, ds = _classify(make_model)
    with pytest.raises(DataError, match=r"^toy: inputs must have 5 features for this model, not 3$"):
        run_check(qm, Dataset("toy", ds.x[..., :3].copy(), ds.y, "classify", 4))
    with pytest.raises(DataError, match=r"^toy: targets must be below the model's 4 classes, not up to 9$"):
        run_check(qm, Dataset("toy", ds.x, np.full(ds.y.shape, 9), "classify", 10))
    with pytest.raises(ValueError, match=r"^threshold_lsb must be a positive number or None, not 0$"):
        run_check(qm, ds, threshold_lsb=0)


@pytest.fixture
def files(tmp_path, make_model):
    fm, qm, ds = _classify(make_model, n=12)
    save_model(fm, tmp_path / "f.safetensors")
    save_model(qm, tmp_path / "q.safetensors")
    np.savez(tmp_path / "d.npz", x=ds.x, y=ds.y)
    (tmp_path / "c.toml").write_text('rounding = "floor"\nh = { bits = 12, frac = 10 }\n')
    return tmp_path


def test_cli_json_has_the_keys(files):
    res = CliRunner().invoke(main, ["check", str(files / "q.safetensors"), "--data", str(files / "d.npz"), "--float-model",
                                    str(files / "f.safetensors"), "--config", str(files / "c.toml"), "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert KEYS <= set(d) and d["config"]["rounding"] == "floor" and d["suggested_widths"]["l0.h"]["configured"] == 12
    assert d["n_sequences"] == 12 and d["float_metric"] is not None


def test_cli_table_and_limit(files):
    res = CliRunner().invoke(main, ["check", str(files / "q.safetensors"), "--data", str(files / "d.npz"), "--limit", "5"])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("hwsim check: gru (exp) on ") and "5 sequences x 7 steps" in res.output
    assert re.search(r"^accuracy\s+-\s+\d\.\d{4}\s+\d\.\d{4}$", res.output, re.M)


@pytest.mark.parametrize(
    "args,message",
    [
        (["f.safetensors", "--data", "d.npz"], r"check needs a quantized model"),
        (["q.safetensors", "--data", "missing.npz"], r"data file must exist, not found"),
        (["q.safetensors", "--data", "d.npz", "--config", "missing.toml"], r"config file must exist, not found"),
        (["q.safetensors", "--data", "d.npz", "--threshold-lsb", "0"], r"Invalid value for '--tol-lsb'"),
        (["q.safetensors", "--data", "d.npz", "--tol-lsb", "nan"],
         r"^Error: Invalid value for '--tol-lsb'.*: must be a finite number > 0, not 'nan'\.?\n$"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(files, args, message):
    args = [str(files / a) if a.endswith((".npz", ".safetensors", ".toml")) else a for a in args]
    res = CliRunner().invoke(main, ["check", *args])
    assert res.exit_code == 2
    assert re.search(message, res.output)
    assert "Traceback" not in res.output


def test_activation_error_is_the_tables_own():
    from hwsim.analysis._check import activation_error

    cfg = DatapathConfig()
    # tanh table: bins 2**-7 wide, values at the midpoints: half a bin at slope ~1, plus one pre LSB
    # of input rounding at slope 1, plus the table words' rounding (half an act LSB)
    e = activation_error(cfg, "gru")
    assert 2**-8 < e < 2**-8 + 2**-11 + 2**-15
    assert activation_error(cfg, "rnn_relu") == 2.0**-cfg.pre.frac  # no unit: one LSB of pre
    assert activation_error(cfg.replace(lut_bits=8), "gru") > 3 * e  # a coarser table: a wider budget


def test_default_divergence_budget_and_tol_lsb():
    from hwsim import default_model_path, load_data, load_model

    qm, ds = load_model(default_model_path()), load_data("digits", split="test").head(64)
    r = run_check(qm, ds)
    assert r["threshold_lsb"] is None and r["first_divergence"] is None  # tracks float within its tables
    assert "4 x the activation unit's own worst error" in format_report(r)
    tight = run_check(qm, ds, threshold_lsb=1.0)["first_divergence"]
    assert tight["step"] == 0 and tight["error_lsb"] > tight["budget_lsb"] == 1.0


@pytest.mark.parametrize("per_step", [False, True])
def test_check_regression_reports_mse_and_mae_in_output_units(make_model, per_step):
    """Float targets: mse (the metric) and mae of each engine, and |y fixed - y quant| in the outputs' units."""
    from hwsim._validate import targets_fit

    fm = make_model("lstm", 3, 6, 2, 2, seed=1)
    qm = quantize_model(fm, "exp", bits=4)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 5, 3)).astype(np.float32)
    y = rng.normal(size=(30, 5, 2) if per_step else (30, 2)).astype(np.float32)
    ds = Dataset("toy", x, y, "regress-steps" if per_step else "regress", 2)
    r = run_check(qm, ds, DatapathConfig(), float_model=fm, chunk=16)
    fx = run_fixed(qm, x, DatapathConfig(), head_all_steps=per_step)
    qf = float_forward(qm, x)
    y_q = qf.h @ qm.head.weight.T + qm.head.bias if per_step else qf.y
    assert r["metric"] == "mse" and r["argmax_flips"] is None
    assert r["fixed_metric"] == pytest.approx(np.mean((fx.y - y) ** 2))
    assert r["quant_metric"] == pytest.approx(np.mean((y_q - y) ** 2))
    assert r["mae"]["fixed"] == pytest.approx(np.mean(np.abs(fx.y - y)))
    assert r["mae"]["quant"] == pytest.approx(np.mean(np.abs(y_q - y)))
    assert r["mae"]["float"] is not None and r["float_metric"] is not None
    assert r["max_abs_err_y"] == pytest.approx(np.abs(fx.y - y_q).max())
    assert r["mean_abs_err_y"] == pytest.approx(np.abs(fx.y - y_q).mean())
    assert r["quantization_loss"]["reference"] == pytest.approx(r["float_metric"])
    text = format_report(r)
    assert re.search(r"^mse +[0-9.]+ +[0-9.]+ +[0-9.]+$", text, re.M) and re.search(r"^mae +", text, re.M)
    assert "argmax" not in text and "|y err| fixed vs quant: max " in text
    with pytest.raises(DataError, match=r"^toy: regression targets must hold the model's 3 outputs per "
                       + ("step" if per_step else "sequence") + r", not 2$"):
        targets_fit(3, ds, error=DataError)


def test_saturation_verdicts_say_whether_it_matters(make_model):
    """Saturating a pre-activation whose format reaches the unit's flat region is exact (harmless);
    with a pre format that ends before it, or at h / x, a clipped value is wrong (matters)."""
    from hwsim.analysis._check import saturation_verdict

    _, qm, ds = _classify(make_model, "gru")
    big = Dataset("big", ds.x * 50, ds.y, ds.task, ds.num_classes)
    cfg = DatapathConfig(pre=FixedFormat(8, 4), lut_bits=7)  # range +-8 reaches sigmoid's LUT range 2**3 and tanh's 2**2
    r = run_check(qm, big, cfg)
    v = r["saturation_verdicts"]
    assert set(v) == {k for k, n in r["saturations"].items() if n} and v["x"]["verdict"] == "matters"
    assert v["l0.pre_r"]["verdict"] == "harmless" and v["l0.pre_r"]["advice"] is None
    # harmless means bit-exact: the same run with a pre format wide enough to never saturate r and z
    # gives the same h whenever only such nodes saturated
    wide = DatapathConfig(pre=FixedFormat(16, 4), lut_bits=7)
    sat_nodes = {k for k, n in run_fixed(qm, big.x, cfg).saturations.items() if n}
    if sat_nodes <= {"x", "l0.pre_r", "l0.pre_z", "l1.pre_r", "l1.pre_z"}:
        assert np.array_equal(run_fixed(qm, big.x, cfg).h_int, run_fixed(qm, big.x, wide).h_int)
    narrow = DatapathConfig(pre=FixedFormat(6, 4), lut_bits=7)  # +-2: sigmoid is not flat there
    s = saturation_verdict(qm, narrow, "l0.pre_r", 5, "advice")
    assert s["verdict"] == "matters" and "ends before" in s["why"] and s["advice"] == "advice"
    assert saturation_verdict(qm, cfg.replace(overflow="wrap"), "l0.pre_r", 5, "a")["verdict"] == "matters"
    assert saturation_verdict(qm, cfg, "l0.pre_n_x", 5, "a")["verdict"] == "matters"  # a sum, not a unit input
    assert saturation_verdict(qm, cfg, "l0.h", 5, "a")["verdict"] == "matters"
    assert re.search(r"^saturation at l0\.pre_r \(\d+\): harmless: feeds sigmoid", format_report(r), re.M)


def test_divergence_verdict_and_advice(make_model):
    """A first divergence is "within budget" only with no argmax flips and an error back within the
    budget at the last step; else it "matters" and names the advisor's format for the node."""
    from hwsim.analysis._check import divergence_verdict

    fd = {"node": "l0.h", "budget_lsb": 10.0}
    assert divergence_verdict(fd, 5.0, 0.0, "x")["verdict"] == "within budget"
    assert divergence_verdict(fd, 5.0, None, "x")["verdict"] == "within budget"
    grows = divergence_verdict(fd, 11.0, 0.0, "x")
    assert grows["verdict"] == "matters" and grows["advice"] == "x" and "above the 10.0 LSB budget" in grows["why"]
    assert divergence_verdict(fd, 5.0, 0.25, "x")["verdict"] == "matters"
    _, qm, ds = _classify(make_model, "lstm")
    cfg = DatapathConfig(h=FixedFormat(16, 14), act=FixedFormat(12, 10))
    r = run_check(qm, ds, cfg, threshold_lsb=1.0)
    fd = r["first_divergence"]
    assert fd["verdict"] in ("within budget", "matters") and fd["last_step_error_lsb"] >= 0
    assert (fd["advice"] is None) == (fd["verdict"] == "within budget")
    text = format_report(r)
    assert f"  verdict: {fd['verdict']} (" in text


def test_advice_is_the_width_advisors_format(make_model):
    from hwsim.analysis._advise import observed_ranges, suggest_config
    from hwsim.analysis._check import advice_for

    _, qm, ds = _classify(make_model, "gru")
    cfg = DatapathConfig(h=FixedFormat(16, 8))  # h of a GRU needs 2 integer bits: the advisor moves the point
    obs = observed_ranges(qm, ds.x)
    new = suggest_config(qm, obs, cfg)
    assert new.h != cfg.h and advice_for(qm, cfg, obs, "l0.h").startswith(f"h {cfg.h} -> {new.h} (the width advisor")
    tight = suggest_config(qm, obs, DatapathConfig())
    assert "already holds this data's range" in advice_for(qm, tight, obs, "l1.h")
    assert advice_for(qm, cfg, obs, "l0.z").startswith("act ")  # an activated gate: its act format


def test_cli_calibrate_split_fits_on_one_split_and_scores_another(tmp_path, make_model):
    fm, qm, ds = _classify(make_model, n=20)
    save_model(qm, tmp_path / "q.safetensors")
    np.savez(tmp_path / "d.npz", x_train=ds.x[:10] * 4, y_train=ds.y[:10], x_test=ds.x[10:], y_test=ds.y[10:])
    base = ["check", str(tmp_path / "q.safetensors"), "--data", str(tmp_path / "d.npz"), "--split", "test", "--json"]
    outs = {}
    for cal in ("train", "test"):
        res = CliRunner().invoke(main, [*base, "--suggest-config", str(tmp_path / f"{cal}.toml"), "--calibrate-split", cal])
        assert res.exit_code == 0, res.output
        outs[cal] = json.loads(res.output)["suggested_config"]
        assert outs[cal]["calibrate_split"] == cal and "test" in outs[cal]["scored_on"]
    # train's inputs are 4x larger: x gets more integer bits there than from the test split itself
    assert outs["train"]["config"]["x"]["frac"] < outs["test"]["config"]["x"]["frac"]
    res = CliRunner().invoke(main, [*base[:-1], "--calibrate-split", "train"])
    assert res.exit_code == 2 and "--calibrate-split needs --suggest-config" in res.output
