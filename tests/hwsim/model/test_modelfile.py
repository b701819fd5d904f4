"""hwsim.model._modelfile: reading torch state_dicts from .safetensors / .npz, writing them back."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import make_model
from safetensors.numpy import save_file

from hwsim._errors import HwsimError, ModelFileError
from hwsim.model._model import Head, Layer, QuantSpec, RNNModel
from hwsim.model._modelfile import QUANT_NPZ_KEY, load_model, model_from_tensors, model_to_tensors, save_model


def _assert_same(a, b, exact=True):
    assert (a.cell, a.num_layers, a.prefix, a.quant) == (b.cell, b.num_layers, b.prefix, b.quant)
    if a.head is not None:
        assert a.head_prefix == b.head_prefix
    ta, tb = model_to_tensors(a, dtype=np.float64), model_to_tensors(b, dtype=np.float64)
    assert list(ta) == list(tb)
    for k in ta:
        if exact:
            np.testing.assert_array_equal(ta[k], tb[k])
        else:
            np.testing.assert_allclose(ta[k], tb[k], rtol=1e-7, atol=0)


def _write(path: Path, tensors: dict, metadata=None) -> Path:
    if path.suffix == ".npz":
        np.savez(path, **tensors)
    else:
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path), metadata=metadata)
    return path


def _state(cell="gru", layers=2, classes=3, **kw):
    return model_to_tensors(make_model(cell, 4, 6, layers, classes, seed=1, **kw))


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
@pytest.mark.parametrize(
    "cell, layers, classes, bias",
    [("rnn_tanh", 1, None, True), ("rnn_relu", 2, 3, False), ("gru", 2, 3, True), ("lstm", 3, 2, True), ("lstm", 1, None, False)],
)
def test_round_trip(tmp_path, suffix, cell, layers, classes, bias):
    model = make_model(cell, 4, 6, layers, classes, seed=2, bias=bias)
    path = tmp_path / f"m{suffix}"
    save_model(model, path)
    back = load_model(path, cell="rnn_relu" if cell == "rnn_relu" else None)
    _assert_same(model, back, exact=False)  # float32 on disk
    assert back.layers[0].w_ih.dtype == np.float64
    assert (back.layers[0].b_ih is None) == (not bias)
    # a second round trip from float32-exact values is exact
    save_model(back, path)
    _assert_same(back, load_model(path, cell=back.cell))
    assert sorted(os.listdir(tmp_path)) == [path.name]  # no temp files left behind


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_quant_spec_round_trip(tmp_path, suffix):
    model = make_model("gru", 3, 4, 1, 2, seed=0)
    spec = QuantSpec(method="ternary", bits=2, scales={"rnn.weight_ih_l0": -3, "fc.weight": -2}, params={"seed": 7})
    model = type(model)(**{**model.__dict__, "quant": spec})
    path = tmp_path / f"q{suffix}"
    save_model(model, path, dtype=np.float64)
    back = load_model(path)
    assert back.quant == spec
    _assert_same(model, back)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            assert z[QUANT_NPZ_KEY].dtype.kind == "U" and z[QUANT_NPZ_KEY].ndim == 0


@pytest.mark.torch
def test_torch_state_dict_loads(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file as torch_save

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = torch.nn.LSTM(5, 7, num_layers=2, batch_first=True)
            self.classifier = torch.nn.Linear(7, 4)

    net = Net()
    torch_save(net.state_dict(), str(tmp_path / "net.safetensors"))
    model = load_model(tmp_path / "net.safetensors")
    assert (model.cell, model.num_layers, model.input_size, model.hidden_size, model.num_classes) == ("lstm", 2, 5, 7, 4)
    assert (model.prefix, model.head_prefix) == ("encoder.", "classifier.")
    np.testing.assert_array_equal(model.layers[1].w_hh, net.encoder.weight_hh_l1.detach().numpy())
    # and save_model's file loads back into torch
    save_model(model, tmp_path / "out.safetensors")
    from safetensors.torch import load_file

    net2 = Net()
    net2.load_state_dict(load_file(str(tmp_path / "out.safetensors")))
    assert torch.equal(net2.encoder.weight_ih_l0, net.encoder.weight_ih_l0)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_dtypes_become_float64(tmp_path, dtype):
    st = {k: v.astype(dtype) for k, v in _state().items()}
    model = load_model(_write(tmp_path / "m.safetensors", st))
    assert model.layers[1].w_hh.dtype == np.float64
    np.testing.assert_array_equal(model.layers[1].w_hh, st["rnn.weight_hh_l1"].astype(np.float64))


@pytest.mark.torch
def test_bfloat16(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file as torch_save

    st = {k: torch.tensor(v).to(torch.bfloat16) for k, v in _state().items()}
    st["fc.bias"] = st["fc.bias"].float()  # a mixed file: the bfloat16 path and the ordinary one
    torch_save(st, str(tmp_path / "m.safetensors"))
    model = load_model(tmp_path / "m.safetensors")
    assert model.layers[0].w_ih.dtype == np.float64
    np.testing.assert_array_equal(model.layers[1].b_hh, st["rnn.bias_hh_l1"].double().numpy())
    np.testing.assert_array_equal(model.layers[0].w_ih, st["rnn.weight_ih_l0"].double().numpy())


def test_cell_inference_and_override(tmp_path):
    path = _write(tmp_path / "r.npz", _state("rnn_tanh"))
    assert load_model(path).cell == "rnn_tanh"
    assert load_model(path, cell="rnn_relu").cell == "rnn_relu"
    assert load_model(_write(tmp_path / "l.npz", _state("lstm"))).cell == "lstm"
    assert load_model(_write(tmp_path / "g.npz", _state("gru"))).cell == "gru"
    with pytest.raises(ModelFileError, match=r"cell 'gru' needs 3H = 18 rows in 'rnn.weight_hh_l0' \(H = 6\), not 6: shape \(6, 6\)$"):
        load_model(path, cell="gru")
    with pytest.raises(ModelFileError, match=r"^cell must be one of rnn_tanh, rnn_relu, gru, lstm, not 'elman'$"):
        load_model(path, cell="elman")


def test_no_prefix_and_no_head(tmp_path):
    st = {k.removeprefix("rnn."): v for k, v in _state(classes=None).items()}
    model = load_model(_write(tmp_path / "m.safetensors", st))
    assert model.prefix == "" and model.head is None
    save_model(model, tmp_path / "o.safetensors")
    assert load_model(tmp_path / "o.safetensors").prefix == ""


def test_head_without_bias(tmp_path):
    st = _state()
    del st["fc.bias"]
    model = load_model(_write(tmp_path / "m.npz", st))
    assert model.head.bias is None and model.num_classes == 3


def test_atomic_save_leaves_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    save_model(make_model("gru", 3, 4, 1, None, seed=0), path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(HwsimError, match=r"m\.npz cannot be written \(disk full\)$"):  # one line, not a traceback
        save_model(make_model("gru", 3, 4, 1, None, seed=1), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


def test_save_errors(tmp_path):
    model = make_model("gru", 3, 4, 1, None, seed=0)
    with pytest.raises(ModelFileError, match=r"^model file name must end in \.safetensors or \.npz, not 'm\.pt'$"):
        save_model(model, tmp_path / "m.pt")
    with pytest.raises(ModelFileError, match=r"^output directory must exist, not found: .*nodir$"):
        save_model(model, tmp_path / "nodir" / "m.npz")


# ---------------------------------------------------------------------------------- bad files


def _err(path, cell=None) -> str:
    with pytest.raises(ModelFileError) as info:
        load_model(path, cell=cell)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_missing_and_foreign_files(tmp_path):
    assert re.match(r"^model file must exist, not found: .*nope\.safetensors$", _err(tmp_path / "nope.safetensors"))
    assert re.match(r"^model file must be a file, not a directory: ", _err(tmp_path))
    (tmp_path / "e.npz").write_bytes(b"")
    assert re.match(r"^.*e\.npz: model file must be \.safetensors, \.npz, a torch\.save \.pt/\.pth or an \.onnx graph, not an empty file$", _err(tmp_path / "e.npz"))
    (tmp_path / "t.txt").write_text("hello world, not a model")
    assert _err(tmp_path / "t.txt").endswith("not an unknown format")
    np.save(tmp_path / "a.npy", np.zeros(3))
    assert _err(tmp_path / "a.npy").endswith("not a single-array .npy file")
    # a pickle that is no torch.save file: torch.load refuses it, or torch is missing; one line either way
    (tmp_path / "p.pt").write_bytes(b"\x80\x02}q\x00.")
    assert re.search(r"p\.pt: (not a readable torch\.save file|a torch\.save file needs PyTorch)", _err(tmp_path / "p.pt"))


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_truncated_file(tmp_path, suffix):
    path = tmp_path / f"m{suffix}"
    save_model(make_model("lstm", 4, 8, 2, 3, seed=0), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert re.search(r"(truncated or corrupt)", _err(path))
    path.write_bytes(data[:5])
    assert _err(path)  # a few bytes: still one clear line


def test_pickled_npz(tmp_path):
    path = tmp_path / "m.npz"
    st = _state()
    st["fc.bias"] = np.array([1, "a"], dtype=object)
    np.savez(path, **st)
    assert re.search(r"m\.npz: array 'fc\.bias' holds Python objects \(pickled\); model files must hold plain numeric arrays$", _err(path))


def test_missing_keys(tmp_path):
    st = _state(layers=2)
    del st["rnn.weight_hh_l1"]
    assert re.search(r": missing key 'rnn\.weight_hh_l1' \(layer 1 of 2\)$", _err(_write(tmp_path / "a.npz", st)))
    st = _state(layers=2)
    del st["rnn.bias_ih_l0"]
    assert re.search(r": missing key 'rnn\.bias_ih_l0' \(layer 0 of 2\)$", _err(_write(tmp_path / "b.npz", st)))
    st = _state(layers=1)
    st["rnn.weight_ih_l2"] = st["rnn.weight_ih_l0"]
    assert re.search(r": missing key 'rnn\.weight_ih_l1' \(layer 1 of 3\)$", _err(_write(tmp_path / "c.npz", st)))


def test_wrong_shapes(tmp_path):
    st = _state("lstm", layers=2)  # H = 6, I = 4
    st["rnn.weight_hh_l1"] = st["rnn.weight_hh_l1"][:, :5]
    assert re.search(r": 'rnn\.weight_hh_l1' must have shape \(24, 6\), not \(24, 5\)$", _err(_write(tmp_path / "a.npz", st)))
    st = _state("lstm", layers=2)
    st["rnn.weight_ih_l1"] = np.zeros((24, 4))
    assert re.search(r": 'rnn\.weight_ih_l1' must have shape \(24, 6\), not \(24, 4\)$", _err(_write(tmp_path / "b.npz", st)))
    st = _state("lstm", layers=1)
    st["rnn.bias_hh_l0"] = np.zeros(23)
    assert re.search(r": 'rnn\.bias_hh_l0' must have shape \(24,\), not \(23,\)$", _err(_write(tmp_path / "c.npz", st)))
    st = _state("gru", layers=1)
    st["fc.weight"] = np.zeros((3, 5))
    assert re.search(r": 'fc\.weight' must have shape \(3, 6\), not \(3, 5\)$", _err(_write(tmp_path / "d.npz", st)))
    st = _state("gru", layers=1)
    st["fc.bias"] = np.zeros(4)
    assert re.search(r": 'fc\.bias' must have shape \(3,\), not \(4,\)$", _err(_write(tmp_path / "e.npz", st)))
    st = _state("gru", layers=1)
    st["rnn.weight_hh_l0"] = np.zeros((12, 6))
    assert re.search(r": 'rnn\.weight_hh_l0' must have H, 3H or 4H rows for H = 6 columns \(RNN, GRU, LSTM\), not 12$", _err(_write(tmp_path / "f.npz", st)))
    st["rnn.weight_hh_l0"] = np.zeros(6)
    assert re.search(r": 'rnn\.weight_hh_l0' must be a 2-D \(G\*H, H\) matrix, not shape \(6,\)$", _err(_write(tmp_path / "g.npz", st)))


def test_nan_inf(tmp_path):
    st = _state()
    st["rnn.weight_ih_l1"][0, :2] = np.nan
    st["rnn.weight_ih_l1"][3, 3] = -np.inf
    assert re.search(r": 'rnn\.weight_ih_l1' holds 3 NaN/Inf values; weights must be finite$", _err(_write(tmp_path / "a.safetensors", st)))


@pytest.mark.parametrize("dtype", [np.int32, np.bool_, np.complex64, np.uint8])
def test_wrong_dtype(tmp_path, dtype):
    st = _state()
    st["rnn.bias_hh_l0"] = st["rnn.bias_hh_l0"].astype(dtype)
    path = _write(tmp_path / "a.npz", st)
    assert re.search(rf": 'rnn\.bias_hh_l0' must hold floats \(float16/bfloat16/float32/float64\), not {np.dtype(dtype)}$", _err(path))


def test_heads_and_extra_tensors(tmp_path):
    st = _state()
    st["aux.weight"] = np.zeros((2, 6))
    assert re.search(r": more than one candidate head: 'aux\.weight', 'fc\.weight'; a model file holds at most one linear head$", _err(_write(tmp_path / "a.npz", st)))
    st = _state()
    st["step"] = np.zeros(())
    assert re.search(r": unexpected tensor 'step' \(\): a model file holds one RNN/GRU/LSTM and at most one linear head$", _err(_write(tmp_path / "b.npz", st)))
    st = _state(classes=None)
    st["proj.bias"] = np.zeros(3)
    assert re.search(r": unexpected tensor 'proj\.bias': no matching 'proj\.weight'$", _err(_write(tmp_path / "c.npz", st)))


def test_bidirectional_and_no_layers(tmp_path):
    st = _state()
    st["rnn.weight_ih_l0_reverse"] = st["rnn.weight_ih_l0"]
    assert re.search(r": bidirectional RNNs are not supported \(found 'rnn\.weight_ih_l0_reverse'\); hwsim simulates one direction only$", _err(_write(tmp_path / "a.npz", st)))
    assert re.search(r": no recurrent layers: expected keys like 'weight_ih_l0' and 'weight_hh_l0' \(found 'fc\.bias', 'fc\.weight'\)$", _err(_write(tmp_path / "b.npz", {"fc.weight": np.zeros((2, 3)), "fc.bias": np.zeros(2)})))
    assert re.search(r": no recurrent layers: .* \(found no tensors\)$", _err(_write(tmp_path / "c.safetensors", {})))
    st = _state(layers=1)
    st2 = {k.replace("rnn.", "enc."): v for k, v in st.items() if k.endswith("_l0") and "weight_ih" in k}
    st.update(st2)
    assert re.search(r": recurrent keys must share one prefix, found 'enc\.', 'rnn\.'$", _err(_write(tmp_path / "d.npz", st)))


def test_bad_quant_records(tmp_path):
    st = _state()
    path = _write(tmp_path / "a.safetensors", st, metadata={"hwsim.quant": "{not json"})
    assert re.search(r"a\.safetensors: quantization record 'hwsim\.quant' must be a QuantSpec JSON object \(", _err(path))
    spec = QuantSpec(method="ternary", bits=2, scales={"rnn.weight_ih_l9": 0})
    path = _write(tmp_path / "b.safetensors", st, metadata={"hwsim.quant": spec.to_json()})
    assert re.search(r": quantization record names tensors the model does not hold: 'rnn\.weight_ih_l9'$", _err(path))
    path = tmp_path / "c.npz"
    np.savez(path, **st, **{QUANT_NPZ_KEY: np.array([1.0])})
    assert re.search(r": '__hwsim_quant__' must be a 0-d unicode array holding JSON, not float64 \(1,\)$", _err(path))


def test_model_from_tensors_copies():
    st = _state()
    model = model_from_tensors(st)
    st["rnn.weight_ih_l0"][:] = 0
    assert np.any(model.layers[0].w_ih != 0)


def test_per_row_scales_must_be_one_per_row(tmp_path):
    import json

    from safetensors.numpy import save_file

    from hwsim.model._modelfile import QUANT_META_KEY, model_to_tensors
    from hwsim.model._quant import quantize_model

    rng = np.random.default_rng(0)
    model = RNNModel("gru", (Layer(rng.normal(0, 0.3, (12, 3)), rng.normal(0, 0.3, (12, 4)), None, None),),
                     Head(rng.normal(0, 0.3, (2, 4)), None), prefix="rnn.")
    q = quantize_model(model, "ternary", scale="row")
    rec = json.loads(q.quant.to_json())
    rec["scales"]["head.weight"] = [0, 0, 0]
    p = tmp_path / "q.safetensors"
    save_file(model_to_tensors(q), str(p), metadata={QUANT_META_KEY: json.dumps(rec)})
    with pytest.raises(ModelFileError, match=r"^.*q\.safetensors: quantization record gives 'head\.weight' 3 per-row "
                       r"scales; per-row scales must be one per row of a weight matrix, and it has shape \(2, 4\)$"):
        load_model(p)
