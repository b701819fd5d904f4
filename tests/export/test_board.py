"""``hwsim board`` (export/_board.py): PLL settings, pins, the generated board top (lint-clean),
the bad-input paths, and -- slow -- real bitstreams of the demo at the smallest folding."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from hwsim._errors import FormatError
from hwsim.cli import main
from hwsim.datapath._config import DatapathConfig
from hwsim.export import write_export
from hwsim.export._board import (BOARDS, board_sources, build_board, clks_per_bit, constraints, ecp5_pll, ice40_pll,
                                 prepare)
from hwsim.export._pnr import FAMILIES
from hwsim.model._quant import quantize_model

needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not installed")
needs_ice40 = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("yosys", "nextpnr-ice40", "icepack")), reason="yosys, nextpnr-ice40 or icepack missing")
needs_ecp5 = pytest.mark.skipif(
    shutil.which("yosys") is None or not any(shutil.which(e) for e in FAMILIES["ecp5"]["nextpnr"])
    or not any(shutil.which(e) for e in ("yowasp-ecppack", "ecppack")),
    reason="yosys, nextpnr-ecp5 or ecppack (pip install 'hwsim[pnr]') missing")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny ternary GRU (I=3, H=5, 3 classes) at 1 x 1."""
    from helpers import make_model

    model = quantize_model(make_model("gru", 3, 5, 1, 3, seed=3), "ternary")
    out = tmp_path_factory.mktemp("board") / "tiny"
    write_export(model, out, DatapathConfig(rows=1, lanes=1), formats="hex")
    return out


@pytest.mark.parametrize("fin, fout, exp", [
    (12.0, 24.0, {"mhz": 24.0, "divr": 0, "divf": 63, "divq": 5, "filter_range": 1}),
    (12.0, 30.0, {"mhz": 30.0, "divr": 0, "divf": 79, "divq": 5, "filter_range": 1}),
])
def test_ice40_pll_settings(fin, fout, exp):
    got = ice40_pll(fin, fout)
    assert got == exp
    assert got["mhz"] == pytest.approx(fin * (got["divf"] + 1) / ((got["divr"] + 1) * 2 ** got["divq"]))


def test_ice40_pll_never_above_the_request():
    for want in (17.3, 21.0, 33.3, 47.0):
        got = ice40_pll(12.0, want)
        assert got["mhz"] <= want and got["mhz"] > want * 0.9
    with pytest.raises(FormatError, match=r"^iCE40 PLL clock must be 16 MHz or more .* not 5 MHz$"):
        ice40_pll(12.0, 5.0)


def test_ecp5_pll_settings():
    got = ecp5_pll(25.0, 50.0)
    assert got["mhz"] == 50.0
    assert got["mhz"] == pytest.approx(25.0 / got["clki_div"] * got["clkfb_div"])
    assert 400 <= got["mhz"] * got["clkop_div"] <= 800
    assert ecp5_pll(25.0, 48.0)["mhz"] <= 48.0


def test_clks_per_bit():
    assert clks_per_bit(24.0, 115200) == 208
    assert clks_per_bit(50.0, 1_000_000) == 50
    with pytest.raises(FormatError, match=r"^baud rate must be within 2 % .* not 5000000$"):
        clks_per_bit(12.0, 5_000_000)


def test_constraints_name_every_port():
    pcf = constraints(BOARDS["icebreaker"], 24.0)
    assert "set_io -nowarn CLK 35" in pcf and "set_io -nowarn RX 6" in pcf and "set_io -nowarn TX 9" in pcf
    assert "set_io -nowarn LEDG_N 37" in pcf
    lpf = constraints(BOARDS["ulx3s"], 50.0)
    assert 'LOCATE COMP "clk_25mhz" SITE "G2";' in lpf and 'LOCATE COMP "ftdi_txd" SITE "M1";' in lpf
    assert 'LOCATE COMP "ftdi_rxd" SITE "L4";' in lpf and 'FREQUENCY PORT "clk_25mhz" 25 MHZ;' in lpf


@needs_yosys
@pytest.mark.parametrize("board", sorted(BOARDS))
def test_board_top_lint_clean(board, tiny, tmp_path):
    """The generated board top with the core and the UART blocks: verilator -Wall, simulation view."""
    if shutil.which("verilator") is None:
        pytest.skip("verilator is not installed")
    d, sources, text, _, top, info = prepare(tiny, board)
    assert info["clks_per_bit"] == {"icebreaker": 208, "ulx3s": 434}[board]
    path = tmp_path / f"{top}.v"
    path.write_text(text)
    files = [d / "rtl" / s for s in sources] + board_sources() + [path]
    r = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", top, "-GUSE_PLL=0", *map(str, files)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "%Warning" not in r.stderr, r.stderr


