"""hwsim.torch: quantizers as autograd functions and the quantized RNN/GRU/LSTM modules."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hwsim.model import _quant  # noqa: E402
from hwsim._errors import QuantError  # noqa: E402
from hwsim.sim._reference import float_forward  # noqa: E402
from hwsim.torch import (  # noqa: E402
    QuantConfig,
    QuantLinear,
    QuantGRU,
    QuantLSTM,
    QuantRNN,
    QuantSeqModel,
    StraightThrough,
    init_weights_,
    TensorQuantizer,
    init_weights_,
    quantize,
    round_half_away,
)

pytestmark = pytest.mark.torch
torch.set_num_threads(1)

DET = ("binary", "ternary", "pow2-ternary", "exp", "uniform")


def _weights(seed: int, shape=(24, 9), scale=0.6) -> torch.Tensor:
    """Random float32 weights plus the values where quantizers switch (ties, powers of two, zero)."""
    g = torch.Generator().manual_seed(seed)
    w = (torch.rand(shape, generator=g) * 2 - 1) * scale
    special = torch.tensor(
        [0.0, 0.25, -0.25, 0.125, -0.125, 0.5, -0.5, 0.75, -0.75, 1.5 * 2**-3, -1.5 * 2**-3, 2**-9,
         0.0625, -0.0625, 3 * 2**-4, 1.0, -1.0, 2.0, 0.49999997, -0.49999997, 0.1875, 2**-5, 3 * 2**-6, 7.0],
        dtype=torch.float32,
    )
    w.view(-1)[: special.numel()] = special
    return w


def _numpy_quant(w: torch.Tensor, method: str, **kw) -> np.ndarray:
    return _quant.quantize_tensor(w.double().numpy(), method, **kw).values


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("method", DET)
def test_deterministic_quantizers_equal_numpy(method, seed):
    w = _weights(seed, scale=[0.6, 2.0, 0.05][seed])
    cfg = QuantConfig(method=method)
    glorot = 0.3 + 0.1 * seed
    tq = cfg.tensor(glorot)
    got = quantize(w, tq).double().numpy()
    kw = {"w0": glorot} if method == "ternary" else {}
    np.testing.assert_array_equal(got, _numpy_quant(w, method, **kw))


@pytest.mark.parametrize("bits", [2, 3, 5, 8])
def test_uniform_and_exp_widths_equal_numpy(bits):
    w = _weights(bits, scale=1.2)
    for method in ("uniform", "exp") if bits <= 6 else ("uniform",):
        got = quantize(w, QuantConfig(method=method, bits=bits).tensor(1.0)).double().numpy()
        np.testing.assert_array_equal(got, _numpy_quant(w, method, bits=bits), err_msg=method)


def test_exp_fixed_range_and_paper_exact_equal_numpy():
    w = _weights(7, scale=0.3)
    for zero in (True, False):
        cfg = QuantConfig(method="exp", e_min=-6, e_max=-1, zero=zero)
        got = quantize(w, cfg.tensor(1.0)).double().numpy()
        want = _numpy_quant(w, "exp", e_min=-6, e_max=-1, zero=zero)
        np.testing.assert_array_equal(got, want)
    assert not (got == 0).any()  # paper-exact: no zero code, w = 0 becomes -2**e_min
    assert got.ravel()[0] == -(2.0**-6)


def test_round_half_away_is_exact_near_half():
    x = torch.tensor([0.5, -0.5, 1.5, -2.5, 0.49999997, -0.49999997, 2.4999998], dtype=torch.float32)
    assert round_half_away(x).tolist() == [1.0, -1.0, 2.0, -3.0, 0.0, -0.0, 2.0]


@pytest.mark.parametrize("method", ["binary-stoch", "ternary-stoch", "exp-stoch"])
def test_stochastic_quantizers_are_on_the_grid_and_unbiased(method):
    g = torch.Generator().manual_seed(0)
    w0 = 0.5
    w = torch.full((20000,), 0.3)
    tq = QuantConfig(method=method).tensor(w0)
    q = quantize(w, tq, stochastic=True, generator=g)
    det = method.removesuffix("-stoch")
    grid = {
        "binary": {-1.0, 1.0},
        "ternary": {0.0, 0.5},
        "exp": {0.25, 0.5},  # 0.3 lies between 2**-2 and 2**-1
    }[det]
    assert set(q.unique().tolist()) == grid
    mean = float(q.mean())
    expected = 0.3
    assert abs(mean - expected) < 0.02, (method, mean)
    # evaluation mode (stochastic=False) is the deterministic twin
    np.testing.assert_array_equal(quantize(w, tq).numpy(), quantize(w, QuantConfig(method=det).tensor(w0)).numpy())


def test_stochastic_draws_follow_the_generator():
    w = _weights(3)
    tq = QuantConfig(method="ternary-stoch").tensor(0.5)
    a = quantize(w, tq, stochastic=True, generator=torch.Generator().manual_seed(5))
    b = quantize(w, tq, stochastic=True, generator=torch.Generator().manual_seed(5))
    c = quantize(w, tq, stochastic=True, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_straight_through_gradient():
    w = _weights(0).requires_grad_(True)
    c = torch.randn(w.shape, generator=torch.Generator().manual_seed(1))
    q = StraightThrough.apply(w, QuantConfig(method="ternary").tensor(0.5), False, None)
    (q * c).sum().backward()
    assert torch.equal(w.grad, c)
    assert not torch.equal(q.detach(), w.detach())


def test_bad_method_and_bits():
    with pytest.raises(QuantError, match=r"^method must be one of full, binary, .*not 'quad'$"):
        TensorQuantizer("quad")
    with pytest.raises(QuantError, match=r"^method must be one of .*not 'quad'$"):
        QuantConfig(method="quad")
    with pytest.raises(QuantError, match=r"^exp codes must be 2 to 6 bits wide, not 9$"):
        QuantConfig(method="exp", bits=9)
    with pytest.raises(QuantError, match=r"^biases must be 'fixed' or 'quantized', not 'half'$"):
        QuantConfig(biases="half")


@pytest.mark.parametrize(
    "cls, ref",
    [(QuantRNN, torch.nn.RNN), (QuantGRU, torch.nn.GRU), (QuantLSTM, torch.nn.LSTM)],
    ids=["rnn", "gru", "lstm"],
)
def test_modules_match_torch_with_quantized_weights(cls, ref):
    torch.manual_seed(0)
    m = init_weights_(cls(5, 6, 2, batch_first=True, config=QuantConfig(method="ternary", biases="quantized")))
    with torch.no_grad():  # PyTorch's default init would ternarize to all zeros, and compare nothing
        for name, p in m.named_parameters():
            if name.startswith("bias"):
                p.uniform_(-1.0, 1.0)
    plain = ref(5, 6, 2, batch_first=True)
    assert list(m.state_dict()) == list(plain.state_dict())
    m.eval()
    qstate = {name: quantize(p.detach(), m.quantizers[name]) for name, p in m.named_parameters()}
    assert all(0.1 < float((q != 0).float().mean()) < 0.9 for q in qstate.values())  # nonzero weights compared
    plain.load_state_dict(qstate)
    x = torch.randn(3, 7, 5)
    out, _ = m(x)
    want, _ = plain(x)
    torch.testing.assert_close(out, want, rtol=0, atol=0)
    # every tensor, biases included, is on the ternary grid of its own W0
    for name, p in qstate.items():
        assert len(p.unique()) <= 3, name


def test_full_method_is_plain_torch():
    torch.manual_seed(0)
    m = QuantGRU(4, 5, config=QuantConfig(method="full"))
    plain = torch.nn.GRU(4, 5)  # the same defaults: batch_first=False
    plain.load_state_dict(m.state_dict())
    x = torch.randn(3, 2, 4)
    torch.testing.assert_close(m(x)[0], plain(x)[0], rtol=0, atol=0)


def test_input_shape_error():
    m = QuantGRU(4, 5, batch_first=True)
    with pytest.raises(ValueError, match=r"^input must be \(N, T, 4\) \(batch_first\) or unbatched \(T, 4\), not \(2, 3, 5\)$"):
        m(torch.zeros(2, 3, 5))


_TORCH_ARGS = {  # the constructor arguments of nn.RNN / nn.GRU / nn.LSTM after input_size, hidden_size
    "RNN": ("num_layers", "nonlinearity", "bias", "batch_first", "dropout", "bidirectional", "device", "dtype"),
    "GRU": ("num_layers", "bias", "batch_first", "dropout", "bidirectional", "device", "dtype"),
    "LSTM": ("num_layers", "bias", "batch_first", "dropout", "bidirectional", "proj_size", "device", "dtype"),
}


@pytest.mark.parametrize("name", list(_TORCH_ARGS))
def test_constructors_take_torchs_arguments_in_torchs_order(name):
    import inspect

    base = [p for p in inspect.signature(torch.nn.RNNBase.__init__).parameters if p not in ("self", "mode")]
    want = ["input_size", "hidden_size", *_TORCH_ARGS[name]]
    assert [p for p in base if p != "proj_size" or name == "LSTM"] == [p for p in want if p != "nonlinearity"]
    cls = {"RNN": QuantRNN, "GRU": QuantGRU, "LSTM": QuantLSTM}[name]
    params = inspect.signature(cls.__init__).parameters
    assert [p for p in params if p not in ("self", "config")] == want
    defaults = {"num_layers": 1, "nonlinearity": "tanh", "bias": True, "batch_first": False, "dropout": 0.0,
                "bidirectional": False, "proj_size": 0, "device": None, "dtype": None}
    assert {p: params[p].default for p in want[2:]} == {p: defaults[p] for p in want[2:]}


@pytest.mark.parametrize("name, args, kwargs", [
    ("RNN", (5, 7), {}),
    ("RNN", (5, 7, 2, "relu", False, True, 0.3), {}),
    ("GRU", (5, 7, 3, False, False, 0.5), {"dtype": torch.float64, "device": "cpu"}),
    ("GRU", (5, 7), {"num_layers": 2, "batch_first": True, "dropout": 0.2}),
    ("LSTM", (5, 7, 2, True, True, 0.4, False, 0), {}),
    ("LSTM", (5, 7), {"bias": False, "dtype": torch.float64}),
], ids=["rnn-defaults", "rnn-relu-positional", "gru-positional-f64", "gru-kw", "lstm-positional", "lstm-nobias"])
def test_parity_with_torch_nn(name, args, kwargs):
    """Built with torch's own argument list, the float (method="full") layer is nn.* exactly, dropout included."""
    torch.manual_seed(0)
    plain = getattr(torch.nn, name)(*args, **kwargs)
    quant = {"RNN": QuantRNN, "GRU": QuantGRU, "LSTM": QuantLSTM}[name](*args, **kwargs, config=QuantConfig(method="full"))
    quant.load_state_dict(plain.state_dict())
    assert (quant.batch_first, quant.dropout, quant.bias, quant.num_layers) == (
        plain.batch_first, plain.dropout, plain.bias, plain.num_layers)
    dtype = kwargs.get("dtype", torch.float32)
    x = torch.randn(4, 6, 5, dtype=dtype)
    for training in (False, True):  # training: dropout between layers, the same draws under the same seed
        plain.train(training), quant.train(training)
        torch.manual_seed(1)
        want = plain(x)
        torch.manual_seed(1)
        got = quant(x)
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    plain.eval(), quant.eval()
    torch.testing.assert_close(quant(x[0]), plain(x[0]), rtol=0, atol=0)  # unbatched (T, I), as torch takes it
    h0 = torch.randn(quant.num_layers, x.shape[0 if quant.batch_first else 1], 7, dtype=dtype)
    hx = (h0, torch.randn_like(h0)) if name == "LSTM" else h0
    torch.testing.assert_close(quant(x, hx), plain(x, hx), rtol=0, atol=0)
    if quant.dropout and quant.num_layers > 1:  # dropout does drop in training
        quant.train()
        torch.manual_seed(1)
        a = quant(x)[0]
        torch.manual_seed(2)
        assert not torch.equal(a, quant(x)[0])


