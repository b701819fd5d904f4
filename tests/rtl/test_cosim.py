"""Whole designs: export -> Icarus or Verilator (or a yosys netlist) -> every h, c and head output
at every step compared exactly with the simulator, the measured cycle counts with hwsim.datapath._schedule
(issues #6, #12). The full sweep runs on Icarus (fast builds); a subset runs on Verilator too."""

from __future__ import annotations

import pytest

from cases import ROW, STREAM, STREAM_KNOBS, SWEEP, Case, random_x
from rtl_util import needs_icarus, needs_verilator, needs_yosys

pytestmark = [pytest.mark.rtl, needs_icarus]
#: The Verilator subset of the sweep: two layers of GRU without a head, two layers of LSTM, and the
#: stream knobs (LSTM, 3 x elements a beat, only the last step's h).
VERILATOR_SUBSET = [SWEEP[3], SWEEP[9], STREAM_KNOBS[4]]


def _export(case: Case, tmp_path):
    from hwsim.hdl._cosim import plan_from_export
    from hwsim.export import write_export

    out = tmp_path / "export"
    write_export(case.model(), out, case.config(), formats=("hex",))
    plan, _ = plan_from_export(out)
    return out, plan


@pytest.mark.parametrize("case", SWEEP, ids=[c.id for c in SWEEP])
def test_design_matches_simulator(case, tmp_path):
    from hwsim.hdl._cosim import cosim

    out, plan = _export(case, tmp_path)
    x = random_x(case, plan, sequences=3, steps=4)
    rep = cosim(out, x, build_dir=tmp_path / "build", stall_in=40, stall_out=80, seed=case.seed + 1, simulator="icarus")
    _assert_clean(rep, case)


def _assert_clean(rep, case: Case) -> None:
    assert rep.first_mismatch is None, rep.first_mismatch
    assert rep.mismatches == 0
    assert not rep.timed_out
    assert rep.cycles_per_step == rep.model_cycles_per_step
    assert rep.head_cycles == rep.model_head_cycles
    assert rep.saturations == rep.model_saturations
    assert rep.end_to_end_mismatches == 0
    if case.saturate:
        assert rep.model_saturations > 0  # the case really drives overflow


@pytest.mark.parametrize("case", STREAM, ids=[c.id for c in STREAM])
def test_end_to_end_cycles_match_the_model(case, tmp_path):
    """Without stalls, every sequence's cycles from its first input beat to its last output beat are
    what hwsim.datapath._schedule.stream_events predicts; I/O overlaps the compute, so back-to-back
    sequences take max(step, H, I) cycles a step plus the head."""
    from hwsim.datapath._schedule import cycles_per_step, sequence_period, stream_events
    from hwsim.hdl._cosim import cosim

    out, plan = _export(case, tmp_path)
    x = random_x(case, plan, sequences=4, steps=3)
    rep = cosim(out, x, build_dir=tmp_path / "build", simulator="icarus")
    _assert_clean(rep, case)
    assert not rep.stalled and rep.ok
    ev = stream_events(plan, 3, 4)
    assert rep.end_to_end_cycles == sum(e["cycles"] for e in ev) / 4
    c = cycles_per_step(plan)
    tail = c["head"] + 1 if plan.head is not None else 1  # the head, or only the clear, between sequences
    period = sequence_period(plan, 3)
    lo = 3 * c["step_period"]
    assert lo <= period <= lo + tail + c["output_beats"] + c["head_beats"]


