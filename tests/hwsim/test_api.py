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


def test_no_subpackage_shadows_a_public_name():
    """Importing a sub-package binds it as an attribute of hwsim: none may share a public name
    (a package ``hwsim/train/`` would replace the function ``hwsim.train`` once imported)."""
    import importlib
    import pkgutil
    import types

    for info in pkgutil.iter_modules(hwsim.__path__):
        if info.name == "__main__":
            continue
        importlib.import_module(f"hwsim.{info.name}")
        assert info.name not in hwsim.__all__, info.name
    for name in hwsim.__all__:
        assert not isinstance(getattr(hwsim, name), types.ModuleType), name