@pytest.mark.parametrize("make, message", [
    (lambda: QuantLSTM(4, 8, proj_size=3), r"^QuantLSTM: proj_size must be 0: the datapath has no projection, not 3$"),
    (lambda: QuantGRU(4, 8, 1, True, False, 0.0, True),
     r"^QuantGRU: bidirectional must be False: the datapath runs one direction, not both$"),
    (lambda: QuantRNN(4, 8, bidirectional=True),
     r"^QuantRNN: bidirectional must be False: the datapath runs one direction, not both$"),
    (lambda: QuantLSTM(4, 8, config="ternary"), r"^QuantLSTM: config must be a QuantConfig, not str$"),
])
def test_arguments_without_a_datapath_are_refused_by_name(make, message):
    with pytest.raises((QuantError, TypeError), match=message):
        make()


def test_quantization_to_all_zeros_warns_once_per_mode():
    import warnings

    from hwsim.torch import ZERO_WARN_SHARE, QuantizationWarning

    torch.manual_seed(0)
    m = QuantGRU(8, 64, config=QuantConfig(method="ternary"))  # PyTorch's default init: inside W0 / 2
    x = torch.randn(5, 2, 8)
    with pytest.warns(QuantizationWarning, match=r"^QuantGRU\.weight_ih_l0: ternary quantization makes 1536 of its "
                      r"1536 weights zero \(100 %, more than 90 %\), so the layer passes almost no signal and no "
                      r"gradient; initialize with hwsim\.torch\.init_weights_ "):
        m(x)
    assert ZERO_WARN_SHARE == 0.9
    with warnings.catch_warnings():
        warnings.simplefilter("error", QuantizationWarning)
        m(x)  # once per mode
        init_weights_(m)  # Glorot: about half zeros, no warning in the mode checked next
        m.eval()
        m(x)
        lin = init_weights_(QuantLinear(64, 10, config=QuantConfig(method="ternary")))
        lin(torch.randn(3, 64))
    with pytest.warns(QuantizationWarning, match=r"^QuantLinear\.weight: ternary quantization makes 640 of its 640 "):
        QuantLinear(64, 10, config=QuantConfig(method="ternary"))(torch.randn(3, 64))


