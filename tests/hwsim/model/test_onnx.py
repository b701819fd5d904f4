"""hwsim.model._onnx: ONNX graphs exported by torch.onnx.export, and built by hand with onnx.helper
for what PyTorch never writes (ONNX's own gate orders, layout = 1, older opsets, the refusals).

A hand-built graph runs in onnx's reference evaluator (plain NumPy, no onnxruntime), so the gate
reordering is checked against ONNX's own definition of the cells, not only against PyTorch's export.
"""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from hwsim._errors import ModelFileError
from hwsim.cli import main
from hwsim.model._modelfile import load_model
from hwsim.sim._reference import float_forward

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _err(path, **kw) -> str:
    with pytest.raises(ModelFileError) as e:
        load_model(path, **kw)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


# --------------------------------------------------------------------------------------------
# hand-built graphs


def _hand(tmp_path, op="GRU", *, layers=2, I=4, H=5, C=3, layout=0, opset=17, attrs=None, head="gemm",
          bias=True, node_attrs=None, extra_nodes=(), edit=None, seed=0):
    """A stack of ``layers`` ONNX ``op`` nodes (ONNX gate order, random weights) and a head on the
    last step, saved to ``tmp_path / 'm.onnx'``. ``edit(nodes, inits)`` may change the lists."""
    rng = np.random.default_rng(seed)
    G = GATES[op]
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr, dtype=np.float32 if arr.dtype.kind == "f" else arr.dtype), name))
        return name

    def ints(name, values):
        return const(name, np.array(values, dtype=np.int64))

    cur = "x"
    seq_axis, dir_axis = (0, 1) if layout == 0 else (1, 2)
    for k in range(layers):
        n_in = I if k == 0 else H
        inputs = [cur, const(f"W{k}", rng.normal(0, 0.5, (1, G * H, n_in))), const(f"R{k}", rng.normal(0, 0.5, (1, G * H, H)))]
        if bias:
            inputs.append(const(f"B{k}", rng.normal(0, 0.5, (1, 2 * G * H))))
        a = {"hidden_size": H, **({"layout": 1} if layout else {}), **(attrs or {})}
        a.update((node_attrs or {}).get(k, {}))
        nodes.append(helper.make_node(op, inputs, [f"y{k}", f"h{k}"], name=f"n{k}", **a))
        if opset >= 13:
            nodes.append(helper.make_node("Squeeze", [f"y{k}", ints(f"ax{k}", [dir_axis])], [f"s{k}"], name=f"sq{k}"))
        else:
            nodes.append(helper.make_node("Squeeze", [f"y{k}"], [f"s{k}"], name=f"sq{k}", axes=[dir_axis]))
        cur = f"s{k}"
    nodes.append(helper.make_node("Gather", [cur, ints("last", np.array(-1))], ["hT"], name="pick", axis=seq_axis))
    if head == "gemm":
        nodes.append(helper.make_node("Gemm", ["hT", const("fc.weight", rng.normal(0, 0.5, (C, H))),
                                              const("fc.bias", rng.normal(0, 0.5, C))], ["out"], name="head", transB=1))
    elif head == "matmul":
        nodes.append(helper.make_node("MatMul", ["hT", const("w_t", rng.normal(0, 0.5, (H, C)))], ["mm"], name="head"))
        nodes.append(helper.make_node("Add", [const("b", rng.normal(0, 0.5, C)), "mm"], ["out"], name="head_bias"))
    else:
        nodes.append(helper.make_node("Identity", ["hT"], ["out"], name="id"))
    nodes.extend(extra_nodes)
    if edit is not None:
        edit(nodes, inits)
    out_name = nodes[-1].output[0]
    x_shape = ["T", "N", I] if layout == 0 else ["N", "T", I]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    return path, model


