"""Cycle counts of the RTL in ``rtl_templates/``: the formula ``hwsim cosim`` checks against the RTL.

docs/datapath.md ("Schedule") and docs/rtl.md ("Timing") explain the numbers. With ``R`` row PEs,
``L`` lanes and ``P`` pointwise units (``DatapathConfig.rows / lanes / pointwise``), a step's
compute runs the layers one after another; layer ``k`` costs

    beats_k + MATVEC_TAIL + tree(L) + ceil(H / P) + POINTWISE_TAIL + pointwise_latency[cell]

cycles, ``beats_k = sum over its accumulations of ceil(H / R) * ceil(cols / L)`` (one tile of
``R x L`` weights a beat) and ``tree(L) = max(1, ceil(log2 L))`` (the registered adder tree). The
controller's RUN state lasts the sum of those plus ``RUN_OVERHEAD``. The head after a sequence's
last step costs ``ceil(C / R_head) * ceil(H / L_head) + MATVEC_TAIL + tree(L_head) + HEAD_OVERHEAD``
on its own ``R_head x L_head`` array (``head_folding``: the smallest that takes at most a step).
The stream overlaps the compute (``stream_events``): with two x buffers and
an output shift register, a long sequence takes ``max(step, H beats, I beats)`` cycles a step when
neither side stalls (``step_period``; ``in_elems`` / ``out_elems`` elements a beat, the ``h`` beats
only when every step sends its ``h``: ``out_mode``), and back-to-back sequences follow each other
every ``sequence_period``.
"""

from __future__ import annotations

import numpy as np

from ._plan import Plan

#: hwsim_pointwise: cycles from a row's pre-activations to its new h (LAT_H), by cell.
POINTWISE_LATENCY = {"rnn_tanh": 3, "rnn_relu": 3, "gru": 10, "lstm": 10}
#: gate products in series on the way to h (each takes ``mul_stages`` cycles; the table holds 1 each).
POINTWISE_PRODUCTS = {"rnn_tanh": 0, "rnn_relu": 0, "gru": 2, "lstm": 2}
#: hwsim_matvec: cycles beyond the beats and the adder tree until the last result is written
#: (start -> first beat, ROM read, ROM and operand registers, accumulate, requant).
MATVEC_TAIL = 4
#: hwsim_layer: bank read, selectors, and the registered done after the last h write.
POINTWISE_TAIL = 3
#: hwsim_axis_ctrl RUN state: one cycle beyond the sum of the layers (the cycle of the last done).
RUN_OVERHEAD = 1
#: hwsim_head's registered done plus the cycle of hwsim_axis_ctrl's HEAD state that sees it.
HEAD_OVERHEAD = 2


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def tree_latency(lanes: int) -> int:
    """Registered levels of a row PE's adder tree over ``lanes`` products (at least one register)."""
    return max(1, (lanes - 1).bit_length())


def _head_cycles(classes: int, hidden: int, rows: int, lanes: int) -> int:
    return _ceil(classes, rows) * _ceil(hidden, lanes) + MATVEC_TAIL + tree_latency(lanes) + HEAD_OVERHEAD


def head_folding(plan: Plan) -> tuple[int, int]:
    """Row PEs and lanes of the head's own array, right-sized: the fewest ``rows x lanes`` (at most
    the contract's ``rows`` and ``lanes``, rows at most one per class) whose head cycles do not exceed
    one step's compute, so the head costs at most one step per sequence; ties go to the faster.
    When even the layers' array is slower than a step, the head gets the layers' array."""
    cfg = plan.config
    C, H = int(plan.head.m.shape[0]), plan.hidden_size
    full = (min(cfg.rows, C), cfg.lanes)
    step = sum(layer_cycles(plan, k) for k in range(len(plan.layers))) + RUN_OVERHEAD
    fits = [(r * l, _head_cycles(C, H, r, l), r, l) for r in range(1, full[0] + 1) for l in range(1, full[1] + 1)
            if _head_cycles(C, H, r, l) <= step]
    if not fits:
        return full
    _, _, r, l = min(fits)
    return r, l


def head_rows(plan: Plan) -> int:
    """Row PEs of the head (``head_folding``)."""
    return head_folding(plan)[0]


def head_lanes(plan: Plan) -> int:
    """Lanes of the head (``head_folding``)."""
    return head_folding(plan)[1]


def layer_beats(plan: Plan, k: int) -> int:
    """Beats of layer ``k``: one ``rows x lanes`` tile a cycle."""
    r, p = plan.config.rows, plan.config.lanes
    return sum(_ceil(a.rows, r) * _ceil(a.cols, p) for a in plan.layers[k].accums)


