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

    for name in ("check", "infer", "report", "sweep"):
        cmd = main.get_command(None, name)
        params = {p.name: p for p in cmd.params}
        assert tuple(params["split"].type.choices) == SPLITS
    for name in ("check", "infer", "quantize", "export", "train"):  # one --cell vocabulary, rnn an alias
        params = {p.name: p for p in main.get_command(None, name).params}
        assert tuple(params["cell"].type.choices) == (*CELL_GATES, "rnn"), name
        assert params["cell"].process_value(click.Context(main), "rnn") == "rnn_tanh"


DEFAULT_MODEL = "hwsim/data/default_gru.safetensors"


@pytest.mark.parametrize("command", ["check", "infer", "report", "sweep"])
def test_split_of_a_one_set_file_is_refused_in_every_command(tmp_path, command):
    """--split on a file that holds no parts is one line and exit 2, never silently the whole file (issue 24)."""
    from pathlib import Path

    import numpy as np

    data = tmp_path / "one.npz"
    np.savez(data, x=np.zeros((4, 8, 8), np.float32), y=np.arange(4))
    model = str(Path(__file__).resolve().parents[3] / DEFAULT_MODEL)
    out = {"check": [], "infer": ["-o", str(tmp_path / "o.npz")], "report": ["-o", str(tmp_path / "r")],
           "sweep": ["--grid", str(tmp_path / "g.toml"), "-o", str(tmp_path / "s")]}[command]
    (tmp_path / "g.toml").write_text("[axes]\nbits = [8]\n")
    res = CliRunner().invoke(main, [command, model, "--data", str(data), "--split", "test", *out])
    assert res.exit_code == 2
    assert re.fullmatch(
        r"Error: .*one\.npz holds one set \('x'\), not per-split arrays \(x_train, x_valid, x_test\): split 'test' "
        r"cannot be chosen; leave the split out to use the whole file, or store its parts as x_<split>, y_<split>\n",
        res.output), res.output
    assert not (tmp_path / "o.npz").exists() and not (tmp_path / "r").exists() and not (tmp_path / "s").exists()


@pytest.mark.parametrize("command", ["check", "train"])
def test_bad_regression_targets_are_one_line(tmp_path, command):
    """NaN targets and targets shaped unlike x: one line and exit 2 (issue 24)."""
    from pathlib import Path

    import numpy as np

    model = str(Path(__file__).resolve().parents[3] / DEFAULT_MODEL)
    y = np.ones(6)
    y[3] = np.nan
    for name, target, message in [("nan.npz", y, r"'y' holds 1 NaN/Inf values as float32; regression targets must be finite"),
                                  ("shape.npz", np.ones((6, 5, 2)), r"'y' float targets must have shape \(6,\) or \(6, D\) ")]:
        data = tmp_path / name
        np.savez(data, x=np.zeros((6, 8, 8), np.float32), y=target)
        args = [model, "--data", str(data)] if command == "check" else ["--data", str(data), "-o", str(tmp_path / "m.npz")]
        res = CliRunner().invoke(main, [command, *args])
        assert res.exit_code == 2 and res.output.count("\n") == 1, res.output
        assert re.match(rf"^Error: .*{re.escape(name)}: {message}", res.output), res.output
