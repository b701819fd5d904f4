"""hwsim.model._torchfile: torch.save state_dicts and checkpoints, read with torch.load(weights_only=True)."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from hwsim._errors import ModelFileError
from hwsim.model._modelfile import load_model

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.GRU(13, 24, num_layers=2, batch_first=True)
        self.fc = torch.nn.Linear(24, 10)


def _err(path) -> str:
    with pytest.raises(ModelFileError) as e:
        load_model(path)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def _check(model, net):
    assert (model.cell, model.num_layers, model.input_size, model.hidden_size, model.num_classes) == ("gru", 2, 13, 24, 10)
    np.testing.assert_array_equal(model.layers[1].w_hh, net.rnn.weight_hh_l1.detach().numpy())
    np.testing.assert_array_equal(model.head.weight, net.fc.weight.detach().numpy())


@pytest.mark.parametrize("wrap", [
    lambda sd: sd,
    lambda sd: {"state_dict": {f"model.{k}": v for k, v in sd.items()}, "epoch": 3, "hyper_parameters": {"lr": 0.1}},
    lambda sd: {"model_state_dict": sd, "optimizer_state_dict": {"state": {}, "param_groups": []}, "epoch": 7},
    lambda sd: {f"module.{k}": v for k, v in sd.items()},
    lambda sd: {"model": {f"module._orig_mod.{k}": v for k, v in sd.items()}},
], ids=["state_dict", "lightning", "tutorial", "dataparallel", "compiled"])
def test_checkpoints_load(tmp_path, wrap):
    net = Net()
    torch.save(wrap(net.state_dict()), tmp_path / "m.pt")
    model = load_model(tmp_path / "m.pt")
    _check(model, net)
    assert (model.prefix, model.head_prefix) == ("rnn.", "fc.")


def test_suffix_is_not_trusted_and_bf16_widens(tmp_path):
    net = Net().to(torch.bfloat16)
    torch.save(net.state_dict(), tmp_path / "weights.bin")
    model = load_model(tmp_path / "weights.bin")
    np.testing.assert_array_equal(model.layers[0].w_ih, net.rnn.weight_ih_l0.detach().float().numpy())


def test_whole_module_is_refused_without_unpickling(tmp_path):
    torch.save(Net(), tmp_path / "m.pth")
    assert re.search(r"m\.pth: holds Python objects that torch\.load\(weights_only=True\) refuses .*save model\.state_dict\(\) instead", _err(tmp_path / "m.pth"))


def test_no_state_dict(tmp_path):
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "m.pt")
    assert re.search(r"m\.pt: a torch\.save checkpoint must hold a state_dict .* its keys are 'epoch', 'lr'$", _err(tmp_path / "m.pt"))
    torch.save([torch.zeros(2)], tmp_path / "l.pt")
    assert _err(tmp_path / "l.pt").endswith("must hold a state_dict (a dict of tensors), not list")


def test_truncated(tmp_path):
    torch.save(Net().state_dict(), tmp_path / "m.pt")
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "m.pt").write_bytes(data[: len(data) // 2])
    assert re.search(r"m\.pt: (not a readable torch\.save file \(truncated or corrupt|model file must be)", _err(tmp_path / "m.pt"))


def test_without_torch_says_how_to_resave(tmp_path, monkeypatch):
    torch.save(Net().state_dict(), tmp_path / "m.pt")
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    msg = _err(tmp_path / "m.pt")
    assert re.search(r"m\.pt: a torch\.save file needs PyTorch to read \(pip install 'hwsim\[train\]'\), or re-save it "
                     r"as safetensors where torch is: python -c .*save_file\(torch\.load\('.*m\.pt', weights_only=True\), "
                     r"'.*m\.safetensors'\)\"$", msg)
