"""hwsim/_schedule.py: the cycle formula (the RTL co-simulation checks it against measured counts)."""

from __future__ import annotations

import pytest

from hwsim.datapath._config import DatapathConfig


def _plan(make_model, cell, lanes=1, classes=3, layers=1, hidden=5, inputs=3, rows=1, pointwise_units=0):
    from hwsim.datapath._plan import lower
    from hwsim.model._quant import quantize_model

    m = quantize_model(make_model(cell, inputs, hidden, layers, classes), "ternary")
    return lower(m, DatapathConfig(lanes=lanes, word_bits=32, rows=rows, pointwise_units=pointwise_units))


@pytest.mark.parametrize("cell,lat", [("rnn_tanh", 3), ("rnn_relu", 3), ("gru", 10), ("lstm", 10)])
def test_step_cycles_formula(make_model, cell, lat):
    from hwsim.datapath._schedule import cycles_per_step

    plan = _plan(make_model, cell)
    c = cycles_per_step(plan)
    beats = sum(a.rows * a.cols for a in plan.layers[0].accums)  # 1 x 1: one weight a cycle
    # matvec: 3 + one tree register; pointwise: 5 rows issued, 3 + latency to the done
    assert c["step"] == beats + 3 + 1 + 5 + 3 + lat + 1
    assert c["head"] == 3 * 5 + 3 + 1 + 2
    assert c["step_period"] == 3 + c["step"] + 5


def test_rows_and_lanes_fold_the_beats(make_model):
    from hwsim.datapath._schedule import cycles_per_step, layer_beats

    p1, p4 = _plan(make_model, "gru", lanes=1), _plan(make_model, "gru", lanes=4)
    # GRU accumulations: r, z read 3 + 5 columns, n_x 3, n_h 5 -> ceil(cols / 4) per row
    assert layer_beats(p1, 0) == 5 * (8 + 8 + 3 + 5)
    assert layer_beats(p4, 0) == 5 * (2 + 2 + 1 + 2)
    p = _plan(make_model, "gru", lanes=3, rows=2, pointwise_units=1)  # ceil(5/2) = 3 row groups
    assert layer_beats(p, 0) == 3 * (3 + 3 + 1 + 2)
    c = cycles_per_step(p)
    assert c["matvec_latency"] == 3 + 2 and c["pointwise_cycles"] == 5 + 3 + 10  # tree of 3 lanes: 2 levels
    assert c["head_rows"] == 2 and c["head"] == 2 * 2 + 3 + 2 + 2
    full = _plan(make_model, "gru", lanes=8, rows=5)  # fully parallel: one beat per accumulation
    assert layer_beats(full, 0) == 4 and cycles_per_step(full)["pointwise_cycles"] == 1 + 3 + 10


def test_no_head_and_layers(make_model):
    from hwsim.datapath._schedule import cycles_per_step, sequence_cycles

    plan = _plan(make_model, "lstm", classes=None, layers=2)
    c = cycles_per_step(plan)
    assert c["head"] == 0 and c["head_beats"] == 0
    assert c["step"] == sum(c["layers"]) + 1 and len(c["layers"]) == 2
    assert sequence_cycles(plan, 4) == 4 * c["step_period"]
