"""``hwsim cosim``: exit codes and the report (needs Icarus for the run itself)."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from hwsim.cli import main


@pytest.fixture
def export_dir(make_model, tmp_path):
    from hwsim._quant import quantize_model
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