@pytest.mark.parametrize("op, layout, opset, head, attrs", [
    ("GRU", 0, 17, "gemm", {"linear_before_reset": 1}),
    ("GRU", 1, 17, "matmul", {"linear_before_reset": 1, "activations": ["Sigmoid", "Tanh"]}),
    ("LSTM", 0, 11, "gemm", {}),
    ("LSTM", 1, 17, "none", {"activations": ["Sigmoid", "Tanh", "Tanh"]}),
    ("RNN", 0, 17, "gemm", {}),
    ("RNN", 1, 11, "matmul", {"activations": ["Tanh"]}),
], ids=["gru", "gru_layout1_matmul", "lstm_opset11", "lstm_layout1_nohead", "rnn_tanh", "rnn_layout1_opset11"])
def test_hand_built_graphs_match_onnx_reference(tmp_path, op, layout, opset, head, attrs):
    path, model = _hand(tmp_path, op, layout=layout, opset=opset, head=head, attrs=attrs)
    m = load_model(path)
    assert m.cell == {"GRU": "gru", "LSTM": "lstm", "RNN": "rnn_tanh"}[op]
    assert (m.num_layers, m.input_size, m.hidden_size, m.prefix) == (2, 4, 5, "rnn.")
    x = np.random.default_rng(1).normal(0, 1, (6, 7, 4)).astype(np.float32)  # (N, T, I)
    (want,) = ReferenceEvaluator(model).run(None, {"x": x if layout else x.transpose(1, 0, 2).copy()})
    got = float_forward(m, x.astype(np.float64))
    if head == "none":
        assert m.head is None
        np.testing.assert_allclose(got.h[:, -1], want, rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_allclose(got.y, want, rtol=1e-5, atol=1e-5)


def test_gate_blocks_are_reordered(tmp_path):
    """ONNX GRU z,r,h -> PyTorch r,z,n; LSTM i,o,f,c -> i,f,g,o; B splits into b_ih and b_hh."""
    H = 2

    def marked(nodes, inits):
        for t in inits:
            if t.name in ("W0", "R0", "B0"):
                shape = numpy_helper.to_array(t).shape
                if t.name == "B0":  # W's biases, then R's (+10)
                    gate = np.repeat(np.arange(shape[1] // (2 * H)), H)
                    new = np.concatenate([gate, gate + 10])
                else:  # every row holds its gate block's number
                    new = np.broadcast_to(np.repeat(np.arange(shape[1] // H), H)[:, None], shape[1:])
                t.CopyFrom(numpy_helper.from_array(np.asarray(new, np.float32).reshape(shape), t.name))

    for op, order in (("GRU", [1, 0, 2]), ("LSTM", [0, 2, 3, 1])):
        path, _ = _hand(tmp_path, op, layers=1, H=H, attrs={"linear_before_reset": 1} if op == "GRU" else {}, edit=marked)
        m = load_model(path)
        assert m.layers[0].w_ih[::H, 0].tolist() == order
        assert m.layers[0].w_hh[::H, 0].tolist() == order
        assert m.layers[0].b_ih[::H].tolist() == order
        assert m.layers[0].b_hh[::H].tolist() == [g + 10 for g in order]


def test_relu_rnn_is_named_by_the_graph(tmp_path):
    """Shapes cannot tell tanh from relu; the graph's activations can (onnx's evaluator has no Relu RNN:
    torch's relu export checks the numbers below)."""
    path, _ = _hand(tmp_path, "RNN", attrs={"activations": ["Relu"]})
    assert load_model(path).cell == load_model(path, cell="rnn_relu").cell == "rnn_relu"


def test_no_bias_and_head_names(tmp_path):
    path, _ = _hand(tmp_path, "LSTM", bias=False)
    m = load_model(path)
    assert m.layers[1].b_ih is None and m.head_prefix == "head."  # node 'head' carries no module path


# --------------------------------------------------------------------------------------------
# refusals: one line naming the node


def _gemm_softmax():
    return [helper.make_node("Softmax", ["out"], ["p"], name="/fc/Softmax")]


def _nonzero_h0(nodes, inits):
    inits.append(numpy_helper.from_array(np.ones((1, 1, 5), np.float32), "h0"))
    nodes[0].input.extend(["", "h0"])  # after X, W, R, B: sequence_lens (none), initial_h


def _seq_lens(nodes, inits):
    inits.append(numpy_helper.from_array(np.array([7], np.int32), "lens"))
    nodes[0].input.append("lens")


def _head_on_layer0(nodes, inits):
    nodes[-2].input[0] = "s0"
    nodes[-2].attribute[0].i = 0


def _weight_first(nodes, inits):
    nodes[-1].input[0], nodes[-1].input[1] = nodes[-1].input[1], nodes[-1].input[0]


def _custom(nodes, inits):
    nodes.insert(1, helper.make_node("Mystery", ["y0"], ["y0b"], name="odd", domain="com.example"))
    nodes[2].input[0] = "y0b"


@pytest.mark.parametrize("kw, pattern", [
    ({"attrs": {"linear_before_reset": 1, "direction": "bidirectional"}},
     r"node 'n0' \(GRU\) runs bidirectional; hwsim simulates forward RNNs only"),
    ({"attrs": {"linear_before_reset": 1, "direction": "reverse"}}, r"node 'n0' \(GRU\) runs reverse; "),
    ({}, r"node 'n0' \(GRU\) has linear_before_reset = 0 \(the ONNX default: r applied to h before the matrix "
         r"product\); the datapath's GRU is PyTorch's, linear_before_reset = 1"),
    ({"attrs": {"linear_before_reset": 1, "activations": ["HardSigmoid", "Tanh"]}},
     r"node 'n0' \(GRU\) has activations \['hardsigmoid', 'tanh'\]; the datapath's GRU uses \['sigmoid', 'tanh'\]"),
    ({"op": "RNN", "attrs": {"activations": ["Sigmoid"]}},
     r"node 'n0' \(RNN\) has activations \['sigmoid'\]; hwsim's RNN cells use Tanh or Relu"),
    ({"op": "LSTM", "attrs": {"clip": 3.0}}, r"node 'n0' \(LSTM\) clips the gate inputs \(attribute clip\); the datapath does not"),
    ({"op": "LSTM", "attrs": {"input_forget": 1}}, r"node 'n0' \(LSTM\) couples the input and forget gates"),
    ({"op": "RNN", "attrs": {"activations": ["LeakyRelu"], "activation_alpha": [0.1]}},
     r"node 'n0' \(RNN\) has activation_alpha; the datapath's activations take no parameters"),
    ({"op": "RNN", "edit": _nonzero_h0}, r"node 'n0' \(RNN\) has a non-zero initial_h; hwsim's states start at zero$"),
    ({"op": "RNN", "edit": _seq_lens}, r"node 'n0' \(RNN\) has sequence_lens; hwsim runs every sequence to its last step"),
    ({"op": "RNN", "extra_nodes": _gemm_softmax()}, r"node '/fc/Softmax' \(Softmax\) is not supported on the recurrent "
                                                    r"layers' outputs: hwsim reads RNN, GRU and LSTM nodes"),
    ({"op": "RNN", "edit": _weight_first}, r"node 'head' \(Gemm\) reads layer 1 last state \('B', 'F'\) as a later input"),
    ({"op": "RNN", "edit": _custom}, r"node 'odd' \(Mystery\) is a custom op of domain 'com\.example'"),
    ({"op": "RNN", "edit": _head_on_layer0}, r"graph output 'out' must be the last recurrent layer's hidden state or a "
                                             r"linear head on it, not a head on layer 0 last state \('B', 'F'\)$"),
    ({"op": "RNN", "node_attrs": {1: {"activations": ["Relu"]}}}, r"node 'n1' \(RNN\) is a rnn_relu layer after rnn_tanh layers"),
], ids=["bidirectional", "reverse", "linear_before_reset_0", "gru_activation", "rnn_activation", "clip",
        "input_forget", "activation_alpha", "initial_h", "sequence_lens", "softmax", "weight_first", "custom_op", "head_on_layer0",
        "mixed_cells"])
def test_unsupported_graphs_get_one_line_naming_the_node(tmp_path, kw, pattern):
    path, _ = _hand(tmp_path, **kw)
    assert re.match(r"^.*m\.onnx: " + pattern, _err(path))


def test_more_refusals(tmp_path):
    def second_input(nodes, inits):
        nodes[0].input.extend(["", "", "state"])

    path, model = _hand(tmp_path, "RNN", edit=second_input)
    model.graph.input.append(helper.make_tensor_value_info("state", TensorProto.FLOAT, [1, "N", 5]))
    onnx.save(model, path)
    assert re.match(r"^.*m\.onnx: an ONNX model for hwsim takes one input \(the sequences\), not 2: 'x', 'state'; "
                    r"initial states start at zero$", _err(path))

    path, _ = _hand(tmp_path, "RNN", node_attrs={1: {"hidden_size": 6}})
    assert re.match(r"^.*m\.onnx: node 'n1' \(RNN\) input W must have shape \(1, 1\*hidden_size = 6, input_size\), "
                    r"not \(1, 5, 5\)$", _err(path))

    path, _ = _hand(tmp_path, "RNN")
    assert re.match(r"^.*m\.onnx: cell 'rnn_relu' contradicts the graph, whose recurrent nodes are rnn_tanh$",
                    _err(path, cell="rnn_relu"))

    (tmp_path / "junk.onnx").write_bytes(b"\xff\xfe not a protobuf \x00\x01")
    assert re.match(r"^.*junk\.onnx: not a readable ONNX model \(truncated, corrupt or missing its external data: ",
                    _err(tmp_path / "junk.onnx"))
    (tmp_path / "empty.onnx").write_bytes(b"")
    assert re.match(r"^.*empty\.onnx: an ONNX model for hwsim takes one input \(the sequences\), not 0: none",
                    _err(tmp_path / "empty.onnx"))


def test_unreadable_tensors(tmp_path):
    path, model = _hand(tmp_path, "RNN")
    model.graph.initializer[0].raw_data = model.graph.initializer[0].raw_data[:10]
    onnx.save(model, path)
    assert re.match(r"^.*m\.onnx: initializer 'W0' cannot be read \(", _err(path))

    path, model = _hand(tmp_path, "RNN")
    onnx.save(model, path, save_as_external_data=True, location="m.data", size_threshold=0)
    (tmp_path / "m.data").unlink()
    assert re.match(r"^.*m\.onnx: not a readable ONNX model \(truncated, corrupt or missing its external data: .*m\.data",
                    _err(path))


def test_without_onnx_says_what_to_install(tmp_path, monkeypatch):
    path, _ = _hand(tmp_path, "RNN")
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    assert re.match(r"^.*m\.onnx: an ONNX model needs the onnx package to read \(pip install 'hwsim\[onnx\]'\)$", _err(path))


def test_cli_refusal_is_one_line_exit_2(tmp_path):
    path, _ = _hand(tmp_path)
    r = CliRunner().invoke(main, ["quantize", str(path), "-o", str(tmp_path / "q.safetensors"), "--method", "ternary"])
    assert r.exit_code == 2, r.output
    assert r.stdout == ""
    assert len(r.stderr.splitlines()) == 1
    assert re.search(r"m\.onnx: node 'n0' \(GRU\) has linear_before_reset = 0 ", r.stderr)
    assert not (tmp_path / "q.safetensors").exists()


# --------------------------------------------------------------------------------------------
# torch.onnx.export (the legacy TorchScript exporter: dynamo=False)


def _torch_net(kind, *, batch_first=True, read="last", bias=True, layers=2, I=5, H=8, C=3):
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            if kind.startswith("RNN"):
                self.rnn = nn.RNN(I, H, num_layers=layers, batch_first=batch_first, bias=bias,
                                  nonlinearity="relu" if kind == "RNN_relu" else "tanh")
            else:
                self.rnn = getattr(nn, kind)(I, H, num_layers=layers, batch_first=batch_first, bias=bias)
            self.fc = nn.Linear(H, C)

        def forward(self, x):
            y, state = self.rnn(x)
            if read == "h_n":  # the last layer's final state through h_n (LSTM: (h_n, c_n))
                return self.fc((state[0] if isinstance(state, tuple) else state)[-1])
            if read == "every_step":
                return self.fc(y)
            last = y[:, -1] if batch_first else y[-1]
            return last if read == "no_head" else self.fc(last)

    torch.manual_seed(0)
    return Net().eval()


def _export(net, path, x, dynamic=True):
    import warnings

    import torch

    axes = {"x": {0: "n", 1: "t"} if net.rnn.batch_first else {0: "t", 1: "n"}} if dynamic else None
    with warnings.catch_warnings():  # the legacy exporter's deprecation and tracer notes
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), str(path), input_names=["x"], output_names=["out"], dynamo=False, dynamic_axes=axes)


@pytest.mark.torch
@pytest.mark.parametrize("kind, batch_first, read, bias, dynamic", [
    ("GRU", True, "last", True, True),
    ("GRU", False, "h_n", True, False),
    ("LSTM", True, "h_n", True, True),
    ("LSTM", False, "last", False, False),
    ("RNN", True, "every_step", True, True),
    ("RNN_relu", True, "no_head", True, True),
], ids=["gru", "gru_seqfirst_hn_static", "lstm_hn", "lstm_seqfirst_nobias_static", "rnn_every_step", "rnn_relu_nohead"])
def test_torch_export_gives_the_state_dict(tmp_path, kind, batch_first, read, bias, dynamic):
    import torch

    net = _torch_net(kind, batch_first=batch_first, read=read, bias=bias)
    x = torch.randn(4, 6, 5)
    _export(net, tmp_path / "m.onnx", x if batch_first else x.transpose(0, 1), dynamic)
    m = load_model(tmp_path / "m.onnx")
    assert m.cell == {"RNN_relu": "rnn_relu", "RNN": "rnn_tanh"}.get(kind, kind.lower())
    sd = {k: v.numpy() for k, v in net.state_dict().items()}
    if read == "no_head":
        sd = {k: v for k, v in sd.items() if not k.startswith("fc.")}
    got = {k: m.tensor(k) for k in m.tensor_keys()}
    assert sorted(got) == sorted(sd)  # the module's own names: rnn.*, fc.*
    for k in sd:
        np.testing.assert_array_equal(got[k], sd[k], err_msg=k)
    with torch.no_grad():
        want = net(x if batch_first else x.transpose(0, 1))
    r = float_forward(m, x.double().numpy())
    if read == "every_step":
        want = want[:, -1]
    got_out = r.h[:, -1] if read == "no_head" else r.y
    np.testing.assert_allclose(got_out, want.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.torch
@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_check_of_an_exported_model_equals_its_state_dict(tmp_path, kind):
    """quantize + check from the .onnx and from torch.save's state_dict: the same metrics, exactly."""
    import torch

    net = _torch_net(kind, I=5, H=16, C=3)
    with torch.no_grad():
        for p in net.parameters():  # Glorot-sized weights, so that ternary codes are not all zero
            p.uniform_(-0.6, 0.6)
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (48, 8, 5)).astype(np.float32)
    with torch.no_grad():
        y = net(torch.from_numpy(x)).argmax(1).numpy()
    np.savez(tmp_path / "data.npz", x_test=x, y_test=y)
    _export(net, tmp_path / "m.onnx", torch.from_numpy(x[:2]))
    torch.save(net.state_dict(), tmp_path / "m.pt")
    metrics = []
    for src in ("m.onnx", "m.pt"):
        q = tmp_path / f"q_{src.replace('.', '_')}.safetensors"
        r = CliRunner().invoke(main, ["quantize", str(tmp_path / src), "-o", str(q), "--method", "ternary"])
        assert r.exit_code == 0, r.output
        r = CliRunner().invoke(main, ["check", str(q), "--data", str(tmp_path / "data.npz"), "--split", "test",
                                      "--float-model", str(tmp_path / src), "--json"])
        assert r.exit_code == 0, r.output
        report = json.loads(r.stdout)
        metrics.append({k: report[k] for k in ("metric", "float_metric", "quant_metric", "fixed_metric")})
    assert metrics[0] == metrics[1]
    assert metrics[0]["float_metric"] == 1.0  # the labels are the float model's own predictions
