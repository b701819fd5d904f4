"""The export's FuseSoC core (DIR/<top>.core): FuseSoC + Edalize build and run its targets with
the open tools here, and the sim target's record equals the golden vectors exactly."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.rtl

FUSESOC = [sys.executable, "-m", "fusesoc.main"]


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    from helpers import make_model

    from hwsim.export import write_export
    from hwsim.model._quant import quantize_model

    out = tmp_path_factory.mktemp("core") / "design"
    q = quantize_model(make_model("gru", 3, 4, 2, 3, seed=5), "ternary")
    write_export(q, out, formats=("hex",), top_name="gru_top")
    return out


def _fusesoc(export_dir: Path, target: str, build: Path) -> subprocess.CompletedProcess:
    cmd = [*FUSESOC, "--cores-root", str(export_dir), "run", "--build-root", str(build), "--target", target,
           "hwsim:export:gru_top:" + json.loads((export_dir / "manifest.json").read_text())["tool"]["version"]]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1200)


def test_the_core_is_listed_and_hashed(export_dir):
    man = json.loads((export_dir / "manifest.json").read_text())
    assert man["rtl"]["core"] == "gru_top.core" and "gru_top.core" in man["files"]
    text = (export_dir / "gru_top.core").read_text()
    assert text.startswith("CAPI=2:\n") and 'name: "hwsim:export:gru_top:' in text
    for rel in man["rtl"]["files"]:
        assert f'"{rel}"' in text


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
def test_sim_target_reproduces_the_golden_vectors(export_dir, tmp_path):
    r = _fusesoc(export_dir, "sim", tmp_path / "b")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    record = next((tmp_path / "b").rglob("record.txt"))
    spec = importlib.util.spec_from_file_location("exported_tb", export_dir / "tb" / "hwsim_tb.py")
    tb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tb)  # the export's own checker: the comparison cocotb runs
    g = json.loads((export_dir / "tb" / "golden.json").read_text())
    got = tb.read_record(record.read_text(), g)
    exp = tb.read_record((export_dir / "tb" / "expected.txt").read_text(), g)
    assert len(got["steps"]) == g["sequences"] * g["steps"] and got["beats"]
    assert tb.mismatches(got, exp, g) == []
    # and it can fail: one step's state changed
    line = next(i for i, ln in enumerate(record.read_text().splitlines()) if ln.startswith("S "))
    lines = record.read_text().splitlines()
    f = lines[line].split()
    f[2] = format(int(f[2], 16) ^ 1, f"0{len(f[2])}x")
    lines[line] = " ".join(f)
    assert tb.mismatches(tb.read_record("\n".join(lines), g), exp, g)


@pytest.mark.skipif(shutil.which("verilator") is None, reason="needs Verilator")
def test_lint_target_runs_verilator(export_dir, tmp_path):
    r = _fusesoc(export_dir, "lint", tmp_path / "b")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert any(p.name == "lint-verilator" for p in (tmp_path / "b").rglob("*"))
    # and it can fail: a copy of the export with a broken RTL file
    bad = tmp_path / "bad"
    shutil.copytree(export_dir, bad)
    with open(bad / "rtl" / "gru_top.v", "a") as fh:
        fh.write("\nmodule broken(input a; endmodule\n")
    r = _fusesoc(bad, "lint", tmp_path / "b2")
    assert r.returncode != 0


@pytest.mark.skipif(shutil.which("yosys") is None, reason="needs yosys")
def test_synth_target_runs_yosys(export_dir, tmp_path):
    r = _fusesoc(export_dir, "synth", tmp_path / "b")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    netlist = next((tmp_path / "b").rglob("*.json"))
    cells = json.loads(netlist.read_text())["modules"]["gru_top"]["cells"]
    assert any(c["type"] == "SB_LUT4" for c in cells.values())
