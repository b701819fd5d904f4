"""The promise for bad input, stated once: exit status 2, one ``Error:`` line, no traceback, and no
file created, changed or removed."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from click.testing import CliRunner

from hwsim.cli import main


def snapshot(root: Path) -> dict[str, tuple[str, str]]:
    """Every entry under ``root`` (hidden ones too): relative path -> (kind, content hash)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            p = Path(dirpath, d)
            out[p.relative_to(root).as_posix()] = ("dir", "")
        for f in filenames:
            p = Path(dirpath, f)
            out[p.relative_to(root).as_posix()] = ("file", hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def run(*args, cwd: Path | None = None):
    """``hwsim ARGS`` in process (click's CliRunner), optionally from ``cwd``."""
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(main, [str(a) for a in args])
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(main, [str(a) for a in args])
    finally:
        os.chdir(old)


def refused(r, pattern: str = "") -> str:
    """Assert the promise for bad input: exit 2, exactly one line, ``Error: ...``, no traceback."""
    text = r.output
    assert r.exit_code == 2, f"exit {r.exit_code}: {text!r} {r.exception!r}"
    assert isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in text
    lines = text.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), text
    if pattern:
        assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


def refused_untouched(root: Path, *args, pattern: str = "", cwd: Path | None = None) -> str:
    """Run, assert ``refused``, and assert nothing under ``root`` was created, changed or removed."""
    before = snapshot(root)
    line = refused(run(*args, cwd=cwd), pattern)
    assert snapshot(root) == before
    return line
