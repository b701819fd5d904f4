"""Shared fixtures. tests/ goes on sys.path so test modules can ``from helpers import ...``."""

from __future__ import annotations

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
