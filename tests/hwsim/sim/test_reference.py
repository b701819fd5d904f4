"""hwsim.sim._reference.float_forward against torch.nn.RNN/GRU/LSTM and against committed golden vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import make_model, to_torch

from hwsim.model._modelfile import load_model
from hwsim.sim._reference import GATE_NAMES, FloatResult, float_forward, sigmoid

GOLDEN = Path(__file__).parent / "golden"
CELLS = ("rnn_tanh", "rnn_relu", "gru", "lstm")


def _inputs(model, n=5, t=9, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, model.input_size))
    h0 = rng.normal(scale=0.5, size=(model.num_layers, n, model.hidden_size))
    c0 = rng.normal(scale=0.5, size=(model.num_layers, n, model.hidden_size))
    return x, h0, c0


def _torch_run(model, x, h0, c0, dtype):
    torch = pytest.importorskip("torch")
    tdt = {np.float32: torch.float32, np.float64: torch.float64}[dtype]
    rnn, lin = to_torch(model, tdt)
    with torch.no_grad():
        t = lambda a: torch.tensor(a, dtype=tdt)  # noqa: E731
        state = (t(h0), t(c0)) if model.cell == "lstm" else t(h0)
        out, final = rnn(t(x), state)
        y = None if lin is None else lin(out[:, -1]).numpy()
    h_n = final[0] if model.cell == "lstm" else final
    c_n = final[1].numpy() if model.cell == "lstm" else None
    return out.numpy(), h_n.numpy(), c_n, y


@pytest.mark.torch
@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-6), (np.float64, 1e-12)], ids=["f32", "f64"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("classes", [None, 3], ids=["nohead", "head"])
@pytest.mark.parametrize("cell", CELLS)
def test_matches_torch(cell, classes, bias, layers, dtype, tol):
    model = make_model(cell, 5, 12, layers, classes, seed=layers * 7 + bias, bias=bias)
    x, h0, c0 = _inputs(model)
    out, h_n, c_n, y = _torch_run(model, x, h0, c0, dtype)
    res = float_forward(model, x, h0=h0, c0=c0 if cell == "lstm" else None, dtype=dtype)
    assert res.h.dtype == dtype and res.h.shape == out.shape
    assert np.abs(res.h - out).max() <= tol
    # final states of every layer (torch's h_n / c_n) are the last steps of h_layers / c_layers
    assert np.abs(np.stack([h[:, -1] for h in res.h_layers]) - h_n).max() <= tol
    if cell == "lstm":
        assert np.abs(np.stack([c[:, -1] for c in res.c_layers]) - c_n).max() <= tol
        assert res.c is res.c_layers[-1]
    else:
        assert res.c is None and res.c_layers is None
    if classes is None:
        assert res.y is None
    else:
        assert res.y.shape == (5, classes) and np.abs(res.y - y).max() <= tol


@pytest.mark.torch
@pytest.mark.parametrize("cell", CELLS)
def test_zero_initial_state_is_default(cell):
    model = make_model(cell, 3, 6, 2, None, seed=3)
    x, _, _ = _inputs(model, n=2, t=4)
    zeros = np.zeros((2, 2, 6))
    out, *_ = _torch_run(model, x, zeros, zeros, np.float64)
    res = float_forward(model, x)
    np.testing.assert_allclose(res.h, out, rtol=0, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_recorded_gates_rebuild_the_state(cell):
    """The recorded gate values satisfy the cell equations with the reported h and c."""
    model = make_model(cell, 4, 6, 2, 2, seed=5)
    x, h0, c0 = _inputs(model, n=3, t=6)
    lstm = cell == "lstm"
    res = float_forward(model, x, h0=h0, c0=c0 if lstm else None, record_gates=True)
    assert len(res.gates) == 2
    for k, g in enumerate(res.gates):
        assert tuple(g) == GATE_NAMES[cell]
        h = res.h_layers[k]
        h_prev = np.concatenate([h0[k][:, None], h[:, :-1]], axis=1)
        if cell.startswith("rnn"):
            np.testing.assert_array_equal(g["a"], h)
        elif cell == "gru":
            np.testing.assert_allclose((1 - g["z"]) * g["n"] + g["z"] * h_prev, h, rtol=0, atol=1e-15)
        else:
            c = res.c_layers[k]
            c_prev = np.concatenate([c0[k][:, None], c[:, :-1]], axis=1)
            np.testing.assert_allclose(g["f"] * c_prev + g["i"] * g["g"], c, rtol=0, atol=1e-15)
            np.testing.assert_allclose(g["o"] * np.tanh(c), h, rtol=0, atol=1e-15)
    assert float_forward(model, x).gates is None


def test_relu_rnn_is_nonnegative_and_tanh_is_not():
    relu = make_model("rnn_relu", 3, 8, 1, None, seed=2)
    tanh = make_model("rnn_tanh", 3, 8, 1, None, seed=2)
    x = np.random.default_rng(0).normal(size=(4, 5, 3))
    assert float_forward(relu, x).h.min() == 0.0
    assert float_forward(tanh, x).h.min() < 0.0


def test_first_gru_step_by_hand():
    """One step of a 1-unit GRU written out with scalars."""
    model = make_model("gru", 1, 1, 1, None, seed=9)
    layer = model.layers[0]
    x, h = 0.7, -0.3
    gi = layer.w_ih[:, 0] * x + layer.b_ih
    gh = layer.w_hh[:, 0] * h + layer.b_hh
    r = 1 / (1 + np.exp(-(gi[0] + gh[0])))
    z = 1 / (1 + np.exp(-(gi[1] + gh[1])))
    n = np.tanh(gi[2] + r * gh[2])
    expected = (1 - z) * n + z * h
    res = float_forward(model, np.array([[[x]]]), h0=np.array([[[h]]]))
    assert res.h[0, 0, 0] == pytest.approx(expected, abs=1e-15)


def test_float32_mode_stays_float32():
    model = make_model("lstm", 3, 4, 2, 2, seed=0)
    res = float_forward(model, np.ones((2, 3, 3)), dtype=np.float32, record_gates=True)
    assert res.h.dtype == res.c.dtype == res.y.dtype == res.gates[1]["g"].dtype == np.float32
    assert isinstance(res, FloatResult)


def test_sigmoid_saturates_without_warnings():
    with np.errstate(all="raise"):
        v = sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_array_equal(v, [0.0, 0.5, 1.0])


def test_bad_arguments():
    model = make_model("gru", 3, 4, 2, None, seed=0)
    with pytest.raises(ValueError, match=r"^x must have shape \(N, T, 3\), not \(2, 5, 4\)$"):
        float_forward(model, np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match=r"^h0 must have shape \(L, N, H\) = \(2, 2, 4\), not \(1, 2, 4\)$"):
        float_forward(model, np.zeros((2, 5, 3)), h0=np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match=r"^c0 is only for LSTM models, not 'gru'$"):
        float_forward(model, np.zeros((2, 5, 3)), c0=np.zeros((2, 2, 4)))
    with pytest.raises(ValueError, match=r"^dtype must be float32 or float64, not float16$"):
        float_forward(model, np.zeros((2, 5, 3)), dtype=np.float16)


GOLDEN_CASES = sorted(p.name.removesuffix(".safetensors") for p in GOLDEN.glob("*.safetensors"))


def test_golden_vectors_exist():
    assert len(GOLDEN_CASES) >= 5, "run tests/hwsim/sim/golden/make_golden.py"


@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_golden_vectors(case):
    """Torch-made vectors, checked without torch: float64 runs of the float32 weights in the file."""
    model = load_model(GOLDEN / f"{case}.safetensors", cell="rnn_relu" if "relu" in case else None)
    io = np.load(GOLDEN / f"{case}.io.npz")
    lstm = model.cell == "lstm"
    res = float_forward(model, io["x"], h0=io["h0"], c0=io["c0"] if lstm else None)
    assert np.abs(res.h - io["h"]).max() <= 1e-12
    if lstm:
        assert np.abs(res.c - io["c"]).max() <= 1e-12
    if "y" in io:
        assert np.abs(res.y - io["y"]).max() <= 1e-12
    else:
        assert res.y is None
