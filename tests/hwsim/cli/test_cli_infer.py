"""``hwsim infer`` through click's CliRunner."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import make_model

from hwsim.data._datasets import load_data
from hwsim.model._modelfile import save_model
from hwsim.sim._reference import float_forward
from hwsim.cli import main


def _run(*args):
    result = CliRunner().invoke(main, ["infer", *map(str, args)])
    return result


@pytest.fixture
def digits_gru(tmp_path):
    model = make_model("gru", 8, 6, 2, 10, seed=4)
    path = tmp_path / "m.safetensors"
    save_model(model, path, dtype=np.float64)
    return path, model


def test_float_on_digits(tmp_path, digits_gru):
    path, model = digits_gru
    out = tmp_path / "out.npz"
    r = _run(path, "--data", "digits", "--limit", "25", "-o", out)
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"wrote {out}: float engine, 25 sequences of 8 steps from digits:test, accuracy ")
    ds = load_data("digits")
    ref = float_forward(model, ds.x[:25])
    with np.load(out) as z:
        assert sorted(z.files) == ["h", "target", "y"]
        np.testing.assert_array_equal(z["h"], ref.h)
        np.testing.assert_array_equal(z["y"], ref.y)
        np.testing.assert_array_equal(z["target"], ds.y[:25])
    assert sorted(os.listdir(tmp_path)) == ["m.safetensors", "out.npz"]


def test_lstm_file_data_and_relu_cell(tmp_path):
    lstm = make_model("lstm", 3, 4, 1, None, seed=0)
    save_model(lstm, tmp_path / "l.npz", dtype=np.float64)
    x = np.random.default_rng(1).normal(size=(5, 7, 3))
    np.savez(tmp_path / "d.npz", x=x)
    r = _run(tmp_path / "l.npz", "--data", tmp_path / "d.npz", "-o", tmp_path / "o.npz")
    assert r.exit_code == 0, r.output
    ref = float_forward(lstm, x.astype(np.float32))
    with np.load(tmp_path / "o.npz") as z:
        assert sorted(z.files) == ["c", "h"]
        np.testing.assert_array_equal(z["c"], ref.c)
    relu = make_model("rnn_relu", 3, 4, 1, None, seed=0)
    save_model(relu, tmp_path / "r.npz", dtype=np.float64)
    r = _run(tmp_path / "r.npz", "--data", tmp_path / "d.npz", "--cell", "rnn_relu", "-o", tmp_path / "o.npz")
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "o.npz") as z:
        np.testing.assert_array_equal(z["h"], float_forward(relu, x.astype(np.float32)).h)
        assert z["h"].min() == 0


@pytest.mark.parametrize(
    "model, args, message",
    [
        ("none.npz", ["--data", "digits"], r"model file must exist, not found: .*none\.npz"),
        ("m.safetensors", ["--data", "mnist"], r"unknown data set 'mnist': not a file and not a built-in \(digits, fashion, kjv\)"),
        ("m.safetensors", ["--data", "digits", "--cell", "lstm"],
         r".*: cell 'lstm' needs 4H = 24 rows in 'rnn\.weight_hh_l0' \(H = 6\), not 18: shape \(18, 6\)"),
        ("m.safetensors", ["--data", "small.npz"], r".*small\.npz: inputs must have 8 features for this model, not 2"),
        ("m.safetensors", ["--data", "digits", "--engine", "fixed", "--config", "none.toml"],
         r"config file must exist, not found: .*none\.toml"),
    ],
    ids=["no-model", "no-data", "bad-cell", "width", "no-config"],
)
def test_bad_input_exit_2_no_output(tmp_path, digits_gru, model, args, message):
    np.savez(tmp_path / "small.npz", x=np.zeros((2, 3, 2)))
    args = [str(tmp_path / a) if a.endswith((".npz", ".toml")) else a for a in args]
    out = tmp_path / "o.npz"
    r = _run(tmp_path / model, *args, "-o", out)
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1
    assert re.fullmatch(rf"Error: {message}", lines[0]), lines[0]
    assert not out.exists()


def test_missing_output_dir(tmp_path, digits_gru):
    r = _run(digits_gru[0], "--data", "digits", "-o", tmp_path / "no" / "o.npz")
    assert r.exit_code == 2 and r.output.startswith("Error: output directory must exist, not found: ")


def test_click_usage_errors(tmp_path, digits_gru):
    assert _run(digits_gru[0], "--data", "digits").exit_code == 2  # no -o
    assert _run(digits_gru[0], "--data", "digits", "--engine", "approx", "-o", tmp_path / "o.npz").exit_code == 2
    assert _run(digits_gru[0], "--data", "digits", "--limit", "0", "-o", tmp_path / "o.npz").exit_code == 2


def test_fixed_engine(tmp_path, digits_gru):
    from hwsim.model._quant import quantize_model

    qmodel = quantize_model(digits_gru[1], "ternary")
    path = tmp_path / "q.safetensors"
    save_model(qmodel, path)
    out = tmp_path / "f.npz"
    r = _run(path, "--data", "digits", "--engine", "fixed", "--limit", "10", "-o", out)
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"wrote {out}: fixed engine, 10 sequences of 8 steps")
    with np.load(out) as z:
        assert {"h", "y", "h_int", "y_int", "target"} <= set(z.files) and "c" not in z.files
        assert z["h"].shape == (10, 8, 6) and z["h_int"].dtype.kind == "i"
        # the dequantized fixed-point run stays near the float run of the same quantized weights
        ref = float_forward(qmodel, load_data("digits").x[:10])
        assert np.abs(z["h"] - ref.h).max() < 0.02


def test_fixed_engine_missing(tmp_path, digits_gru, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "hwsim.sim._sim", None)
    out = tmp_path / "f.npz"
    r = _run(digits_gru[0], "--data", "digits", "--engine", "fixed", "-o", out)
    assert r.exit_code == 2
    assert r.output.strip() == "Error: the fixed-point engine (hwsim.sim._sim) is not available in this install"
    assert not out.exists()
