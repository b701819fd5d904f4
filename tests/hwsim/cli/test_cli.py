"""The command-line shell: one-line usage errors with exit status 2, help, version."""

import re
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from hwsim import __version__
from hwsim.cli import COMMANDS, main


@pytest.mark.parametrize(
    "args, message",
    [
        (["nosuch"], r"^Error: No such command 'nosuch'\.$"),
        (["quantize", "m.safetensors", "-o", "q.safetensors", "--method", "foo"],
         r"^Error: Invalid value for '--method': 'foo' is not one of 'binary', .*'uniform'\.$"),
        (["demo", "--bogus"], r"^Error: No such option '--bogus'\.$"),
        (["check"], r"^Error: Missing argument 'QMODEL'\.$"),
        # click prints a missing Choice option's values one per line; hwsim keeps it to one line
        (["quantize", "m.safetensors", "-o", "q.safetensors"],
         r"^Error: Missing option '--method'\. Choose from: binary, binary-stoch, .*, uniform$"),
        (["synth", "dir"], r"^Error: Missing option '--target'\. Choose from: ice40, ecp5, xilinx$"),
    ],
)
def test_usage_errors_are_one_line_with_status_2(args, message):
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1, res.output
    assert re.match(message, lines[0]), lines[0]


def test_help_lists_every_command_and_version_prints():
    res = CliRunner().invoke(main, ["--help"])
    assert res.exit_code == 0
    for name in COMMANDS:
        assert f"  {name} " in res.output
    res = CliRunner().invoke(main, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"hwsim, version {__version__}"


def test_installed_entry_point_gives_one_line_and_status_2():
    proc = subprocess.run(
        [sys.executable, "-m", "hwsim.cli", "export", "missing.safetensors", "-o", "out", "--word-bits", "33"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("Error: ")
    assert "Traceback" not in proc.stderr


def test_generated_docs_match_the_code():
    """docs/cli.md and docs/python_api.md are generated; a stale copy fails here, not in review."""
    from pathlib import Path

    script = Path(__file__).resolve().parents[3] / "scripts" / "gen_cli_docs.py"
    proc = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_shared_options_follow_the_library():
    from hwsim.data._datasets import SPLITS
    from hwsim.model._model import CELL_GATES

    for name in ("check", "infer"):
        cmd = main.get_command(None, name)
        params = {p.name: p for p in cmd.params}
        assert tuple(params["split"].type.choices) == SPLITS
    for name in ("check", "infer", "quantize", "export", "train"):  # one --cell vocabulary, rnn an alias
        params = {p.name: p for p in main.get_command(None, name).params}
        assert tuple(params["cell"].type.choices) == (*CELL_GATES, "rnn"), name
        assert params["cell"].process_value(click.Context(main), "rnn") == "rnn_tanh"
