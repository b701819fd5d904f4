"""hwsim.torch's recurrent layers on ``nn.utils.rnn`` packed sequences: each sequence stops at its
own last step, as in ``nn.GRU`` and in hwsim's variable-length definition (docs/datapath.md)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

from hwsim.model._modelfile import model_from_tensors  # noqa: E402
from hwsim.model._quant import quantize_model  # noqa: E402
from hwsim.sim._reference import float_forward  # noqa: E402
from hwsim.torch import QuantConfig, QuantGRU, QuantLSTM, QuantRNN, init_weights_  # noqa: E402

pytestmark = pytest.mark.torch
LENGTHS = [5, 1, 3, 2]


@pytest.mark.parametrize("cls, cell", [(QuantRNN, "rnn_tanh"), (QuantGRU, "gru"), (QuantLSTM, "lstm")],
                         ids=["rnn", "gru", "lstm"])
def test_packed_sequences_stop_at_their_last_step(cls, cell):
    torch.manual_seed(0)
    m = init_weights_(cls(3, 5, num_layers=2, batch_first=True, config=QuantConfig(method="ternary"))).double().eval()
    x = torch.randn(len(LENGTHS), max(LENGTHS), 3, dtype=torch.float64)
    h0 = torch.randn(2, len(LENGTHS), 5, dtype=torch.float64)
    with torch.no_grad():
        out, state = m(pack_padded_sequence(x, torch.tensor(LENGTHS), batch_first=True, enforce_sorted=False))
        h_n = state[0] if cell == "lstm" else state
        padded, lens = pad_packed_sequence(out, batch_first=True)
        assert lens.tolist() == LENGTHS
        for n, k in enumerate(LENGTHS):  # each sequence alone, cut to its length
            o1, s1 = m(x[n : n + 1, :k])
            torch.testing.assert_close(padded[n, :k], o1[0], rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(h_n[:, n], (s1[0] if cell == "lstm" else s1)[:, 0], rtol=1e-12, atol=1e-12)
        # an initial state follows its sequence through the packing's reordering
        hx = (h0, h0) if cell == "lstm" else h0
        _, state = m(pack_padded_sequence(x, torch.tensor(LENGTHS), batch_first=True, enforce_sorted=False), hx)
        _, s1 = m(x[1:2, :1], (h0[:, 1:2], h0[:, 1:2]) if cell == "lstm" else h0[:, 1:2])
        torch.testing.assert_close((state[0] if cell == "lstm" else state)[:, 1], (s1[0] if cell == "lstm" else s1)[:, 0])
    # hwsim's float reference with lengths reads the same last states
    tensors = {k: v.numpy() for k, v in m.state_dict().items()}
    qm = quantize_model(model_from_tensors(tensors, cell=cell), "ternary")
    r = float_forward(qm, x.numpy(), lengths=np.array(LENGTHS))
    np.testing.assert_allclose(r.h[:, -1], h_n[-1].numpy(), rtol=1e-12, atol=1e-12)
