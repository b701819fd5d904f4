"""Activation-aware QAT (hwsim/training/_aqat.py): the forward pass is the datapath, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hwsim._errors import QuantError  # noqa: E402
from hwsim.datapath._config import DatapathConfig, FixedFormat  # noqa: E402
from hwsim.sim._sim import run_fixed  # noqa: E402
from hwsim.torch import QuantConfig, QuantSeqModel, init_weights_  # noqa: E402

pytestmark = pytest.mark.torch
torch.set_num_threads(1)

#: An 8-10-bit contract: narrow enough that rounding and saturation decide the outputs.
NARROW = DatapathConfig(x=FixedFormat(8, 6), h=FixedFormat(8, 6), c=FixedFormat(10, 6), pre=FixedFormat(10, 6),
                        act=FixedFormat(8, 6), out=FixedFormat(10, 5), lut_bits=8)


def _model(cell, method, cfg, per_step=False, seed=0):
    torch.manual_seed(seed)
    m = init_weights_(QuantSeqModel(cell, 3, 6, 4, num_layers=2, per_step=per_step,
                                    config=QuantConfig(method=method, datapath=cfg)))
    with torch.no_grad():  # biases off their zero init, so their rounding to the accumulator grid matters
        for name, p in m.named_parameters():
            if "bias" in name:
                p.uniform_(-0.5, 0.5)
    return m


@pytest.mark.parametrize("cell", ["rnn_tanh", "rnn_relu", "gru", "lstm"])
@pytest.mark.parametrize("method, cfg, per_step", [
    ("ternary", NARROW, False),
    ("pow2-ternary", NARROW.replace(rounding="half_even"), True),
    ("binary", DatapathConfig(activation="pwl"), False),
    ("ternary", NARROW.replace(rounding="floor", activation="pwl"), True),
], ids=["ternary-narrow-lut", "pow2-half-even-per-step", "binary-pwl", "ternary-floor-pwl-per-step"])
def test_evaluation_forward_is_the_bit_accurate_datapath(cell, method, cfg, per_step):
    """fixed == quant by construction: eval mode computes run_fixed's outputs on the saved model exactly."""
    m = _model(cell, method, cfg, per_step).eval()
    x = torch.randn(5, 7, 3) * 2  # some inputs saturate the x format
    with torch.no_grad():
        got = m(x).double().numpy()
    want = run_fixed(m.quantized_model(), x.numpy(), cfg, head_all_steps=per_step).y
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(got)) > 4  # outputs that vary, not a saturated constant


def test_training_reaches_the_weights_straight_through():
    m = _model("gru", "ternary-stoch", NARROW).train()
    x, y = torch.randn(8, 5, 3), torch.randint(0, 4, (8,))
    loss = torch.nn.functional.cross_entropy(m(x), y)
    loss.backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.count_nonzero(p.grad) > 0, name


def test_unsupported_datapaths_are_refused_in_one_line():
    with pytest.raises(QuantError, match=r"^activation-aware QAT \(datapath=\.\.\.\) needs one of binary, binary-stoch, "
                       r"ternary, ternary-stoch, pow2-ternary with the tensor scale, not exp \(tensor\)$"):
        QuantConfig(method="exp", datapath=NARROW)
    with pytest.raises(QuantError, match=r"^activation-aware QAT \(datapath=\.\.\.\) needs overflow = \"saturate\", not \"wrap\"$"):
        QuantConfig(method="ternary", datapath=NARROW.replace(overflow="wrap"))
    with pytest.raises(TypeError, match=r"^datapath must be a DatapathConfig or None, not str$"):
        QuantConfig(method="ternary", datapath="narrow.toml")


def test_train_with_a_datapath_reports_the_fixed_point_metric_as_its_own(tmp_path):
    """hwsim train --datapath: the test metric of the module is the bit-accurate one on that contract."""
    from hwsim.analysis._advise import config_toml
    from hwsim.training._train import TrainConfig, command_line, train

    toml = tmp_path / "narrow.toml"
    toml.write_text(config_toml(NARROW, ("narrow",)))
    cfg = TrainConfig(cell="gru", hidden=6, data="digits", epochs=1, limit=64, eval_limit=48, batch=32,
                      datapath=str(toml), check=True)
    m = train(cfg, progress=False).metrics
    assert m["fixed_test_metric"] == m["test_metric"] and m["fixed_how"] == "hwsim check"
    assert f"--datapath {toml}" in command_line(cfg, "m.safetensors")
