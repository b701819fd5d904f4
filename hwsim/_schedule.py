"""Cycle counts of the RTL in ``rtl_templates/``: the formula ``hwsim cosim`` checks against the RTL.

docs/datapath.md ("Schedule") and docs/rtl.md ("Timing") explain the numbers. A step's compute
runs the layers one after another; layer ``k`` costs

    beats_k + MATVEC_LATENCY + 1 + H * POINTWISE_CYCLES[cell]

cycles, ``beats_k = sum over its accumulations of rows * ceil(cols / lanes)``. The controller's
RUN state lasts the sum of those plus ``RUN_OVERHEAD``. The head after a sequence's last step
costs ``C * ceil(H / lanes) + MATVEC_LATENCY + 1 + HEAD_OVERHEAD``. Stream beats come on top:
``I`` input and ``H`` output beats per step, ``C`` head beats per sequence, one cycle each when
neither side stalls.
"""

from __future__ import annotations

from ._plan import Plan

#: Cycles of the hwsim_layer pointwise pass per row, by cell.
POINTWISE_CYCLES = {"rnn_tanh": 2, "rnn_relu": 2, "gru": 4, "lstm": 5}
#: hwsim_matvec: the last result is written MATVEC_LATENCY cycles after the last beat's address.
MATVEC_LATENCY = 2
#: hwsim_axis_ctrl RUN state: one cycle beyond the sum of the layers (the cycle of the last done).
RUN_OVERHEAD = 1
#: hwsim_axis_ctrl HEAD state: the registered done of hwsim_head plus the cycle that sees it.
HEAD_OVERHEAD = 1


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def layer_beats(plan: Plan, k: int) -> int:
    """Shift-add beats of layer ``k``: every accumulation row takes ceil(cols / lanes) cycles."""
    p = plan.config.lanes
    return sum(a.rows * _ceil(a.cols, p) for a in plan.layers[k].accums)


def layer_cycles(plan: Plan, k: int) -> int:
    """Cycles from a layer's start to its done pulse (the next layer's start)."""
    return layer_beats(plan, k) + MATVEC_LATENCY + 1 + plan.hidden_size * POINTWISE_CYCLES[plan.cell]


def cycles_per_step(plan: Plan) -> dict[str, int]:
    """The RTL's cycle counts for ``plan``.

    Returns
    -------
    dict
        ``step``: compute cycles of one time step (controller RUN state); ``head``: compute cycles
        of the head after the last step (0 without a head); ``layers``: per-layer cycles;
        ``input_beats`` / ``output_beats`` / ``head_beats``: stream beats per step / sequence;
        ``step_period``: cycles per step with a stream that never stalls (input + compute + output);
        and the constants (``matvec_latency``, ``pointwise_cycles``, ``run_overhead``,
        ``head_overhead``).
    """
    H = plan.hidden_size
    layers = [layer_cycles(plan, k) for k in range(len(plan.layers))]
    step = sum(layers) + RUN_OVERHEAD
    head = 0
    classes = 0
    if plan.head is not None:
        classes = int(plan.head.m.shape[0])
        head = classes * _ceil(H, plan.config.lanes) + MATVEC_LATENCY + 1 + HEAD_OVERHEAD
    return {
        "step": step,
        "head": head,
        "layers": layers,
        "input_beats": plan.input_size,
        "output_beats": H,
        "head_beats": classes,
        "step_period": plan.input_size + step + H,
        "matvec_latency": MATVEC_LATENCY,
        "pointwise_cycles": POINTWISE_CYCLES[plan.cell],
        "run_overhead": RUN_OVERHEAD,
        "head_overhead": HEAD_OVERHEAD,
    }


def sequence_cycles(plan: Plan, steps: int) -> int:
    """Cycles of one whole sequence of ``steps`` steps when the stream never stalls."""
    c = cycles_per_step(plan)
    return steps * c["step_period"] + (c["head"] + c["head_beats"] if plan.head is not None else 0)
