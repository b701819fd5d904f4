"""Shared fixtures. tests/ goes on sys.path so test modules can ``from helpers import ...``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import hwsim  # noqa: F401  first: with tests/ on sys.path, tests/hwsim/ must not stand in for the package

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

import helpers  # noqa: E402


@pytest.fixture
def make_model():
    """The ``helpers.make_model`` factory: ``make_model(cell, input_size, hidden, layers, classes, seed)``."""
    return helpers.make_model


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With HWSIM_NO_SKIPS=1 (set by scripts/test.sh, so in CI) a skipped test fails instead.

    Skips exist for machines without Icarus, yosys, Verilator or PyTorch; where the README's test
    command has installed all of them, a skip can only mean something is broken.
    """
    outcome = yield
    rep = outcome.get_result()
    if os.environ.get("HWSIM_NO_SKIPS") == "1" and rep.skipped and not hasattr(rep, "wasxfail"):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = f"skipped, but HWSIM_NO_SKIPS=1 requires every test to run: {reason}"
