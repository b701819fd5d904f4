"""hwsim/_schedule.py: the cycle formula (the RTL co-simulation checks it against measured counts)."""

from __future__ import annotations

import pytest

from hwsim._config import DatapathConfig


def _plan(make_model, cell, lanes=1, classes=3, layers=1, hidden=5, inputs=3):
    from hwsim._plan import lower
    from hwsim._quant import quantize_model

    m = quantize_model(make_model(cell, inputs, hidden, layers, classes), "ternary")
    return lower(m, DatapathConfig(lanes=lanes, word_bits=32))


@pytest.mark.parametrize("cell,pw", [("rnn_tanh", 2), ("rnn_relu", 2), ("gru", 4), ("lstm", 5)])
def test_step_cycles_formula(make_model, cell, pw):
    from hwsim._schedule import cycles_per_step

    plan = _plan(make_model, cell)
    c = cycles_per_step(plan)
    beats = sum(a.rows * a.cols for a in plan.layers[0].accums)  # lanes = 1: one column a cycle
    assert c["step"] == beats + 2 + 1 + 5 * pw + 1
    assert c["head"] == 3 * 5 + 2 + 1 + 1
    assert c["step_period"] == 3 + c["step"] + 5


def test_lanes_divide_the_beats(make_model):
    from hwsim._schedule import layer_beats

    p1, p4 = _plan(make_model, "gru", lanes=1), _plan(make_model, "gru", lanes=4)
    # GRU accumulations: r, z read 3 + 5 columns, n_x 3, n_h 5 -> ceil(cols / 4) per row
    assert layer_beats(p1, 0) == 5 * (8 + 8 + 3 + 5)
    assert layer_beats(p4, 0) == 5 * (2 + 2 + 1 + 2)


def test_no_head_and_layers(make_model):
    from hwsim._schedule import cycles_per_step, sequence_cycles

    plan = _plan(make_model, "lstm", classes=None, layers=2)
    c = cycles_per_step(plan)
    assert c["head"] == 0 and c["head_beats"] == 0
    assert c["step"] == sum(c["layers"]) + 1 and len(c["layers"]) == 2
    assert sequence_cycles(plan, 4) == 4 * c["step_period"]
