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
    # matvec: 4 + one tree register; pointwise: 5 rows issued, 3 + latency to the done
    assert c["step"] == beats + 4 + 1 + 5 + 3 + lat + 1
    assert c["head"] == 3 * 5 + 4 + 1 + 2
    assert c["step_period"] == c["step"]  # I/O overlapped: 3 input and 5 output beats hide behind the compute


def test_rows_and_lanes_fold_the_beats(make_model):
    from hwsim.datapath._schedule import cycles_per_step, layer_beats

    p1, p4 = _plan(make_model, "gru", lanes=1), _plan(make_model, "gru", lanes=4)
    # GRU accumulations: r, z read 3 + 5 columns, n_x 3, n_h 5 -> ceil(cols / 4) per row
    assert layer_beats(p1, 0) == 5 * (8 + 8 + 3 + 5)
    assert layer_beats(p4, 0) == 5 * (2 + 2 + 1 + 2)
    p = _plan(make_model, "gru", lanes=3, rows=2, pointwise_units=1)  # ceil(5/2) = 3 row groups
    assert layer_beats(p, 0) == 3 * (3 + 3 + 1 + 2)
    c = cycles_per_step(p)
    assert c["matvec_latency"] == 4 + 2 and c["pointwise_cycles"] == 5 + 3 + 10  # tree of 3 lanes: 2 levels
    # the head's own array: a step is ~60 cycles, so one row and one lane (15 beats) already fit
    assert (c["head_rows"], c["head_lanes"]) == (1, 1) and c["head"] == 3 * 5 + 4 + 1 + 2
    full = _plan(make_model, "gru", lanes=8, rows=5)  # fully parallel: one beat per accumulation
    assert layer_beats(full, 0) == 4 and cycles_per_step(full)["pointwise_cycles"] == 1 + 3 + 10


def test_no_head_and_layers(make_model):
    from hwsim.datapath._schedule import cycles_per_step, sequence_cycles

    plan = _plan(make_model, "lstm", classes=None, layers=2)
    c = cycles_per_step(plan)
    assert c["head"] == 0 and c["head_beats"] == 0
    assert c["step"] == sum(c["layers"]) + 1 and len(c["layers"]) == 2
    # the first step starts the cycle after its last input beat; a step's h leaves 2 .. H + 1 cycles
    # after the copy (the cycle of done); no head: the last step's h is the end
    assert sequence_cycles(plan, 4) == 3 + 4 * c["step"] + 5 + 1


def _events(I, H, S, head, C, steps, sequences, out_mode="steps"):
    """stream_events on a stand-in plan whose compute cycles and beats are given (the recurrence only
    reads the beats, the compute counts and the output mode)."""
    from types import SimpleNamespace

    import hwsim.datapath._schedule as sch

    plan = SimpleNamespace(input_size=I, hidden_size=H, head=object() if C else None,
                           config=SimpleNamespace(out_mode=out_mode))
    orig = sch.cycles_per_step
    sch.cycles_per_step = lambda p: {"step": S, "head": head, "head_beats": C, "input_beats": I, "output_beats": H}
    try:
        return sch.stream_events(plan, steps, sequences)
    finally:
        sch.cycles_per_step = orig


@pytest.mark.parametrize("I,H,S", [(3, 5, 40), (40, 5, 10), (2, 60, 10), (30, 32, 28), (1, 1, 1)])
def test_stream_overlaps_io_with_compute(I, H, S):
    """A long sequence settles at max(S, H, I) cycles a step: compute-, output- or input-bound."""
    ev = _events(I, H, S, 16, 10, 30, 3)
    starts = [a for e in ev for a in e["starts"]]
    assert all(b - a == max(S, H, I) for a, b in zip(starts[10:29], starts[11:30]))
    assert ev[0]["first_in"] == 0 and ev[0]["starts"][0] == I
    lo = [e["last_out"] for e in ev]
    assert lo[2] - lo[1] == lo[1] - lo[0] or len({b - a for a, b in zip(lo, lo[1:])}) <= 2
    assert all(e["cycles"] == e["last_out"] - e["first_in"] + 1 for e in ev)


@pytest.mark.parametrize("mode", ["last", "head"])
@pytest.mark.parametrize("I,H,S", [(3, 5, 40), (40, 5, 10), (2, 60, 10), (1, 1, 1)])
def test_out_modes_drop_the_h_beats(I, H, S, mode):
    """Without every step's h on the stream a long sequence settles at max(S, I) cycles a step; the
    last step's h (mode "last") still goes out before the head's result."""
    ev = _events(I, H, S, 16, 10, 30, 3, out_mode=mode)
    steps = _events(I, H, S, 16, 10, 30, 3)
    starts = [a for e in ev for a in e["starts"]]
    assert all(b - a == max(S, I) for a, b in zip(starts[10:29], starts[11:30]))
    assert all(e["last_out"] <= f["last_out"] for e, f in zip(ev, steps))
    first = ev[0]["starts"][-1] + S - 1  # the last step's done
    tail = (H if mode == "last" else 0)
    assert ev[0]["last_out"] == max(first + 16, first + tail) + 10 + 1


