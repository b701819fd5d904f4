"""Cycle counts of the RTL in ``rtl_templates/``: the formula ``hwsim cosim`` checks against the RTL.

docs/datapath.md ("Schedule") and docs/rtl.md ("Timing") explain the numbers. With ``R`` row PEs,
``L`` lanes and ``P`` pointwise units (``DatapathConfig.rows / lanes / pointwise``), a step's
compute runs the layers one after another; layer ``k`` costs

    beats_k + MATVEC_TAIL + tree(L) + ceil(H / P) + POINTWISE_TAIL + pointwise_latency[cell]

cycles, ``beats_k = sum over its accumulations of ceil(H / R) * ceil(cols / L)`` (one tile of
``R x L`` weights a beat) and ``tree(L) = max(1, ceil(log2 L))`` (the registered adder tree). The
controller's RUN state lasts the sum of those plus ``RUN_OVERHEAD``. The head after a sequence's
last step costs ``ceil(C / R_head) * ceil(H / L) + MATVEC_TAIL + tree(L) + HEAD_OVERHEAD`` with
``R_head = min(R, C)``. Stream beats come on top: ``I`` input and ``H`` output beats per step,
``C`` head beats per sequence, one cycle each when neither side stalls.
"""

from __future__ import annotations

from ._plan import Plan

#: hwsim_pointwise: cycles from a row's pre-activations to its new h (LAT_H), by cell.
POINTWISE_LATENCY = {"rnn_tanh": 3, "rnn_relu": 3, "gru": 10, "lstm": 10}
#: hwsim_matvec: cycles beyond the beats and the adder tree until the last result is written
#: (start -> first beat, ROM read, accumulate, requant).
MATVEC_TAIL = 3
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


def head_rows(plan: Plan) -> int:
    """Row PEs of the head: the contract's ``rows``, at most one per class."""
    return min(plan.config.rows, int(plan.head.m.shape[0]))


def layer_beats(plan: Plan, k: int) -> int:
    """Beats of layer ``k``: one ``rows x lanes`` tile a cycle."""
    r, p = plan.config.rows, plan.config.lanes
    return sum(_ceil(a.rows, r) * _ceil(a.cols, p) for a in plan.layers[k].accums)


def pointwise_cycles(plan: Plan) -> int:
    """Cycles of one layer's pointwise pass, from the matvec's last write to the layer's done."""
    return _ceil(plan.hidden_size, plan.config.pointwise) + POINTWISE_TAIL + POINTWISE_LATENCY[plan.cell]


def layer_cycles(plan: Plan, k: int) -> int:
    """Cycles from a layer's start to its done pulse (the next layer's start)."""
    return layer_beats(plan, k) + MATVEC_TAIL + tree_latency(plan.config.lanes) + pointwise_cycles(plan)


def cycles_per_step(plan: Plan) -> dict[str, int]:
    """The RTL's cycle counts for ``plan``.

    Returns
    -------
    dict
        ``step``: compute cycles of one time step (controller RUN state); ``head``: compute cycles
        of the head after the last step (0 without a head); ``layers``: per-layer cycles;
        ``beats``: per-layer matvec beats; ``input_beats`` / ``output_beats`` / ``head_beats``:
        stream beats per step / sequence; ``step_period``: cycles per step with a stream that
        never stalls (input + compute + output); the folding (``rows``, ``lanes``,
        ``pointwise_units``, ``head_rows``) and the constants (``matvec_latency``: cycles from the
        last beat to the last write, ``pointwise_cycles``: cycles of a layer's pointwise pass,
        ``run_overhead``, ``head_overhead``).
    """
    cfg = plan.config
    H = plan.hidden_size
    layers = [layer_cycles(plan, k) for k in range(len(plan.layers))]
    step = sum(layers) + RUN_OVERHEAD
    head = 0
    classes = 0
    hr = 0
    if plan.head is not None:
        classes = int(plan.head.m.shape[0])
        hr = head_rows(plan)
        head = _ceil(classes, hr) * _ceil(H, cfg.lanes) + MATVEC_TAIL + tree_latency(cfg.lanes) + HEAD_OVERHEAD
    return {
        "step": step,
        "head": head,
        "layers": layers,
        "beats": [layer_beats(plan, k) for k in range(len(plan.layers))],
        "input_beats": plan.input_size,
        "output_beats": H,
        "head_beats": classes,
        "step_period": plan.input_size + step + H,
        "rows": cfg.rows,
        "lanes": cfg.lanes,
        "pointwise_units": cfg.pointwise,
        "head_rows": hr,
        "matvec_latency": MATVEC_TAIL + tree_latency(cfg.lanes),
        "pointwise_cycles": pointwise_cycles(plan),
        "run_overhead": RUN_OVERHEAD,
        "head_overhead": HEAD_OVERHEAD,
    }


def sequence_cycles(plan: Plan, steps: int) -> int:
    """Cycles of one whole sequence of ``steps`` steps when the stream never stalls."""
    c = cycles_per_step(plan)
    return steps * c["step_period"] + (c["head"] + c["head_beats"] if plan.head is not None else 0)
