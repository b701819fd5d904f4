"""hwsim.analysis._loss: the metric with only one tensor / layer quantized, and float-vs-quantized drift."""

import numpy as np
import pytest

from hwsim.analysis._check import run_check
from hwsim.data._datasets import load_data
from hwsim.analysis._loss import loss, quantization_loss
from hwsim.model._quant import quantize_model


@pytest.fixture(scope="module")
def models():
    from helpers import make_model

    fm = make_model("gru", 8, 16, classes=10, seed=1)  # a float GRU shaped for digits
    return fm, quantize_model(fm, "exp", bits=2), load_data("digits").head(100)


def test_every_changed_tensor_and_layer_gets_a_row(models):
    fm, qm, ds = models
    q = quantization_loss(fm, qm, ds)
    changed = {k for k in qm.tensor_keys() if not np.array_equal(fm.tensor(k), qm.tensor(k))}
    assert set(q["tensors"]) == changed and changed
    assert set(q["layers"]) <= {"l0", "head"} and q["layers"]
    for e in [*q["tensors"].values(), *q["layers"].values()]:
        assert 0.0 <= e["metric"] <= 1.0
        assert e["loss"] == pytest.approx((q["reference"] - e["metric"]) * 100, abs=0, rel=1e-12)
    assert len(q["quant_drift"]) == ds.x.shape[1] and min(q["quant_drift"]) >= 0
    assert q["quant_drift"][-1] > 0  # the weights differ, so h does


def test_a_model_against_itself_has_no_loss(models):
    fm, _, ds = models
    q = quantization_loss(fm, fm, ds)
    assert q["tensors"] == {} and q["layers"] == {} and q["quant_drift"] == [0.0] * ds.x.shape[1]


def test_run_check_reports_it_only_with_the_float_model(models):
    fm, qm, ds = models
    assert run_check(qm, ds)["quantization_loss"] is None
    r = run_check(qm, ds, float_model=fm)
    assert r["quantization_loss"]["reference"] == r["float_metric"]


@pytest.mark.parametrize("metric, ref, v, out", [("accuracy", 0.9, 0.85, 5.0), ("bits_per_symbol", 2.0, 2.5, 0.5),
                                                 ("accuracy", None, 0.5, None)])
def test_loss_sign_and_units(metric, ref, v, out):
    assert loss(metric, ref, v) == (out if out is None else pytest.approx(out))