def test_elements_per_beat(make_model):
    """in_elems / out_elems divide the beats (rounded up); the stream's timing follows them."""
    from hwsim.datapath._plan import lower
    from hwsim.datapath._schedule import cycles_per_step, stream_beat_counts, stream_events
    from hwsim.model._quant import quantize_model

    m = quantize_model(make_model("rnn_tanh", 7, 9, 1, 4, seed=2), "ternary")
    plan = lower(m, DatapathConfig(rows=9, lanes=16, in_elems=3, out_elems=4))
    c = cycles_per_step(plan)
    assert (c["input_beats"], c["output_beats"], c["head_beats"]) == (3, 3, 1)
    assert stream_beat_counts(plan, [2, 1]) == (9, 3 * 3 + 2)
    one = lower(m, DatapathConfig(rows=9, lanes=16))
    assert cycles_per_step(one)["step"] == c["step"]  # the compute does not change
    assert stream_events(plan, 2)[0]["starts"][0] == 3 and stream_events(one, 2)[0]["starts"][0] == 7
    last = lower(m, DatapathConfig(rows=9, lanes=16, out_mode="last"))
    assert stream_beat_counts(last, [2, 1]) == (14 + 7, 2 * (9 + 4))
    head = lower(m, DatapathConfig(rows=9, lanes=16, out_mode="head"))
    assert stream_beat_counts(head, [2, 1]) == (21, 8)


def test_sequence_period_of_a_compute_bound_design(make_model):
    """Back to back, a compute-bound sequence costs its compute plus one cycle (the clear)."""
    from hwsim.datapath._schedule import cycles_per_step, sequence_period

    plan = _plan(make_model, "gru", classes=3)
    c = cycles_per_step(plan)
    assert sequence_period(plan, 4) == 4 * c["step"] + c["head"] + 1


def test_stream_events_refuses_empty():
    from hwsim.datapath._schedule import stream_events

    with pytest.raises(ValueError, match=r"^steps and sequences must be >= 1, not 0 and 1$"):
        stream_events(None, 0)


@pytest.mark.parametrize("rows,lanes,classes", [(1, 1, 3), (2, 3, 3), (5, 8, 3), (5, 8, 9), (3, 2, 1)])
def test_head_is_the_smallest_array_within_a_step(make_model, rows, lanes, classes):
    """head_folding: at most the layers' array, at most a step, and nothing smaller would do."""
    from hwsim.datapath._schedule import cycles_per_step, tree_latency

    plan = _plan(make_model, "gru", lanes=lanes, rows=rows, classes=classes, hidden=7)
    c = cycles_per_step(plan)
    hr, hl = c["head_rows"], c["head_lanes"]

    def cyc(r, l):
        return -(-classes // r) * -(-7 // l) + 4 + tree_latency(l) + 2

    assert 1 <= hr <= min(rows, classes) and 1 <= hl <= lanes and c["head"] == cyc(hr, hl)
    full = (min(rows, classes), lanes)
    assert c["head"] <= c["step"] or (hr, hl) == full
    smaller = [(r, l) for r in range(1, full[0] + 1) for l in range(1, lanes + 1) if r * l < hr * hl]
    assert all(cyc(r, l) > c["step"] for r, l in smaller)


def test_stream_events_of_variable_length_sequences_chain_like_separate_runs(make_model):
    """Per-sequence step counts (one tlast each): a list of equal counts is the int form, and each
    sequence's compute starts follow its own length."""
    from hwsim.datapath._plan import lower
    from hwsim.datapath._config import DatapathConfig
    from hwsim.datapath._schedule import stream_events
    from hwsim.model._quant import quantize_model

    plan = lower(quantize_model(make_model("gru", 3, 4, 1, 2, seed=1), "ternary"), DatapathConfig())
    assert stream_events(plan, [5, 5, 5]) == stream_events(plan, 5, 3)
    ev = stream_events(plan, [2, 7, 1])
    assert [len(e["starts"]) for e in ev] == [2, 7, 1]
    assert ev[1]["first_in"] > ev[0]["first_in"] and ev[1]["cycles"] > ev[0]["cycles"]
    assert all(b - a == ev[1]["starts"][1] - ev[1]["starts"][0] for a, b in zip(ev[1]["starts"], ev[1]["starts"][1:]))
    with pytest.raises(ValueError):
        stream_events(plan, [3, 0])