def pointwise_latency(plan: Plan) -> int:
    """``LAT_H`` of hwsim_pointwise: cycles from a row's pre-activations to its new h."""
    return POINTWISE_LATENCY[plan.cell] + POINTWISE_PRODUCTS[plan.cell] * (plan.config.mul_stages - 1)


def pointwise_cycles(plan: Plan) -> int:
    """Cycles of one layer's pointwise pass, from the matvec's last write to the layer's done."""
    return _ceil(plan.hidden_size, plan.config.pointwise) + POINTWISE_TAIL + pointwise_latency(plan)


def layer_cycles(plan: Plan, k: int) -> int:
    """Cycles from a layer's start to its done pulse (the next layer's start)."""
    return layer_beats(plan, k) + MATVEC_TAIL + tree_latency(plan.config.lanes) + pointwise_cycles(plan)


def stream_beats(plan: Plan) -> dict[str, int]:
    """Beats of the AXI4-Stream ports (docs/rtl.md, "Beat order"): ``input`` beats of ``x`` a step
    (``in_elems`` elements a beat), ``h`` beats of one step's ``h`` and ``head`` beats of the head's
    result (``out_elems`` words a beat, the last beat padded with zeros); ``out_mode`` says which
    steps send their ``h`` (``steps``: every one, ``last``: the sequence's last, ``head``: none)."""
    cfg = plan.config
    C = int(plan.head.m.shape[0]) if plan.head is not None else 0
    return {"input": _ceil(plan.input_size, cfg.in_elems), "h": _ceil(plan.hidden_size, cfg.out_elems),
            "head": _ceil(C, cfg.out_elems)}


def emits_h(plan: Plan, last: bool) -> bool:
    """Whether a step's ``h`` goes out on the stream (``last``: the step is its sequence's last)."""
    mode = plan.config.out_mode
    return mode == "steps" or (mode == "last" and last)


def stream_beat_counts(plan: Plan, lengths) -> tuple[int, int]:
    """Input and output beats of sequences of ``lengths`` steps each (one int per sequence)."""
    b = stream_beats(plan)
    lens = [int(v) for v in lengths]
    h_jobs = sum(sum(emits_h(plan, st == t - 1) for st in range(t)) for t in lens)
    return sum(lens) * b["input"], h_jobs * b["h"] + len(lens) * b["head"]


def cycles_per_step(plan: Plan) -> dict[str, int]:
    """The RTL's cycle counts for ``plan``.

    Returns
    -------
    dict
        ``step``: compute cycles of one time step (controller RUN state); ``head``: compute cycles
        of the head after the last step (0 without a head); ``layers``: per-layer cycles;
        ``beats``: per-layer matvec beats; ``input_beats``: stream beats of a step's ``x``;
        ``output_beats``: beats of one step's ``h`` on the stream (sent every step, only the last, or
        never: ``out_mode``); ``head_beats``: beats of the head's result a sequence (``stream_beats``);
        ``step_period``: cycles per step of a long sequence with a stream that never stalls (I/O
        overlaps the compute: ``max(step, output_beats, input_beats)``, the output beats only when
        every step sends its ``h``); the folding (``rows``, ``lanes``,
        ``pointwise_units``, ``head_rows``, ``head_lanes``) and the constants (``matvec_latency``: cycles from the
        last beat to the last write, ``pointwise_cycles``: cycles of a layer's pointwise pass,
        ``run_overhead``, ``head_overhead``).
    """
    cfg = plan.config
    H = plan.hidden_size
    layers = [layer_cycles(plan, k) for k in range(len(plan.layers))]
    step = sum(layers) + RUN_OVERHEAD
    head = 0
    classes = 0
    hr = hl = 0
    if plan.head is not None:
        classes = int(plan.head.m.shape[0])
        hr, hl = head_folding(plan)
        head = _head_cycles(classes, H, hr, hl)
    b = stream_beats(plan)
    return {
        "step": step,
        "head": head,
        "layers": layers,
        "beats": [layer_beats(plan, k) for k in range(len(plan.layers))],
        "input_beats": b["input"],
        "output_beats": b["h"],
        "head_beats": b["head"],
        "step_period": max(step, b["h"] if cfg.out_mode == "steps" else 0, b["input"]),
        "rows": cfg.rows,
        "lanes": cfg.lanes,
        "pointwise_units": cfg.pointwise,
        "head_rows": hr,
        "head_lanes": hl,
        "matvec_latency": MATVEC_TAIL + tree_latency(cfg.lanes),
        "pointwise_cycles": pointwise_cycles(plan),
        "run_overhead": RUN_OVERHEAD,
        "head_overhead": HEAD_OVERHEAD,
    }


