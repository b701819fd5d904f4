"""Shared test helpers: small random models in PyTorch's layout, and their torch twins.

Import as ``from helpers import make_model`` (tests/conftest.py puts tests/ on sys.path), or use
the ``make_model`` fixture.
"""

from __future__ import annotations

import numpy as np

from hwsim.model._model import CELL_GATES, Head, Layer, RNNModel


def make_model(
    cell: str = "gru",
    input_size: int = 4,
    hidden: int = 8,
    layers: int = 1,
    classes: int | None = 3,
    seed: int = 0,
    *,
    bias: bool = True,
    head_bias: bool = True,
    prefix: str = "rnn.",
    head_prefix: str = "fc.",
) -> RNNModel:
    """A random float64 RNNModel drawn like torch's default init: U(-1/sqrt(H), 1/sqrt(H)).

    ``classes=None`` gives a model without a head.
    """
    rng = np.random.default_rng(seed)
    bound = 1.0 / np.sqrt(hidden)
    gh = CELL_GATES[cell] * hidden

    def u(*shape: int) -> np.ndarray:
        return rng.uniform(-bound, bound, size=shape)

    stack = []
    for k in range(layers):
        fan_in = input_size if k == 0 else hidden
        stack.append(
            Layer(
                w_ih=u(gh, fan_in),
                w_hh=u(gh, hidden),
                b_ih=u(gh) if bias else None,
                b_hh=u(gh) if bias else None,
            )
        )
    head = None
    if classes is not None:
        head = Head(weight=u(classes, hidden), bias=u(classes) if head_bias else None)
    return RNNModel(cell=cell, layers=tuple(stack), head=head, prefix=prefix, head_prefix=head_prefix)


def to_torch(model: RNNModel, dtype=None):
    """``(rnn, linear_or_None)`` torch modules (batch_first) holding ``model``'s weights."""
    import torch

    dtype = dtype or torch.float64
    kw = dict(
        input_size=model.input_size,
        hidden_size=model.hidden_size,
        num_layers=model.num_layers,
        bias=model.layers[0].b_ih is not None,
        batch_first=True,
        dtype=dtype,
    )
    if model.cell.startswith("rnn_"):
        rnn = torch.nn.RNN(nonlinearity=model.cell[4:], **kw)
    else:
        rnn = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[model.cell](**kw)
    names = {"w_ih": "weight_ih", "w_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}
    state = {}
    for k, layer in enumerate(model.layers):
        for f, t in names.items():
            if getattr(layer, f) is not None:
                state[f"{t}_l{k}"] = torch.tensor(getattr(layer, f))
    rnn.load_state_dict(state)  # params are already ``dtype``: no float32 detour
    lin = None
    if model.head is not None:
        lin = torch.nn.Linear(model.hidden_size, model.num_classes, bias=model.head.bias is not None, dtype=dtype)
        hs = {"weight": torch.tensor(model.head.weight)}
        if model.head.bias is not None:
            hs["bias"] = torch.tensor(model.head.bias)
        lin.load_state_dict(hs)
    return rnn, lin
