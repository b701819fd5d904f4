"""``hwsim demo`` and the flow behind it, on the shipped default model."""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest
from click.testing import CliRunner

from hwsim.flow import _demo
from hwsim.cli import main


def _imgs(html: str) -> int:
    return len(re.findall(r'<img [^>]*src="data:image/png;base64,', html))


def _run(args):
    return CliRunner().invoke(main, ["demo", *args], catch_exceptions=False)


def test_demo_fast_path_writes_export_report_and_summary(tmp_path):
    out = tmp_path / "demo"
    r = _run(["-o", str(out), "--no-synth", "--no-cosim", "-q"])
    assert r.exit_code == 0, r.output
    assert (out / "export" / "manifest.json").is_file()
    html = (out / "report" / "index.html").read_text(encoding="utf-8")
    assert _imgs(html) >= 3  # drift, weight codes, saturation (and error per gate when the check gives it)
    summary = json.loads((out / "summary.json").read_text())
    check = summary["check"]
    assert check["metric"] == "accuracy"
    # the shipped model is trained: it must beat chance (10 classes) by far in fixed point
    assert check["fixed_metric"] > 0.8
    assert summary["cosim"] == {"skipped": True, "reason": "not requested (--no-cosim)"}
    assert summary["synth"] == {}
    assert "accuracy, fixed point" in r.output and str(out / "report" / "index.html") in r.output
    # the fast folding's cycles beside the smallest one's, from the cycle model
    from hwsim.datapath._plan import lower
    from hwsim.datapath._config import DatapathConfig
    from hwsim.datapath._schedule import cycles_per_step
    from hwsim.flow._demo import load_default

    qmodel = load_default()[0]
    want = {k: cycles_per_step(lower(qmodel, DatapathConfig(rows=a, lanes=b, pointwise_units=c)))["step"]
            for k, (a, b, c) in {"1x1x1": (1, 1, 1), "8x8x4": (8, 8, 4)}.items()}
    assert summary["foldings"] == want and want["8x8x4"] < want["1x1x1"]
    assert f"1x1x1: {want['1x1x1']}, 8x8x4: {want['8x8x4']}" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]  # no temporary left behind
    mask = os.umask(0o022)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~mask  # not mkdtemp's private 0700

    # a rerun replaces the directory a previous demo wrote, without --force (an edited file of its
    # own and a build product included; a file of the user's would be refused: tests/hostile)
    (out / "summary.json").write_text("x")
    (out / "export" / "tb" / "sim_build").mkdir(parents=True)
    (out / "export" / "tb" / "sim_build" / "stale").write_text("x")
    r = _run(["-o", str(out), "--no-synth", "--no-cosim", "-q", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["report"] == str(out / "report" / "index.html")
    assert json.loads((out / "summary.json").read_text())["check"]["metric"] == "accuracy"
    assert not (out / "export" / "tb" / "sim_build").exists()


def test_demo_refuses_a_foreign_directory_even_with_force(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("keep me")
    for force in ([], ["--force"]):
        r = CliRunner().invoke(main, ["demo", "-o", str(out), "--no-synth", "--no-cosim", "-q", *force])
        assert r.exit_code == 2
        assert re.fullmatch(
            r"Error: output directory .*mine holds files hwsim did not write \(no \.hwsim-output\); hwsim replaces "
            r"only its own output, --force included: remove it or choose another directory\n",
            r.output,
        )
        assert os.listdir(out) == ["thesis.tex"] and (out / "thesis.tex").read_text() == "keep me"


def test_demo_rejects_a_bad_target():
    r = CliRunner().invoke(main, ["demo", "--target", "stratix"])
    assert r.exit_code == 2 and "'stratix' is not one of" in r.output


def test_missing_tools_are_skipped_with_a_hint(tmp_path, monkeypatch):
    monkeypatch.setattr(_demo, "_have", lambda tool: False)
    monkeypatch.setattr(_demo, "_export", lambda q, out, cfg: _real_export(q, out, cfg) or True)
    res = _demo.run_demo(tmp_path / "d", synth_targets=("ice40",), progress=False, log=lambda s: None)
    assert res.exit_code == 0
    assert res.cosim == {"skipped": True, "reason": "Icarus Verilog not found"}
    assert res.synth == {"ice40": {"skipped": True, "reason": "yosys not found"}}
    assert any("apt-get install iverilog" in h for h in res.hints)
    assert any("apt-get install yosys" in h for h in res.hints)
    html = res.report.read_text(encoding="utf-8")
    assert "Icarus Verilog not found" in html and "apt-get install yosys" in html


_real_export = _demo._export


def test_a_cosim_mismatch_gives_exit_status_1(tmp_path, monkeypatch):
    bad = {"sequences": 2, "steps": 16, "mismatches": 3, "cycles_per_step": 10, "model_cycles_per_step": 10,
           "first_mismatch": {"sequence": 0, "timestep": 5, "node": "h", "expected": 7, "actual": 8}}
    monkeypatch.setattr(_demo, "_have", lambda tool: True)
    monkeypatch.setattr(_demo, "_export", lambda q, out, cfg: _real_export(q, out, cfg) or True)
    monkeypatch.setattr(_demo, "_cosim", lambda d, ds, n, cfg: dict(bad))
    r = _run(["-o", str(tmp_path / "d"), "--no-synth", "-q"])
    assert r.exit_code == 1
    assert "FAIL, 3 mismatches" in r.output
    assert "3 mismatches" in (tmp_path / "d" / "report" / "index.html").read_text(encoding="utf-8")


def test_flow_rejects_bad_arguments_before_writing(tmp_path):
    q, data, _ = _demo.load_default()
    from hwsim.data._datasets import load_data

    ds = load_data(data, split="test").head(4)
    with pytest.raises(_demo.HwsimError, match=r"^synthesis target must be one of ice40, ecp5, xilinx, not 'asic'$"):
        _demo.run_flow(q, ds, tmp_path / "x", synth_targets=("asic",), progress=False)
    with pytest.raises(_demo.HwsimError, match=r"^co-simulation needs at least 1 sequence, not 0$"):
        _demo.run_flow(q, ds, tmp_path / "x", cosim_sequences=0, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.rtl
@pytest.mark.skipif(shutil.which("iverilog") is None or shutil.which("yosys") is None, reason="needs iverilog and yosys")
def test_demo_full_flow_is_bit_exact_and_synthesizes(tmp_path):
    out = tmp_path / "full"
    r = _run(["-o", str(out), "--sequences", "4", "-q"])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "summary.json").read_text())
    assert s["cosim"].get("skipped") is None, s["cosim"]
    assert s["cosim"]["mismatches"] == 0 and s["cosim"]["sequences"] == 4
    assert s["cosim"]["cycles_per_step"] == s["cosim"]["model_cycles_per_step"]
    ice = s["synth"]["ice40"]
    assert ice.get("skipped") is None, ice
    assert ice["luts"] > 0
    assert ice["weight_multipliers"] == 0  # ternary weights: shifts and adds, no multiplier for weight products
    html = (out / "report" / "index.html").read_text(encoding="utf-8")
    assert "bit-exact" in html and "Resources (yosys)" in html
