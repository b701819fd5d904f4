"""``hwsim cosim``: exit codes and the report (needs Icarus for the run itself)."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from click.testing import CliRunner

from hwsim.cli import main


@pytest.fixture
def export_dir(make_model, tmp_path):
    from hwsim.model._quant import quantize_model
    from hwsim.export import write_export

    out = tmp_path / "exp"
    write_export(quantize_model(make_model("gru", 2, 3, 1, 2), "ternary"), out, formats=("hex",))
    return out


@pytest.mark.rtl
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
def test_cosim_json_report(export_dir):
    r = CliRunner().invoke(main, ["cosim", str(export_dir), "--random", "3", "--steps", "2", "--json", "--stall", "30"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["sequences"] == 3 and d["steps"] == 6 and d["mismatches"] == 0 and d["first_mismatch"] is None
    assert d["cycles_per_step"] == d["model_cycles_per_step"]


def test_cosim_bad_input_exits_2(export_dir, tmp_path):
    r = CliRunner().invoke(main, ["cosim", str(tmp_path / "missing")])
    assert r.exit_code == 2 and r.output.startswith("Error: export directory must exist")
    r = CliRunner().invoke(main, ["cosim", str(export_dir), "--random", "2", "--data", "digits"])
    assert r.exit_code == 2 and "give --data or --random, not both" in r.output


def test_cosim_refuses_a_changed_export(export_dir):
    (export_dir / "rtl" / "hwsim_lane.v").write_text("// changed\n")
    r = CliRunner().invoke(main, ["cosim", str(export_dir), "--random", "1"])
    assert r.exit_code == 2 and "SHA-256 must match the manifest" in r.output


def _junit(path):
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    case = suite.find("testcase")
    return suite, case


def _edited_rtl(export_dir, tmp_path):
    """A user's copy of the RTL with one rounding changed (half_up becomes floor in every requant)."""
    mine = tmp_path / "myrtl"
    shutil.copytree(export_dir / "rtl", mine)
    req = mine / "hwsim_requant.v"
    req.write_text("`define HWSIM_FAULT_ROUNDING\n" + req.read_text())
    return mine


@pytest.mark.rtl
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
def test_cosim_junit_verdict_follows_the_comparison(export_dir, tmp_path):
    ok_xml, bad_xml = tmp_path / "ok.xml", tmp_path / "bad.xml"
    r = CliRunner().invoke(main, ["cosim", str(export_dir), "--random", "2", "--steps", "2", "--simulator", "icarus",
                                  "--junit", str(ok_xml)])
    assert r.exit_code == 0, r.output
    suite, case = _junit(ok_xml)
    assert suite.get("failures") == "0" and suite.get("errors") == "0" and case.find("failure") is None
    # the same design with edited RTL: the run says the hashes do not apply, and the verdict fails
    mine = _edited_rtl(export_dir, tmp_path)
    r = CliRunner().invoke(main, ["cosim", str(export_dir), "--random", "2", "--steps", "2", "--simulator", "icarus",
                                  "--rtl-dir", str(mine), "--junit", str(bad_xml)])
    assert r.exit_code == 1, r.output
    assert "the manifest's hashes do not apply" in r.output
    assert "first mismatch:" in r.output
    suite, case = _junit(bad_xml)
    assert suite.get("failures") == "1"
    fail = case.find("failure")
    assert fail is not None
    assert re.match(r"\d+ mismatches; first: \{'sequence': 0, 'step': 0, 'node': 'l0.h'", fail.get("message"))


def test_cosim_junit_records_an_error(export_dir, tmp_path):
    """A run that cannot happen (a missing RTL directory) exits 2 and the JUnit file holds an error."""
    xml = tmp_path / "err.xml"
    r = CliRunner().invoke(main, ["cosim", str(export_dir), "--rtl-dir", str(tmp_path / "nope"), "--junit", str(xml)])
    assert r.exit_code == 2 and r.output.startswith("Error: RTL directory must exist"), r.output
    suite, case = _junit(xml)
    assert suite.get("errors") == "1" and case.find("error") is not None


def test_cosim_option_errors(export_dir, tmp_path):
    r = CliRunner().invoke(main, ["cosim", str(export_dir), "--target", "ice40"])
    assert r.exit_code == 2 and "--target applies to --netlist only" in r.output
    r = CliRunner().invoke(main, ["cosim", str(export_dir), "--simulator", "modelsim"])
    assert r.exit_code == 2 and "'modelsim' is not one of 'icarus', 'verilator'" in r.output
    r = CliRunner().invoke(main, ["cosim", str(export_dir), "--junit", str(tmp_path / "no" / "x.xml")])
    assert r.exit_code == 2 and r.output.startswith("Error: JUnit file's directory must exist")


def test_cosim_rtl_dir_still_checks_the_roms(export_dir, tmp_path):
    """--rtl-dir lifts the hash check from rtl/ only: a changed ROM is still refused."""
    mine = tmp_path / "myrtl"
    shutil.copytree(export_dir / "rtl", mine)
    (export_dir / "rtl" / "hwsim_lane.v").write_text("// changed\n")  # ignored with --rtl-dir
    rom = export_dir / "rom" / "l0_weights.hex"
    rom.write_text(rom.read_text() + "\n")
    r = CliRunner().invoke(main, ["cosim", str(export_dir), "--rtl-dir", str(mine), "--random", "1"])
    assert r.exit_code == 2 and "rom/l0_weights.hex: SHA-256 must match the manifest" in r.output, r.output