@pytest.mark.parametrize("case", STREAM_KNOBS, ids=[c.id for c in STREAM_KNOBS])
def test_stream_knobs(case, tmp_path):
    """Elements per beat and output modes: every value exact with random stalls on both sides, and
    without stalls every sequence's end-to-end cycles (variable lengths included) as the model says."""
    from hwsim.datapath._schedule import cycles_per_step, stream_events
    from hwsim.hdl._cosim import cosim

    out, plan = _export(case, tmp_path)
    x = random_x(case, plan, sequences=4, steps=3)
    lengths = [3, 1, 1, 2]  # short sequences back to back: a head's y may wait for the one before
    rep = cosim(out, x, build_dir=tmp_path / "stall", stall_in=60, stall_out=160, seed=case.seed + 5,
                simulator="icarus", lengths=lengths)
    _assert_clean(rep, case)
    assert rep.stalled
    rep = cosim(out, x, build_dir=tmp_path / "nostall", simulator="icarus", lengths=lengths)
    _assert_clean(rep, case)
    ev = stream_events(plan, lengths)
    assert rep.end_to_end_cycles == sum(e["cycles"] for e in ev) / 4
    c = cycles_per_step(plan)
    # the beats the knobs save: ceil(I / in_elems) a step; h only where out_mode sends it
    assert c["input_beats"] == -(-case.inputs // case.in_elems)
    assert c["step_period"] == max(c["step"], c["input_beats"], c["output_beats"] if case.out_mode == "steps" else 0)


@needs_verilator
@pytest.mark.parametrize("case", VERILATOR_SUBSET, ids=[c.id for c in VERILATOR_SUBSET])
def test_design_matches_simulator_on_verilator(case, tmp_path):
    from hwsim.hdl._cosim import cosim

    out, plan = _export(case, tmp_path)
    x = random_x(case, plan, sequences=3, steps=4)
    rep = cosim(out, x, build_dir=tmp_path / "build", stall_in=40, stall_out=80, seed=case.seed + 1, simulator="verilator")
    assert rep.simulator == "verilator"
    _assert_clean(rep, case)


NETLIST_CASES = [("generic", Case("gru", "ternary", inputs=2, hidden=2, classes=2)),
                 ("ice40", Case("lstm", "ternary", inputs=1, hidden=2, classes=None))]


@needs_yosys
@pytest.mark.parametrize("target,case", NETLIST_CASES, ids=[f"{t}-{c.id}" for t, c in NETLIST_CASES])
def test_netlist_matches_simulator(target, case, tmp_path):
    """yosys maps the design to cells; the netlist (with the cells' simulation models) still agrees
    bit for bit and cycle for cycle: the harness watches only ports and wires kept on purpose."""
    from hwsim.hdl._cosim import cosim

    out, plan = _export(case, tmp_path)
    x = random_x(case, plan, sequences=2, steps=3)
    rep = cosim(out, x, build_dir=tmp_path / "build", stall_in=30, stall_out=30, simulator="icarus", netlist=target)
    assert rep.design == f"netlist:{target}"
    net = (tmp_path / "build" / "netlist" / "netlist.v").read_text()
    assert "hwsim_lane" not in net  # flattened: really gates, not the RTL modules
    _assert_clean(rep, case)


def test_broken_rounding_is_caught_and_located(tmp_path):
    """HWSIM_FAULT_ROUNDING turns half_up into floor inside every requant: the checker must see it."""
    from hwsim.hdl._cosim import cosim

    case = Case("gru", "ternary", hidden=4)
    out, plan = _export(case, tmp_path)
    x = random_x(case, plan, sequences=2, steps=3)
    good = cosim(out, x, build_dir=tmp_path / "good", simulator="icarus")
    assert good.mismatches == 0
    bad = cosim(out, x, build_dir=tmp_path / "bad", defines={"HWSIM_FAULT_ROUNDING": 1}, simulator="icarus")
    assert bad.mismatches > 0
    fm = bad.first_mismatch
    assert set(fm) == {"sequence", "step", "node", "index", "expected", "actual"}
    # the first step's first layer output is where a rounding fault shows first
    assert (fm["sequence"], fm["step"]) == (0, 0)
    assert fm["node"] == "l0.h"
    assert fm["expected"] != fm["actual"]


def test_sequences_reset_state(tmp_path):
    """The same sequence twice in a row gives the same outputs: tlast clears h and c."""
    import numpy as np

    from hwsim.hdl._cosim import cosim

    case = Case("lstm", "ternary", hidden=3, classes=2)
    out, plan = _export(case, tmp_path)
    x = random_x(case, plan, sequences=1, steps=3)
    rep = cosim(out, np.concatenate([x, x, x]), build_dir=tmp_path / "build", simulator="icarus")
    assert rep.mismatches == 0 and rep.sequences == 3


@pytest.mark.parametrize("case", [Case("gru", "ternary", hidden=3, classes=2), Case("rnn_tanh", "exp", bits=4, classes=None)],
                         ids=lambda c: c.id)
def test_axi_stream_with_backpressure(case, tmp_path):
    """cocotbext-axi source and sink with random pauses on the generated top: frames = sequences."""
    import numpy as np

    from rtl_util import TB_DIR
    from hwsim.sim._sim import simulate

    out, plan = _export(case, tmp_path)
    x = random_x(case, plan, sequences=3, steps=3)
    sim = simulate(plan, x)
    np.savez(tmp_path / "case.npz", x=x, h=sim.h_int, y=sim.y_int if sim.y_int is not None else np.zeros((3, 0)))
    import json
    import os

    from cocotb_tools.runner import get_results, get_runner

    man = json.loads((out / "manifest.json").read_text())
    runner = get_runner("icarus")
    build = tmp_path / "build"
    runner.build(sources=[str(out / r) for r in man["rtl"]["files"]], hdl_toplevel="hwsim_top", build_dir=str(build),
                 parameters={"ROM_DIR": f'"{out / "rom"}"'}, always=True, timescale=("1ns", "1ps"),
                 log_file=str(build / "build.log"))
    xml = runner.test(test_module="tb_axis", hdl_toplevel="hwsim_top", hdl_toplevel_lang="verilog",
                      build_dir=str(build), test_dir=str(build), log_file=str(build / "sim.log"),
                      extra_env={"HWSIM_AXIS_CASE": str(tmp_path / "case.npz"),
                                 "PYTHONPATH": os.pathsep.join([str(TB_DIR), os.environ.get("PYTHONPATH", "")])})
    tests, fails = get_results(xml)
    assert tests == 1 and fails == 0, f"see {build / 'sim.log'}"


MIXED = [c for c in SWEEP if c.precision]


@pytest.mark.parametrize("case", MIXED, ids=[c.id for c in MIXED])
def test_exported_tb_reads_per_layer_widths(case, tmp_path):
    """The exported testbench (tb/run.py, cocotb only) on designs whose layers differ in h/c widths."""
    import subprocess
    import sys

    out, _ = _export(case, tmp_path)
    r = subprocess.run([sys.executable, str(out / "tb" / "run.py"), "--simulator", "icarus"], capture_output=True,
                       text=True, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("PASS (icarus)"), r.stdout + r.stderr[-2000:]


#: Variable-length sequences: the full length, one step, and lengths in between, in no order.
LENGTHS = [5, 1, 3, 2, 5]
LENGTH_CASES = [SWEEP[0], SWEEP[3], SWEEP[9]]  # GRU with a head, 2-layer GRU without, 2-layer LSTM with


@pytest.mark.parametrize("simulator", ["icarus", pytest.param("verilator", marks=needs_verilator)])
@pytest.mark.parametrize("case", LENGTH_CASES, ids=[c.id for c in LENGTH_CASES])
def test_variable_length_sequences_match_simulator(case, simulator, tmp_path):
    """Each sequence goes through the stream with its own steps and tlast (docs/datapath.md,
    "Variable-length sequences"): every state, output beat and cycle count matches."""
    import numpy as np

    from hwsim.hdl._cosim import cosim

    out, plan = _export(case, tmp_path)
    x = random_x(case, plan, sequences=len(LENGTHS), steps=max(LENGTHS))
    rep = cosim(out, x, build_dir=tmp_path / "build", stall_in=40, stall_out=80, seed=case.seed + 1,
                simulator=simulator, lengths=np.array(LENGTHS), chunk=3)  # chunks of unequal total steps
    assert rep.steps == sum(LENGTHS)
    _assert_clean(rep, case)


def _row_shifts(plan) -> list[int]:
    rows = [a.shifts() for lp in plan.layers for a in lp.accums] + ([plan.head.shifts()] if plan.head is not None else [])
    return sorted({int(e) for r in rows for e in r})


@pytest.mark.parametrize("simulator", ["icarus", pytest.param("verilator", marks=needs_verilator)])
@pytest.mark.parametrize("case", ROW, ids=[c.id for c in ROW])
def test_row_scaled_design_matches_simulator(case, simulator, tmp_path):
    """Per-row weight scales: the shift ROMs read back into the plan, and the RTL's per-row shift in
    the requant path gives every h, c and head output of the simulator (and so of the naive twin)."""
    from hwsim.hdl._cosim import cosim

    out, plan = _export(case, tmp_path)
    shifts = _row_shifts(plan)
    assert plan.row_scaled and shifts[0] == 0 and shifts[-1] >= case.row_spread  # rows really differ
    x = random_x(case, plan, sequences=3, steps=4)
    rep = cosim(out, x, build_dir=tmp_path / "build", stall_in=40, stall_out=80, seed=case.seed + 1, simulator=simulator)
    assert rep.simulator == simulator
    _assert_clean(rep, case)


@pytest.mark.parametrize("case", ROW[:2], ids=[c.id for c in ROW[:2]])
def test_exported_tb_passes_on_row_scaled_designs(case, tmp_path):
    """The exported testbench (tb/run.py, cocotb only) on a design with per-row shift ROMs."""
    import subprocess
    import sys

    out, _ = _export(case, tmp_path)
    r = subprocess.run([sys.executable, str(out / "tb" / "run.py"), "--simulator", "icarus"], capture_output=True,
                       text=True, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("PASS (icarus)"), r.stdout + r.stderr[-2000:]
