"""Hypothesis profiles for the datapath tests, chosen by the HYPOTHESIS_PROFILE environment variable.

``default``: the full run (the kernel-vs-twin equality tests reach >= 10**4 cases in all).
``nojit``: a few cases per test, for ``NUMBA_DISABLE_JIT=1`` runs where the kernels are Python.
Tests scale their own ``max_examples`` from the loaded profile's (``naive.examples``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], derandomize=False)
settings.register_profile("default", max_examples=100, **_COMMON)
settings.register_profile("nojit", max_examples=3, **_COMMON)
_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "default")
if _PROFILE in ("default", "nojit"):  # another conftest may own other profile names
    settings.load_profile(_PROFILE)
