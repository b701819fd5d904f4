"""Shared fixtures. tests/ goes on sys.path so test modules can ``from helpers import ...``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import hwsim  # noqa: F401  first: with tests/ on sys.path, tests/hwsim/ must not stand in for the package

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

import helpers  # noqa: E402

# -- Hypothesis profiles, chosen by the HYPOTHESIS_PROFILE environment variable ----------------------
#
# ``default``: the full run (the kernel-vs-twin equality tests reach >= 10**4 cases in all).
# ``nojit``: a few cases per test, for ``NUMBA_DISABLE_JIT=1`` runs where the kernels are Python.
# ``explore``: like ``default`` but random, with hypothesis's example database: for a developer
# hunting new counterexamples, never for CI.
# Tests scale their own ``max_examples`` from the loaded profile's (``naive.examples``).
#
# ``default`` and ``nojit`` are derandomized and keep no example database, so a run is the same on
# every machine and a failure found once is not replayed from ``.hypothesis/`` forever after: the
# suite passes or fails on the code, never on the seed.
_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("default", max_examples=100, derandomize=True, database=None, **_COMMON)
settings.register_profile("nojit", max_examples=3, derandomize=True, database=None, **_COMMON)
settings.register_profile("explore", max_examples=100, derandomize=False, **_COMMON)
_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
settings.load_profile(_PROFILE)


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