@pytest.mark.parametrize("method", ["binary", "ternary", "pow2-ternary", "uniform"])
def test_clip_weights_bounds(method):
    m = QuantSeqModel("gru", 4, 8, 3, config=QuantConfig(method=method))
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(0).add_(5.0)
    m.clip_weights()
    sd = m.state_dict()
    for key, q in {**{"rnn." + k: v for k, v in m.rnn.quantizers.items()},
                   **{"head." + k: v for k, v in m.head.quantizers.items()}}.items():
        if q is None:  # biases stay float with biases="fixed"
            assert float(sd[key].max()) == 5.0
        else:
            assert float(sd[key].max()) == q.bound < 5.0


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("method", ["ternary", "exp-stoch", "pow2-ternary", "binary"])
def test_quantized_model_matches_eval_forward(cell, method):
    """The saved model (numpy quantize_model) is what evaluation mode computed, bit for bit in float."""
    torch.manual_seed(1)
    m = init_weights_(QuantSeqModel(cell, 5, 6, 4, config=QuantConfig(method=method)))  # default init: all zeros
    m.eval()
    qm = m.quantized_model(seed=3)
    assert qm.quant.method == method.removesuffix("-stoch")
    assert qm.quant.params["trained_with"] == method
    assert set(qm.tensor_keys()) == set(m.state_dict())
    _quant.decode_model_codes(qm)  # on the grid
    x = torch.randn(4, 6, 5)
    with torch.no_grad():
        want = m(x).double().numpy()
    got = float_forward(qm, x.double().numpy()).y
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)  # float32 torch vs float64 numpy


