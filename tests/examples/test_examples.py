"""examples/: the scripts and files the README and docs/training.md use run as written."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import hwsim

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _example(name: str):
    """examples/NAME.py imported as a module (it needs torch)."""
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_shipped_files_load():
    cfg = hwsim.DatapathConfig.from_toml(EXAMPLES / "datapath.toml")
    assert (cfg.h.bits, cfg.act.bits, cfg.lut_bits, cfg.lanes) == (12, 12, 9, 2)
    fm = hwsim.load_model(EXAMPLES / "digits_gru.safetensors")
    assert (fm.cell, fm.input_size, fm.hidden_size, fm.num_classes, fm.quant) == ("gru", 8, 32, 10, None)


@pytest.mark.torch
def test_qat_example_runs(tmp_path):
    mod = _example("qat_gru")
    # the script asserts itself that hwsim's quantizer reproduces the in-loop weights exactly
    res = mod.main(["--epochs", "2", "--out", str(tmp_path)])
    assert (tmp_path / "gru.pt").is_file() and (tmp_path / "gru.ternary.safetensors").is_file()
    # two epochs of a seeded run: far above chance (0.1) in PyTorch and in the bit-accurate datapath
    assert res["torch"] > 0.5 and res["fixed_metric"] > 0.5
    # hwsim's quantized-float inference is PyTorch's eval-mode forward, up to float32 vs float64 ties
    assert abs(res["quant_metric"] - res["torch"]) <= 2 / 359
    qm = hwsim.load_model(tmp_path / "gru.ternary.safetensors")
    assert qm.quant.method == "ternary" and qm.num_layers == 2
    assert set(np.unique(hwsim.decode_model_codes(qm)["rnn.weight_hh_l1"][0])) <= {-1, 0, 1}


@pytest.mark.torch
@pytest.mark.rtl
def test_regression_example_is_bit_exact_under_both_simulators(tmp_path):
    """A time-series regression LSTM: train -> check -> export -> cosim under Icarus and Verilator, 0 mismatches."""
    import shutil

    pytest.importorskip("torch")
    if shutil.which("iverilog") is None or shutil.which("verilator") is None:
        pytest.skip("needs Icarus Verilog and Verilator")
    spec = importlib.util.spec_from_file_location("regress_lstm", EXAMPLES / "regress_lstm.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    res = mod.main(["--out", str(tmp_path)])  # 15 epochs: seconds
    m, check = res["metrics"], res["check"]
    assert (m["task"], m["metric"], m["n_train"], m["n_valid"], m["n_test"]) == ("regress", "mse", 288, 32, 80)
    assert m["split"]["test"] == f"{tmp_path / 'series.npz'}:test"
    # the next sample of a unit sine: far better than predicting 0 (mse 0.5), in float and in fixed point
    assert m["test_metric"] < 0.1 and check["fixed_metric"] < 0.1
    assert (check["metric"], check["data"], check["n_sequences"]) == ("mse", f"{tmp_path / 'series.npz'}:test", 80)
    assert check["mae"]["fixed"] < 0.3 and check["argmax_flips"] is None
    # the fixed-point datapath tracks float inference within a few LSBs of the output, in its own units
    assert 0 < check["max_abs_err_y"] < 0.05 and check["mean_abs_err_y"] <= check["max_abs_err_y"]
    assert res["cosim"] == {"icarus": 0, "verilator": 0}


@pytest.mark.torch
@pytest.mark.rtl
def test_variable_length_example_runs_bit_exact(tmp_path):
    """examples/varlen_gru.py: train -> check -> export -> cosim (Icarus) on sequences of 4..16 steps."""
    res = _example("varlen_gru").main(["--epochs", "3", "--out", str(tmp_path)])
    assert res["fixed_metric"] > 0.6  # chance: 1/3
    assert abs(res["fixed_metric"] - res["quant_metric"]) <= 3 / 300
    cos = res["cosim"]
    assert (cos["ok"], cos["mismatches"], cos["sequences"], cos["steps"]) == (True, 0, 24, int(res["lengths"].sum()))
    assert len(set(res["lengths"].tolist())) > 3  # really of different lengths
    g = json.loads((tmp_path / "export" / "tb" / "golden.json").read_text())
    assert g["lengths"] == res["lengths"][:6].tolist()
