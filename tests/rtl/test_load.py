"""Run-time weights (issue #22): one RTL build of an export with ``weights = "runtime"``, a second
model of the same shape and contract loaded through the load port, every output compared with the
simulator of that second model; wrong images refused by load_err (cocotb)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cases import Case, random_x
from rtl_util import needs_icarus, needs_verilator

pytestmark = [pytest.mark.rtl, needs_icarus]

LOAD = [
    Case("gru", "ternary", inputs=3, hidden=5, layers=2, classes=3, lanes=2, rows=3, gain=4.0),
    Case("lstm", "exp", bits=4, word_bits=16, lanes=4, rows=5, hidden=7, classes=2, gain=4.0),
    Case("rnn_tanh", "binary", word_bits=8, inputs=2, hidden=3, classes=None, gain=2.0),
]


def other_model(case: Case):
    """A second model of the case's shape with the same weight scales and other codes: every weight
    and bias negated, the input columns rotated (each tensor's largest magnitude is unchanged)."""
    import helpers
    from hwsim.model._model import Head
    from hwsim.model._quant import quantize_model

    m = helpers.make_model(case.cell, case.inputs, case.hidden, case.layers, case.classes, case.seed, bias=case.bias)
    g = case.gain

    def neg(b):
        return None if b is None else -b

    m = dataclasses.replace(
        m,
        layers=tuple(dataclasses.replace(l, w_ih=-np.roll(l.w_ih, 1, axis=1) * g, w_hh=-l.w_hh * g, b_ih=neg(l.b_ih),
                                         b_hh=neg(l.b_hh)) for l in m.layers),
        head=None if m.head is None else Head(-m.head.weight * g, neg(m.head.bias)),
    )
    return quantize_model(m, case.method, bits=case.bits, **case.quant_kw)


def _export(case: Case, tmp_path):
    from hwsim.export import write_export

    out = tmp_path / "export"
    write_export(case.model(), out, case.config().replace(weights="runtime"), formats=("hex",))
    return out


@pytest.mark.parametrize("case", LOAD, ids=[c.id for c in LOAD])
def test_loaded_weights_match_their_simulator(case, tmp_path):
    from hwsim.datapath._plan import lower
    from hwsim.hdl._cosim import cosim, plan_from_export

    out = _export(case, tmp_path)
    plan, _ = plan_from_export(out)
    other = other_model(case)
    # the second model really differs from the export's ROM contents
    assert not all(np.array_equal(a.m, b.m) for la, lb in zip(plan.layers, lower(other, plan.config).layers)
                   for a, b in zip(la.accums, lb.accums))
    x = random_x(case, plan, sequences=3, steps=4)
    rep = cosim(out, x, build_dir=tmp_path / "build", stall_in=40, stall_out=80, seed=3, simulator="icarus",
                load_model=other)
    assert rep.first_mismatch is None, rep.first_mismatch
    assert rep.mismatches == 0 and rep.cycles_per_step == rep.model_cycles_per_step
    assert rep.head_cycles == rep.model_head_cycles and rep.saturations == rep.model_saturations
    # and the same build without the load would not match the second model: the load did something
    base = cosim(out, x, build_dir=tmp_path / "build0", simulator="icarus")
    assert base.mismatches == 0
    from hwsim.sim._sim import simulate

    assert not np.array_equal(simulate(plan, x).h_int, simulate(lower(other, plan.config), x).h_int)


@needs_verilator
def test_loaded_weights_match_on_verilator(tmp_path):
    from hwsim.hdl._cosim import cosim, plan_from_export

    case = LOAD[0]
    out = _export(case, tmp_path)
    plan, _ = plan_from_export(out)
    x = random_x(case, plan, sequences=2, steps=3)
    rep = cosim(out, x, build_dir=tmp_path / "build", simulator="verilator", load_model=other_model(case))
    assert rep.simulator == "verilator"
    assert rep.first_mismatch is None and rep.mismatches == 0, rep.first_mismatch


@pytest.mark.parametrize("case", LOAD[:2], ids=[c.id for c in LOAD[:2]])
def test_load_port_refuses_bad_images(case, tmp_path):
    """cocotb: a wrong header leaves the weights (load_ok 1, load_err 1); a corrupt or short body sets
    load_err and drops load_ok, and no step starts; then the good image loads and the outputs are
    the second model's, bit for bit."""
    import json
    import os

    from cocotb_tools.runner import get_results, get_runner

    from hwsim.datapath._plan import lower
    from hwsim.export import load_image
    from hwsim.hdl._cosim import plan_from_export
    from hwsim.sim._sim import simulate
    from rtl_util import TB_DIR

    out = _export(case, tmp_path)
    plan, man = plan_from_export(out)
    other = other_model(case)
    oplan = lower(other, plan.config)
    x = random_x(case, plan, sequences=2, steps=3)
    sim = simulate(oplan, x)
    image = load_image(other, plan.config)
    np.savez(tmp_path / "case.npz", good=np.frombuffer(image, dtype=np.uint8), x=x, h=sim.h_int,
             y=sim.y_int if sim.y_int is not None else np.zeros((2, 0)))
    top = man["rtl"]["top"]
    runner = get_runner("icarus")
    build = tmp_path / "build"
    runner.build(sources=[str(out / r) for r in man["rtl"]["files"]], hdl_toplevel=top, build_dir=str(build),
                 parameters={"ROM_DIR": f'"{out / "rom"}"'}, always=True, timescale=("1ns", "1ps"),
                 log_file=str(build / "build.log"))
    xml = runner.test(test_module="tb_load", hdl_toplevel=top, hdl_toplevel_lang="verilog",
                      build_dir=str(build), test_dir=str(build), log_file=str(build / "sim.log"),
                      extra_env={"HWSIM_LOAD_CASE": str(tmp_path / "case.npz"),
                                 "PYTHONPATH": os.pathsep.join([str(TB_DIR), os.environ.get("PYTHONPATH", "")])})
    tests, fails = get_results(xml)
    assert tests == 1 and fails == 0, f"see {build / 'sim.log'}"
    assert json.loads((out / "manifest.json").read_text())["runtime"]["image"] == "rom/weights.bin"