def test_float_model_and_load_model_round_trip():
    torch.manual_seed(2)
    a = QuantSeqModel("lstm", 3, 4, 2, config=QuantConfig(method="full"))
    fm = a.float_model()
    assert fm.cell == "lstm" and fm.prefix == "rnn." and fm.head_prefix == "head."
    b = QuantSeqModel("lstm", 3, 4, 2, config=QuantConfig(method="full"))
    b.load_model(fm)
    for (k, v), (k2, v2) in zip(a.state_dict().items(), b.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    assert a.quantized_model().quant is None  # "full" saves the float model


def test_per_step_head_shape():
    m = init_weights_(QuantSeqModel("gru", 3, 4, 7, per_step=True))
    assert m(torch.zeros(2, 5, 3)).shape == (2, 5, 7)
    m = init_weights_(QuantSeqModel("gru", 3, 4, 7))
    assert m(torch.zeros(2, 5, 3)).shape == (2, 7)


def test_ternary_exact_and_per_row_levels():
    w = _weights(5, shape=(16, 12), scale=0.5)
    # the paper's exact W0: levels +-W0, threshold W0/2 (the comparison as in TernaryConnect)
    w0 = 0.3
    q = quantize(w, TensorQuantizer("ternary", s=-2, scale="exact", w0=w0))
    want = torch.where(w > w0 / 2, w0, torch.where(w <= -w0 / 2, -w0, 0.0))
    torch.testing.assert_close(q, want.to(q.dtype), rtol=0, atol=0)
    assert TensorQuantizer("ternary", scale="exact", w0=w0).bound == w0
    # one power of two per row: 2**round(log2(2 * mean|w_r|)), threshold half of it
    q = quantize(w, TensorQuantizer("ternary", s=-2, scale="row-pow2"))
    for r in range(w.shape[0]):
        level = 2.0 ** round(np.log2(2 * float(w[r].abs().mean())))
        u = w[r].double() / level
        want = torch.where(u > 0.5, level, torch.where(u <= -0.5, -level, 0.0))
        np.testing.assert_array_equal(q[r].double().numpy(), want.numpy())
    assert TensorQuantizer("ternary", s=-2, scale="row-pow2").bound == 0.5
    # the datapath's power-of-two level is the default and equals hwsim.model._quant
    np.testing.assert_array_equal(quantize(w, TensorQuantizer("ternary", s=-2)).double().numpy(),
                                  _numpy_quant(w, "ternary", w0=0.25))


def test_torch_only_scales_have_no_hwsim_model():
    with pytest.raises(QuantError, match=r"^scale must be one of tensor, row, exact, row-pow2, not 'x'$"):
        QuantConfig(scale="x")
    assert QuantConfig(scale="pow2").scale == "tensor"  # the old name
    m = QuantSeqModel("gru", 4, 6, 3, config=QuantConfig(method="ternary", scale="exact"))
    with pytest.raises(QuantError, match=r"^only the 'tensor' and 'row' ternary scales have an hwsim model, not 'exact'$"):
        m.quantized_model()
    with pytest.raises(QuantError, match=r"^per-row scales apply to binary, binary-stoch, ternary, ternary-stoch, "
                       r"pow2-ternary \(and -stoch\), not exp$"):
        QuantConfig(method="exp", scale="row")
    with pytest.raises(QuantError, match=r"^row_scale must be one of learned, stat, not 'x'$"):
        QuantConfig(scale="row", row_scale="x")


@pytest.mark.parametrize("method", ["binary", "ternary", "pow2-ternary"])
def test_row_offsets_equal_numpy(method):
    """The per-row statistic in PyTorch picks the offsets hwsim.model._quant.row_offsets picks."""
    from hwsim.training._layers import row_offsets

    for seed in range(4):
        g = torch.Generator().manual_seed(seed)
        a = (torch.rand((24, 9), generator=g) * 2 - 1) * torch.rand((24, 1), generator=g) * 4
        b = (torch.rand((24, 5), generator=g) * 2 - 1) * 0.3
        a[3] = 0.0  # an all-zero row keeps its tensor level
        b[3] = 0.0
        want = _quant.row_offsets([(a.double().numpy(), -2), (b.double().numpy(), -1)], method)
        got = row_offsets([(a, -2), (b, -1)], method).numpy()
        np.testing.assert_array_equal(got, want)
        assert got[3] == 0 and got.min() < got.max()


@pytest.mark.parametrize("method", ["binary", "ternary", "pow2-ternary"])
def test_row_scaled_quantizer_equals_numpy(method):
    w = _weights(7, shape=(24, 9), scale=2.0)
    row_s = torch.arange(24, dtype=torch.int64) % 5 - 3
    got = quantize(w, TensorQuantizer(method, s=-2, scale="row"), row_s=row_s).double().numpy()
    want = _quant.quantize_tensor(w.double().numpy(), method, row_scales=row_s.numpy()).values
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("row_scale", ["stat", "learned"])
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("method", ["ternary", "pow2-ternary", "binary-stoch"])
def test_row_scaled_model_equals_eval_forward(cell, method, row_scale):
    """Per-row scales: the saved model holds the scales evaluation mode used, value for value."""
    torch.manual_seed(4)
    m = init_weights_(QuantSeqModel(cell, 5, 6, 4, num_layers=2,
                                    config=QuantConfig(method=method, scale="row", row_scale=row_scale)))
    if row_scale == "learned":
        with torch.no_grad():
            for name, p in m.named_parameters():
                if "row_log2" in name:
                    p.uniform_(-2.4, 2.4)
    m.eval()
    qm = m.quantized_model()
    assert qm.quant.granularity == "row" and qm.quant.params["row_scale"] == row_scale
    codes = _quant.decode_model_codes(qm)
    s_ih, s_hh = codes["rnn.weight_ih_l1"][1], codes["rnn.weight_hh_l1"][1]
    assert len(set((s_ih - s_hh).tolist())) == 1  # a layer's two matrices share their row offsets
    quantized = dict(zip(m.rnn._flat_weights_names, m.rnn.quantized_weights()))
    for k in ("weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1"):
        np.testing.assert_array_equal(quantized[k].detach().double().numpy(), qm.tensor(f"rnn.{k}"))
    x = torch.randn(4, 6, 5)
    with torch.no_grad():
        want = m(x).double().numpy()
    np.testing.assert_allclose(float_forward(qm, x.double().numpy()).y, want, rtol=1e-5, atol=1e-5)
    if row_scale == "learned":
        assert min(int(v.min()) for _, v in codes.values()) < max(int(v.max()) for _, v in codes.values())


def test_learned_row_scales_get_lsq_gradients():
    torch.manual_seed(5)
    m = init_weights_(QuantSeqModel("gru", 3, 4, 2, config=QuantConfig(method="ternary", scale="row",
                                                                          row_scale="learned")))
    x = torch.randn(8, 5, 3)
    m(x).square().sum().backward()
    p = m.rnn.row_log2["l0"]
    assert p.shape == (12,) and p.grad is not None and p.grad.abs().sum() > 0
    assert m.head.row_log2.grad.abs().sum() > 0
    assert m.rnn.weight_ih_l0.grad is not None  # the weights still get theirs (straight-through)
    # a row whose level is far too small wants it larger: every code saturates, dq/dlevel = m
    w = torch.full((1, 4), 1.0, requires_grad=True)
    p = torch.tensor([-6.0], requires_grad=True)
    from hwsim.training._layers import LearnedRowScale

    q = LearnedRowScale.apply(w, p, TensorQuantizer("ternary", s=0, scale="row"), False, None)
    (-q.sum()).backward()
    assert p.grad.item() < 0  # descending the loss raises the level
    # learned scales are not weights: the float model and the state dict of plain PyTorch leave them out
    fm = m.float_model()
    assert not any("row_log2" in k for k in fm.tensor_keys())
    m2 = QuantSeqModel("gru", 3, 4, 2, config=QuantConfig(method="ternary", scale="row", row_scale="learned"))
    m2.load_model(fm)
    assert torch.equal(m2.rnn.row_log2["l0"], torch.zeros(12))
    # a row-scaled model brings its levels: loading the saved model gives back the same quantized model
    with torch.no_grad():
        m.rnn.row_log2["l0"].copy_(torch.arange(12) % 3 - 1.0)
        m.head.row_log2.copy_(torch.tensor([2.0, -1.0]))
    m.eval()
    qm = m.quantized_model()
    m2.load_model(qm)
    assert torch.equal(m2.rnn.row_log2["l0"], torch.arange(12) % 3 - 1.0)
    assert m2.eval().quantized_model().quant == qm.quant


def test_row_clip_bounds():
    torch.manual_seed(6)
    m = init_weights_(QuantSeqModel("gru", 3, 4, 2, config=QuantConfig(method="ternary", scale="row",
                                                                          row_scale="learned")))
    with torch.no_grad():
        m.rnn.row_log2["l0"].fill_(-1.0)
        m.rnn.weight_hh_l0.mul_(100)
    m.clip_weights()
    level = 2.0 ** (m.rnn.quantizers["weight_hh_l0"].s - 1)
    assert m.rnn.weight_hh_l0.abs().max().item() == level


def test_batch_first_false_is_pytorchs_layout():
    torch.manual_seed(0)
    a = init_weights_(QuantGRU(4, 5, 2, batch_first=True, config=QuantConfig(method="ternary")))
    b = QuantGRU(4, 5, 2, config=QuantConfig(method="ternary"))  # batch_first=False, PyTorch's default
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    x = torch.randn(3, 7, 4)
    out_a, h_a = a(x)
    out_b, h_b = b(x.transpose(0, 1))
    torch.testing.assert_close(out_b.transpose(0, 1), out_a, rtol=0, atol=0)
    torch.testing.assert_close(h_b, h_a, rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"^input must be \(T, N, 4\) \(batch_first=False\) or unbatched \(T, 4\), not \(2, 3, 5\)$"):
        b(torch.zeros(2, 3, 5))
