"""``write_tb``: the exported testbench ``DIR/tb/`` -- golden vectors from the simulator and a cocotb
test that re-verifies the RTL where hwsim is not installed.

The vectors come from ``hwsim.simulate`` on the export's own plan (one source of truth): the
inputs as stream beats (``stim.hex``) and the expected record (``expected.txt``) in the harness's
own format -- every layer's h (and c) after every step, every output beat, and the cycle counters
the schedule predicts. ``hwsim_tb.py`` (cocotb) and ``run.py`` (the runner, also a pytest file) are
copied from ``templates/tb/``; they import nothing from hwsim.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._rtl import environment, top_params

if TYPE_CHECKING:
    from hwsim.datapath._plan import Plan

TB_TEMPLATES = Path(__file__).resolve().parent / "templates" / "tb"
#: Default golden inputs: random sequences, then sequences with saturating inputs, STEPS steps each.
DEFAULT_RANDOM, DEFAULT_SATURATING, DEFAULT_STEPS = 4, 2, 4


def default_tb_inputs(plan, sequences: int | None = None, steps: int = DEFAULT_STEPS, seed: int = 0) -> np.ndarray:
    """A few random sequences plus saturating ones (a third of ``sequences``, at least one)."""
    n = DEFAULT_RANDOM + DEFAULT_SATURATING if sequences is None else sequences
    n_sat = max(1, n // 3) if n > 1 else 0
    parts = [random_inputs(plan, n - n_sat, steps, seed)]
    if n_sat:
        parts.append(random_inputs(plan, n_sat, steps, seed + 1, saturate=0.5))
    return np.concatenate(parts)


def _hexw(v: int, bits: int) -> str:
    return f"{v & ((1 << bits) - 1):0{-(-bits // 4)}x}"


def _flat(vals, bits: int) -> int:
    w = 0
    for j, v in enumerate(vals):
        w |= (int(v) & ((1 << bits) - 1)) << (j * bits)
    return w


def _widths(plan) -> tuple[list[int], list[int], int]:
    """Per layer h and c widths (layers may differ) and the width of one output stream lane
    (``out_elems`` lanes make ``m_axis_tdata``)."""
    L = len(plan.layers)
    hb = [plan.layer_config(k).h.bits for k in range(L)]
    cb = [plan.layer_config(k).c.bits for k in range(L)]
    out_bits = plan.head_config().out.bits if plan.head is not None else plan.config.out.bits
    return hb, cb, -(-max(hb[-1], out_bits) // 8) * 8


def expected_beats(plan, h_int: np.ndarray, y_int, steps: list[int]) -> list[tuple]:
    """The output stream the design must send (docs/rtl.md, "Beat order"), one entry a beat:
    ``(sequence, step, node, beat, (tuser, tlast, words))``, ``node`` "m_axis.h" (a step's h) or
    "out" (the head's result), ``words`` the beat's ``out_elems`` lanes (zero past the job's end).
    ``h_int`` (N, T, H) and ``y_int`` (N, C) are the simulator's last-layer h and head outputs."""
    from hwsim.datapath._schedule import emits_h

    e = plan.config.out_elems
    C = plan.num_classes or 0
    out = []

    def job(seq, step, node, vals, user, ends):
        words = [int(v) for v in vals] + [0] * (-len(vals) % e)
        nb = len(words) // e
        for b in range(nb):
            out.append((seq, step, node, b, (user, int(ends and b == nb - 1), tuple(words[b * e : (b + 1) * e]))))

    for s, t in enumerate(steps):
        for st in range(t):
            if emits_h(plan, st == t - 1):
                job(s, st, "m_axis.h", h_int[s, st], 0, C == 0 and st == t - 1)
        if C:
            job(s, t - 1, "out", y_int[s], 1, True)
    return out


def sequence_lengths(x_int: np.ndarray, lengths=None) -> list[int]:
    """Steps of each sequence of ``x_int`` (N, T, I): ``lengths`` (variable-length sequences,
    docs/datapath.md) or T for all."""
    n, t = x_int.shape[:2]
    return [t] * n if lengths is None else [int(v) for v in lengths]


def expected_record(plan, x_int: np.ndarray, lengths=None) -> str:
    """The record the harness must write for ``x_int`` (N, T, I), sequence n of ``lengths[n]``
    steps (default: all T), computed by the simulator."""
    from hwsim.datapath._schedule import cycles_per_step
    from hwsim.sim._sim import simulate

    sim = simulate(plan, x_int, lengths=lengths)
    n = x_int.shape[0]
    steps = sequence_lengths(x_int, lengths)
    H = plan.hidden_size
    hb, cb, m_w = _widths(plan)
    lines = []
    g = 0
    for s in range(n):
        for st in range(steps[s]):
            f = [f"S {g}"]
            g += 1
            for k in range(len(plan.layers)):
                f.append(_hexw(_flat(sim.h_layers_int[k][s, st], hb[k]), H * hb[k]))
                if sim.c_layers_int is not None:
                    f.append(_hexw(_flat(sim.c_layers_int[k][s, st], cb[k]), H * cb[k]))
            lines.append(" ".join(f))
    for *_, (user, last, words) in expected_beats(plan, sim.h_int, sim.y_int, steps):
        lines.append(f"O {user} {last} {_hexw(_flat(words, m_w), m_w * len(words))}")
    sched = cycles_per_step(plan)
    sat = sum(v for k, v in sim.saturations.items() if k != "x")
    lines.append(f"E {sched['step'] * sum(steps)} {sched['head'] * n if plan.head is not None else 0} {sat} 0")
    return "\n".join(lines) + "\n"


def tb_files(plan, top: str, x_int: np.ndarray, lengths=None) -> dict[str, bytes]:
    """Every file of ``tb/`` (relative name -> bytes) for golden inputs ``x_int``, sequence n of
    ``lengths[n]`` steps (default: all T)."""
    from hwsim.datapath._schedule import cycles_per_step, stream_beat_counts

    n, t, i = x_int.shape
    hb, cb, m_w = _widths(plan)
    steps = sequence_lengths(x_int, lengths)
    in_beats, out_beats = stream_beat_counts(plan, steps)
    golden = {
        "top": top,
        "cell": plan.cell,
        "sequences": n,
        "steps": t,
        "lengths": steps,  # steps of each sequence (all T unless variable-length)
        "input_size": plan.input_size,
        "hidden": plan.hidden_size,
        "layers": len(plan.layers),
        "classes": plan.num_classes or 0,
        "lstm": plan.cell == "lstm",
        "h_bits": hb,  # per layer
        "c_bits": cb,
        "m_bits": m_w,  # one output lane; out_elems lanes a beat
        "out_elems": plan.config.out_elems,
        "in_beats": in_beats,
        "out_beats": out_beats,
        "max_cycles": min(2**31 - 1, 20 * (in_beats * (1 + cycles_per_step(plan)["step"]) + out_beats * 2 + 1000) + 10_000),
    }
    files = {
        "tb/hwsim_tb_stream.v": render_harness(plan, top).encode(),
        "tb/stim.hex": ("\n".join(stimulus_lines(plan, x_int, lengths)) + "\n").encode("ascii"),
        "tb/expected.txt": expected_record(plan, x_int, lengths).encode("ascii"),
        "tb/golden.json": (json.dumps(golden, indent=1) + "\n").encode(),
        "tb/hwsim_tb.py": (TB_TEMPLATES / "hwsim_tb.py").read_bytes(),
        "tb/run.py": (TB_TEMPLATES / "run.py").read_bytes(),
    }
    return files


def random_inputs(plan: Plan, sequences: int, steps: int, seed: int = 0, *, saturate: float = 0.0) -> np.ndarray:
    """Random integer inputs (N, T, I) in the x format; a ``saturate`` fraction take extreme values."""
    rng = np.random.default_rng(seed)
    x = plan.config.x
    scale = 1 << x.frac  # mostly |x| < 2, like normalized data
    v = np.clip(np.rint(rng.normal(0.0, 0.75, size=(sequences, steps, plan.input_size)) * scale), x.min_int, x.max_int)
    v = v.astype(np.int64)
    if saturate > 0:
        pick = rng.random(v.shape) < saturate
        v[pick] = rng.choice([x.min_int, x.max_int], size=int(pick.sum()))
    return v


def stimulus_lines(plan: Plan, x_int: np.ndarray, lengths=None) -> list[str]:
    """One hex line per input beat: {tlast, tdata}, tdata ``in_elems`` lanes of whole bytes, lane j
    the sign-extended x element ``beat * in_elems + j`` (zero past I); sequence n sends its
    ``lengths[n]`` steps (default: all T), tlast on the last beat of its last step."""
    lane = -(-plan.config.x.bits // 8) * 8
    e = plan.config.in_elems
    s_w = lane * e
    n, _, i = x_int.shape
    nb = -(-i // e)
    steps = sequence_lengths(x_int, lengths)
    digits = -(-(s_w + 1) // 4)
    lines = []
    for a in range(n):
        t = steps[a]
        for b in range(t):
            for c in range(nb):
                last = 1 if (b == t - 1 and c == nb - 1) else 0
                lines.append(f"{(last << s_w) | _flat(x_int[a, b, c * e : (c + 1) * e], lane):0{digits}x}")
    return lines


def render_harness(plan: Plan, top: str, *, netlist: bool = False, loader: bool | None = None) -> str:
    """The Verilog of the stream harness for ``plan``'s top (``netlist``: no ROM_DIR parameter;
    ``loader``: the top has the run-time weight port, which the harness drives from LOAD_FILE;
    default: the contract's ``weights == "runtime"``)."""
    loader = plan.config.weights == "runtime" if loader is None else loader
    return environment().get_template("tb_stream.v.j2").render(**top_params(plan, top), netlist=netlist, loader=loader)
