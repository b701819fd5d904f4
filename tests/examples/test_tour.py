"""The README's five-minute tour runs as written, in order (with smaller sizes so it takes seconds).

The commands are read from README.md itself, so the page and this test cannot drift apart. Sizes
are shrunk by appending options (later options win in click): fewer epochs and sequences. Every
command must exit 0; synthesis and the sweep are only parsed here (tests/export/test_synth.py
runs yosys, tests/hwsim/sweep the shipped sweep example).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

from hwsim.cli import main

ROOT = Path(__file__).resolve().parents[2]

#: Options appended to make each command small; later options override the README's values.
SMALLER = {
    "train": ["--epochs", "1", "--limit", "200", "--eval-limit", "100", "--quiet"],
    "check": ["--limit", "40"],
    "cosim": ["--sequences", "2"],
}


def tour_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## A five-minute tour\n.*?```sh\n(.*?)```", text, re.S).group(1)
    block = block.replace("\\\n", " ")
    cmds = []
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            cmds.append(shlex.split(line))
    return cmds


def test_tour_is_what_this_test_expects():
    cmds = tour_commands()
    assert cmds[0] == ["source", ".venv/bin/activate"] and cmds[1][:2] == ["pip", "install"]
    names = [c[1] for c in cmds[2:]]
    assert names == ["train", "quantize", "check", "check", "export", "cosim", "synth", "sweep", "check"]
    outputs = [c[c.index("-o") + 1] for c in cmds if "-o" in c]
    assert len(outputs) == len(set(outputs))  # no command overwrites another's output
    for c in cmds[2:]:  # every option exists (synth included, which runs elsewhere)
        cmd = main.get_command(None, c[1])
        cmd.make_context(c[1], c[2:], parent=click.Context(main))


@pytest.mark.torch
@pytest.mark.rtl
def test_tour_runs_in_order(tmp_path):
    pytest.importorskip("torch")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    for c in tour_commands()[2:]:
        if c[1] in ("synth", "sweep"):  # tests/export/test_synth.py and tests/hwsim/sweep run these
            continue
        argv = [sys.executable, "-m", "hwsim", *c[1:], *SMALLER.get(c[1], [])]
        proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, f"{shlex.join(c)}:\n{proc.stdout}\n{proc.stderr}"
        if c[1] == "check" and "--float-model" in c:
            assert re.search(r"^accuracy\s+\d\.\d{4}\s+\d\.\d{4}\s+\d\.\d{4}$", proc.stdout, re.M)  # float column filled
        if c[1] == "cosim":
            assert "mismatches 0" in proc.stdout
    for f in ("gru.safetensors", "gru.float.safetensors", "gru.json", "gru_pow2.safetensors",
              "build/report/index.html", "build/gru/manifest.json", "widths.toml"):
        assert (tmp_path / f).is_file(), f