@needs_yosys
def test_unknown_board_and_bad_clock_are_one_line(tiny, tmp_path):
    r = CliRunner().invoke(main, ["board", str(tiny), "--board", "arty", "-o", str(tmp_path / "b")])
    assert r.exit_code == 2 and r.output.strip() == "Error: board must be one of icebreaker, ulx3s, not 'arty'"
    r = CliRunner().invoke(main, ["board", str(tiny), "--board", "icebreaker", "--freq", "5", "-o", str(tmp_path / "b")])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "16 MHz or more" in r.output
    assert not (tmp_path / "b").exists()


@pytest.mark.slow  # a whole place and route of the tiny design
@pytest.mark.long
@needs_ice40
def test_missed_clock_is_one_line_and_writes_nothing(tiny, tmp_path):
    """A clock the design cannot meet (icebreaker at 200 MHz): exit 2, one line, no build directory."""
    r = CliRunner().invoke(main, ["board", str(tiny), "--board", "icebreaker", "--freq", "200", "-o", str(tmp_path / "b")])
    assert r.exit_code == 2, r.output
    assert len(r.output.strip().splitlines()) == 1
    assert re.match(r"^Error: design must meet the 19\d(\.\d+)? MHz clock on the icebreaker, but reaches", r.output)
    assert not (tmp_path / "b").exists()


def _demo_smallest(tmp_path: Path) -> Path:
    from hwsim.data import default_model_path
    from hwsim.model._modelfile import load_model

    out = tmp_path / "demo"
    write_export(load_model(default_model_path()), out, DatapathConfig(rows=1, lanes=1, pointwise_units=1), formats="hex")
    return out


@pytest.mark.slow
@needs_ice40
def test_icebreaker_bitstream_of_the_demo(tmp_path):
    """The demo GRU at 1 x 1 x 1 on the iCEBreaker: routed, meets the PLL clock, a .bin is written.
    Seed 2: with seed 1 nextpnr-ice40 0.4 cannot legalise this netlist's placement (83 % of the LCs;
    ~10 min to give up), which the long test below covers through the seed retry."""
    rep = build_board(_demo_smallest(tmp_path), "icebreaker", tmp_path / "build", timeout=3000, seed=2)
    b = tmp_path / "build"
    assert rep.fmax_mhz >= rep.clock_mhz == 24.0
    assert (b / rep.bitstream).stat().st_size > 100_000 and rep.bitstream == "hwsim_top_icebreaker.bin"
    assert json.loads((b / "board.json").read_text())["fmax_mhz"] == rep.fmax_mhz
    assert "fmax" in json.loads((b / "timing.json").read_text())
    assert rep.logic_cells <= rep.logic_cells_total and rep.brams > 0


@pytest.mark.long  # ~10 min for nextpnr to give up on seed 1, then ~2.5 min for seed 2
@needs_ice40
def test_board_build_tries_the_next_seed_when_nextpnr_cannot_legalise(tmp_path):
    """nextpnr-ice40 0.4's placer cannot legalise the smallest demo's iCEBreaker netlist with seed 1
    although it fits (83 % of the LCs): the build goes on to seed 2, says so, and places."""
    rep = build_board(_demo_smallest(tmp_path), "icebreaker", tmp_path / "build", timeout=3000, seed=1)
    assert rep.seeds_tried == [1] and rep.seed == 2 and rep.fmax_mhz >= rep.clock_mhz
    assert json.loads((tmp_path / "build" / "board.json").read_text())["seeds_tried"] == [1]


@pytest.mark.slow
@needs_ecp5
def test_ulx3s_bitstream_of_the_demo(tmp_path):
    """The demo GRU at 1 x 1 x 1 on the ULX3S (ECP5-85F): routed, meets the PLL clock, a .bit is written."""
    rep = build_board(_demo_smallest(tmp_path), "ulx3s", tmp_path / "build", timeout=3000)
    b = tmp_path / "build"
    assert rep.fmax_mhz >= rep.clock_mhz == 50.0
    assert (b / rep.bitstream).stat().st_size > 100_000 and rep.bitstream == "hwsim_top_ulx3s.bit"
    assert rep.logic_cells <= rep.logic_cells_total
