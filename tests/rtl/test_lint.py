"""``verilator --lint-only -Wall`` on the blocks of rtl_templates/ and on exported designs."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from hwsim._errors import FormatError
from cases import ROW, STREAM_KNOBS, SWEEP, Case
from rtl_util import RTL_DIR

pytestmark = [pytest.mark.rtl, pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator is not installed")]

BLOCKS = ["hwsim_rom", "hwsim_requant", "hwsim_delay", "hwsim_lane", "hwsim_act", "hwsim_mul", "hwsim_matvec",
          "hwsim_pointwise", "hwsim_layer", "hwsim_head", "hwsim_axis_ctrl", "hwsim_loader"]


def _lint(files, top, extra=()):
    r = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", top, *extra, *map(str, files)],
                       capture_output=True, text=True)
    return r.returncode, r.stderr


@pytest.mark.parametrize("top", BLOCKS)
def test_templates_lint_clean(top):
    from hwsim.export._rtl import rtl_sources

    rc, err = _lint(rtl_sources(loader=True), top)
    assert rc == 0 and "%Warning" not in err, err


@pytest.mark.parametrize("cell", [2, 3], ids=["gru", "lstm"])
def test_two_stage_pointwise_lint_clean(cell):
    """mul_stages = 2: every product with a register on its operands too."""
    from hwsim.export._rtl import rtl_sources

    rc, err = _lint(rtl_sources(), "hwsim_pointwise", [f"-GCELL={cell}", "-GMUL_STAGES=2"])
    assert rc == 0 and "%Warning" not in err, err


def test_ecp5_multiplier_lint_clean():
    """hwsim_mul as hwsim's ECP5 flows build it (HWSIM_ECP5: the MULT18X18D, here its simulation model)."""
    from hwsim.export._rtl import rtl_sources, templates_dir

    rc, err = _lint([*rtl_sources(), templates_dir() / "sim" / "MULT18X18D.v"], "hwsim_mul", ["-DHWSIM_ECP5"])
    assert rc == 0 and "%Warning" not in err, err


# (rows, lanes, pointwise units, tiles per word): 1, primes, a tree with a pass-through node, shared words
FOLDS = {"lstm": (4, 2, 2, 1), "gru": (6, 7, 3, 1), "rnn_tanh": (1, 1, 1, 3), "rnn_relu": (5, 3, 5, 2)}


@pytest.mark.parametrize("cell", [0, 1, 2, 3], ids=["rnn_tanh", "rnn_relu", "gru", "lstm"])
@pytest.mark.parametrize("act", [0, 1], ids=["lut", "pwl"])
def test_layer_variants_lint_clean(cell, act):
    from hwsim.export._rtl import rtl_sources

    r, l, p, t = FOLDS[("rnn_tanh", "rnn_relu", "gru", "lstm")[cell]]
    rc, err = _lint(rtl_sources(), "hwsim_layer", [f"-GCELL={cell}", f"-GACT_KIND={act}", "-GKIND=2", "-GCODE_BITS=4",
                                                  f"-GLANES={l}", f"-GROWS={r}", f"-GPW_UNITS={p}", f"-GTPW={t}",
                                                  "-GH_FRAC=6", "-GC_FRAC=16"])
    assert rc == 0 and "%Warning" not in err, err


@pytest.mark.parametrize("top", ["hwsim_matvec", "hwsim_layer"])
@pytest.mark.parametrize("rsh", [(1, 0), (1, 1), (2, 3), (3, 5)], ids=lambda r: f"rsh{r[0]}max{r[1]}")
def test_row_shift_variants_lint_clean(top, rsh):
    """The per-row shift (RSH_BITS-bit fields up to RSH_MAX) on one row PE and on several."""
    from hwsim.export._rtl import rtl_sources

    for rows, lanes in ((1, 1), (3, 4)):
        rc, err = _lint(rtl_sources(), top, [f"-GRSH_BITS={rsh[0]}", f"-GRSH_MAX={rsh[1]}", f"-GROWS={rows}",
                                            f"-GLANES={lanes}", "-GN_IN=3", "-GNROW=5" if top == "hwsim_matvec" else "-GHID=5"])
        assert rc == 0 and "%Warning" not in err, err


@pytest.mark.parametrize("case", [Case("gru", "ternary", lanes=2, rows=3), Case("lstm", "uniform", bits=4, classes=None, layers=2),
                                  Case("rnn_relu", "exp", bits=5, word_bits=10, activation="pwl"),
                                  *[c for c in SWEEP if c.precision],  # per-layer widths
                                  STREAM_KNOBS[0], STREAM_KNOBS[2],
                                  ROW[0], ROW[2]], ids=lambda c: c.id)  # lanes a beat, output modes
@pytest.mark.parametrize("weights", ["rom", "runtime"])
def test_exported_design_lint_clean(case, weights, tmp_path):
    import json

    from hwsim.export import write_export

    out = tmp_path / "exp"
    if weights == "runtime" and case.quant_kw.get("scale") == "row":  # the row shifts are not loadable
        with pytest.raises(FormatError, match=r"^run-time weights need per-tensor weight scales"):
            write_export(case.model(), out, case.config().replace(weights=weights), formats=("hex",))
        return
    write_export(case.model(), out, case.config().replace(weights=weights), formats=("hex",))
    files = [out / r for r in json.loads((out / "manifest.json").read_text())["rtl"]["files"]]
    rc, err = _lint(files, "hwsim_top")
    assert rc == 0 and "%Warning" not in err, err


def test_lint_catches_a_problem(tmp_path):
    """The lint test can fail: an unused signal added to a copy of a block is reported."""
    src = (RTL_DIR / "hwsim_rom.v").read_text().replace("endmodule", "    wire dangling;\nendmodule")
    (tmp_path / "hwsim_rom.v").write_text(src)
    rc, err = _lint([tmp_path / "hwsim_rom.v"], "hwsim_rom")
    assert rc != 0 and "dangling" in err
