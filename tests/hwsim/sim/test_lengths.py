"""Variable-length sequences (hwsim.sim._lengths): a sequence stops at its last step.

Each sequence of a padded batch must give exactly what the plain-integer twin gives on that
sequence alone, cut to its length; later steps repeat the last one, and the padding is never
quantized, computed or counted.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import naive
from hwsim.datapath._config import DatapathConfig
from hwsim.datapath._plan import lower
from hwsim.sim._reference import float_forward
from hwsim.sim._sim import run_fixed, simulate

LENGTHS = np.array([5, 1, 3, 5, 2, 3])  # the full length, size 1, repeats, in no order


@pytest.mark.parametrize("cell", ["rnn_relu", "gru", "lstm"])
@pytest.mark.parametrize("head_all_steps", [False, True], ids=["last_step", "every_step"])
def test_each_sequence_equals_the_twin_on_its_own_steps(cell, head_all_steps):
    rng = np.random.default_rng(7)
    plan = lower(naive.random_quant_model(rng, cell, 3, 5, 2, 4), DatapathConfig())
    cfg = plan.config
    x_int = rng.integers(cfg.x.min_int, cfg.x.max_int + 1, size=(len(LENGTHS), 5, 3))  # saturating values too
    sim = simulate(plan, x_int, lengths=LENGTHS, record_gates=True, head_all_steps=head_all_steps)
    total = dict.fromkeys(sim.saturations, 0)
    for s, k in enumerate(LENGTHS):
        want = naive.simulate(plan, x_int[s : s + 1, :k], head_all_steps=head_all_steps)
        for layer in range(2):
            got_h = sim.h_layers_int[layer][s]
            assert_array_equal(got_h[:k], want["h_layers"][layer][0])
            assert_array_equal(got_h[k:], np.repeat(got_h[k - 1 : k], 5 - k, axis=0))  # frozen
            if cell == "lstm":
                assert_array_equal(sim.c_layers_int[layer][s, :k], want["c_layers"][layer][0])
            for g, v in sim.gates_int[layer].items():
                assert_array_equal(v[s, :k], want["gates"][layer][g][0])
        if head_all_steps:
            assert_array_equal(sim.y_int[s, :k], want["y"][0])
            assert_array_equal(sim.y_int[s, k:], np.repeat(sim.y_int[s, k - 1 : k], 5 - k, axis=0))
        else:
            assert_array_equal(sim.y_int[s], want["y"][0])
        for node, v in want["saturations"].items():
            total[node] += v
    assert sim.saturations == total
    assert list(sim.saturations) == list(simulate(plan, x_int).saturations)  # datapath order kept


def test_full_lengths_change_nothing():
    rng = np.random.default_rng(8)
    plan = lower(naive.random_quant_model(rng, "gru", 3, 5, 1, 2), DatapathConfig())
    x_int = rng.integers(-4096, 4096, size=(3, 4, 3))
    a, b = simulate(plan, x_int), simulate(plan, x_int, lengths=np.full(3, 4))
    assert_array_equal(a.h_int, b.h_int)
    assert_array_equal(a.y_int, b.y_int)
    assert a.saturations == b.saturations


@pytest.mark.parametrize("cell", ["rnn_tanh", "gru", "lstm"])
def test_float_reference_uses_the_same_definition(cell):
    rng = np.random.default_rng(9)
    model = naive.random_quant_model(rng, cell, 3, 5, 2, 4)
    x = rng.normal(size=(len(LENGTHS), 5, 3))
    r = float_forward(model, x, lengths=LENGTHS)
    for s, k in enumerate(LENGTHS):
        one = float_forward(model, x[s : s + 1, :k])
        assert_allclose(r.y[s], one.y[0], rtol=1e-12, atol=1e-12)
        assert_allclose(r.h[s, :k], one.h[0], rtol=1e-12, atol=1e-12)
        assert_array_equal(r.h[s, k:], np.repeat(r.h[s, k - 1 : k], 5 - k, axis=0))


def test_padding_is_never_quantized_or_counted():
    rng = np.random.default_rng(10)
    model = naive.random_quant_model(rng, "gru", 3, 5, 1, 2)
    x = rng.normal(size=(2, 4, 3))
    x[0, 2:] = np.nan  # padding: anything
    x[1, 3] = 1e6  # padding beyond the x range: not a saturation
    x[1, 0, 0] = 100.0  # a real step beyond the x range: one
    res = run_fixed(model, x, DatapathConfig(), lengths=np.array([2, 3]))
    assert res.saturations["x"] == 1
    alone = run_fixed(model, x[:1, :2], DatapathConfig())
    assert_array_equal(res.y_int[0], alone.y_int[0])


@pytest.mark.parametrize("lengths, message", [
    (np.array([1, 2]), r"^lengths must hold one integer per sequence, shape \(3,\), not int64 \(2,\)$"),
    (np.array([1.0, 2.0, 3.0]), r"^lengths must hold one integer per sequence, shape \(3,\), not float64 \(3,\)$"),
    (np.array([1, 0, 3]), r"^lengths must lie in \[1, 4\] \(the steps of x\), not 0 \(sequence 1\)$"),
    (np.array([1, 2, 5]), r"^lengths must lie in \[1, 4\] \(the steps of x\), not 5 \(sequence 2\)$"),
], ids=["shape", "dtype", "zero", "beyond_T"])
def test_bad_lengths(lengths, message):
    rng = np.random.default_rng(11)
    model = naive.random_quant_model(rng, "gru", 3, 5, 1, 2)
    plan = lower(model, DatapathConfig())
    with pytest.raises(ValueError, match=message):
        simulate(plan, np.zeros((3, 4, 3), np.int64), lengths=lengths)
    with pytest.raises(ValueError, match=message):
        float_forward(model, np.zeros((3, 4, 3)), lengths=lengths)
