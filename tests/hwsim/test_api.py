"""The public API: every name in hwsim.__all__ resolves, and importing hwsim stays light."""

import subprocess
import sys

import hwsim


def test_every_public_name_resolves():
    for name in hwsim.__all__:
        assert getattr(hwsim, name) is not None, name


def test_import_does_not_start_numba_or_torch():
    code = "import sys, hwsim, hwsim.cli; print('numba' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