def sequence_cycles(plan: Plan, steps: int) -> int:
    """End-to-end cycles of one sequence of ``steps`` steps from reset, from its first input beat to
    its last output beat, when the stream never stalls (``stream_events``)."""
    return stream_events(plan, steps)[0]["cycles"]


def sequence_period(plan: Plan, steps: int) -> int:
    """Cycles between the last output beats of back-to-back sequences of ``steps`` steps in steady
    state (a source that is always valid, a sink that is always ready): the stream's throughput."""
    ev = stream_events(plan, steps, 3)
    return ev[2]["last_out"] - ev[1]["last_out"]


def stream_events(plan: Plan, steps, sequences: int = 1) -> list[dict[str, int]]:
    """Cycle-exact timing of ``sequences`` sequences of ``steps`` steps through the stream
    controller from reset, with a source that is always valid and a sink that is always ready.

    Returns one dict per sequence: ``first_in`` (the cycle of its first input beat), ``last_out``
    (the cycle of its last output beat), ``cycles`` (``last_out - first_in + 1``, the end-to-end
    cycles) and ``starts`` (the cycle each step's compute begins). Cycle 0 is the first input beat
    of the stream. The recurrence mirrors ``hwsim_axis_ctrl`` (docs/rtl.md, "Timing"): two x
    buffers, each freed when its step's h is copied into the output shift register; a step starts
    the cycle after the previous step's h is copied when its x is complete by then, else the cycle
    after its last input beat (or after the clear that ends a sequence); the output shift register
    takes a job (a step's ``h``, the head's result: ``n`` beats of ``out_elems`` words, in stream
    order) at the first cycle it asks and the previous job has left, and its beats leave 2 .. n + 1
    cycles after the copy. A step whose ``h`` is not sent (``out_mode``) ends at its done, or, the
    last of a sequence, the cycle after the previous head's ``y`` was copied if that is later (its
    head would overwrite that ``y``). A step's ``x`` takes ``input_beats`` beats.
    ``steps`` may also be a list of each sequence's own step count (variable-length sequences, one
    ``tlast`` each); ``sequences`` is then its length.
    """
    lens = [int(steps)] * sequences if isinstance(steps, (int, np.integer)) else [int(s) for s in steps]
    if not lens or min(lens) < 1:
        raise ValueError(f"steps and sequences must be >= 1, not {steps} and {sequences}")
    firsts = set(np.cumsum([0] + lens[:-1]).tolist())
    lasts = set((np.cumsum(lens) - 1).tolist())
    c = cycles_per_step(plan)
    I, H, S, Hd, C = c["input_beats"], c["output_beats"], c["step"], c["head"], c["head_beats"]
    head = plan.head is not None
    total = sum(lens)
    fill_end: list[int] = []  # the cycle of each step's last input beat
    copy: list[int] = []      # the cycle each step's h is copied out (its x buffer is freed then)
    starts: list[int] = []
    o_free = 0                # the first cycle the output shift register can take the next job
    y_copy = -1               # the cycle the last head's y was copied into it
    out = []
    seq: dict[str, int] = {}
    resume = 0                # the first cycle IDLE can start the next step (after a clear)
    chained = False           # the previous step was not its sequence's last
    for k in range(total):
        begin = 0 if k == 0 else fill_end[k - 1] + 1
        if k >= 2:
            begin = max(begin, copy[k - 2] + 1)
        fill_end.append(begin + I - 1)
        if k in firsts:
            seq = {"first_in": begin, "k0": k}
        if chained and fill_end[k] <= copy[k - 1]:
            a = copy[k - 1] + 1  # started by the copy of the previous step's h
        else:
            a = max(resume, fill_end[k]) + 1  # started from IDLE (at the edge of its last input beat at the earliest)
        starts.append(a)
        done = a + S - 1
        last = k in lasts
        if emits_h(plan, last):
            ld = max(done, o_free)
            o_free = ld + H
        elif last:  # the head's start waits until the previous head's y has been copied out
            ld = max(done, y_copy + 1)
        else:  # the step's h stays inside: the step ends (and frees its x buffer) when done
            ld = done
        copy.append(ld)
        chained = not last
        if not last:
            resume = ld + 1
            continue
        if head:
            yd = max(ld + Hd, o_free)
            y_copy = yd
            o_free = yd + C
            resume = ld + Hd + 1
            seq["last_out"] = yd + C + 1
        else:
            resume = ld + 1
            seq["last_out"] = ld + H + 1
        seq["cycles"] = seq["last_out"] - seq["first_in"] + 1
        seq["starts"] = starts[seq.pop("k0") : k + 1]
        out.append(seq)
    return out
