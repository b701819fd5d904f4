"""``hwsim synth`` (export/_synth.py, hwsim/cli/_synth.py): yosys runs, resource counts, multipliers."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from hwsim._errors import FormatError, ToolError
from hwsim.model._quant import quantize_model
from hwsim.cli import main
from hwsim.export import write_export
from hwsim.export._synth import TARGETS, _base, _mul_by_module, synthesize

needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not installed")
TEMPLATES = Path(__file__).resolve().parents[2] / "rtl_templates"

# A stand-in design in the shape of an export: two lanes of a weight-code module whose uniform
# variant multiplies, a ROM read with $readmemh from rom/, and a register stage.
_LANE = """
module hwsim_lane #(parameter KIND = 1, parameter CODE_BITS = 2, parameter V_BITS = 8) (
    input wire [CODE_BITS-1:0] code, input wire signed [V_BITS-1:0] v, output wire signed [V_BITS+CODE_BITS-1:0] p);
    generate if (KIND == 3) begin : g_mul
        assign p = $signed(code) * v;
    end else begin : g_mux
        assign p = (code == 2'b01) ? v : (code == 2'b11) ? -v : 0;
    end endgenerate
endmodule
"""
_TOP = """
module {top} #(parameter KIND = {kind}) (input wire clk, input wire [3:0] addr, input wire signed [15:0] v,
                                     output reg signed [19:0] acc);
    reg [7:0] rom [0:15];
    initial $readmemh("../rom/l0_weights.hex", rom);
    reg [7:0] word;
    wire signed [17:0] p0, p1;
    always @(posedge clk) word <= rom[addr];
    hwsim_lane #(.KIND(KIND), .CODE_BITS(2), .V_BITS(16)) u0 (.code(word[1:0]), .v(v), .p(p0));
    hwsim_lane #(.KIND(KIND), .CODE_BITS(2), .V_BITS(16)) u1 (.code(word[3:2]), .v(v), .p(p1));
    always @(posedge clk) acc <= acc + p0 + p1;
endmodule
"""


def _fake_export(make_model, root: Path, kind: int, top: str = "toy_top", extra: dict[str, str] | None = None) -> Path:
    """A real export (ROMs + manifest) with the stand-in RTL added under rtl/."""
    out = root / f"e{kind}"
    write_export(quantize_model(make_model("gru", 2, 4, 1, None), "ternary"), out, formats="hex", rtl=False)
    (out / "rtl").mkdir()
    (out / "rtl" / "hwsim_lane.v").write_text(_LANE)
    (out / "rtl" / f"{top}.v").write_text(_TOP.format(top=top, kind=kind))
    (out / "rom" / "l0_weights.hex").unlink()
    (out / "rom" / "l0_weights.hex").write_text("".join(f"{i * 17 % 256:02x}\n" for i in range(16)))
    man = json.loads((out / "manifest.json").read_text())
    for name, text in (extra or {}).items():
        (out / "rtl" / name).write_text(text)
    rtl = ["rtl/hwsim_lane.v", f"rtl/{top}.v", *(f"rtl/{n}" for n in extra or {})]
    man["rtl"] = {"top": top, "files": rtl}
    man["schedule"] = {"cycles_per_step": 42, "lanes": 1}
    for rel in ["rom/l0_weights.hex", *rtl]:  # every file the design reads is listed and hashed
        data = (out / rel).read_bytes()
        man["files"][rel] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (out / "manifest.json").write_text(json.dumps(man))
    return out


def test_mul_counts_are_instance_weighted_and_skip_constant_operands():
    def mul(a, b):
        return {"type": "$mul", "connections": {"A": a, "B": b, "Y": [9]}}

    netlist = {"modules": {
        "top": {"cells": {"l": {"type": "$paramod$ab12\\lane"}, "l2": {"type": "$paramod$ab12\\lane"},
                          "m": {"type": "mid"}, "x": mul([1, 2], [3])}},
        "mid": {"cells": {"l": {"type": "$paramod$ab12\\lane"}, "c": mul([4, 5], ["0", "1"])}},
        "$paramod$ab12\\lane": {"cells": {"a": mul([1], [2]), "b": mul([1], [2, "1"]), "k": mul(["1"], [2])}},
    }}
    assert _mul_by_module(netlist, "top") == {"lane": 6, "top": 1}
    assert _base("$paramod\\hwsim_lane\\KIND=s32'1") == "hwsim_lane"


@needs_yosys
@pytest.mark.rtl
@pytest.mark.parametrize("target", list(TARGETS))
def test_synth_counts_resources_and_multipliers(make_model, tmp_path, target):
    ternary = synthesize(_fake_export(make_model, tmp_path, 1), target)
    uniform = synthesize(_fake_export(make_model, tmp_path, 3), target)
    assert ternary.weight_multipliers == 0 and ternary.multipliers == {}
    assert uniform.weight_multipliers == 2 and uniform.multipliers == {"hwsim_lane": 2}
    assert uniform.dsps >= 1 and ternary.dsps == 0  # the multiplier maps onto DSP blocks
    assert ternary.luts > 0  # the negate/zero mux and the adders are plain logic
    for rep in (ternary, uniform):
        assert rep.ffs > 0 and rep.cycles_per_step == 42 and rep.top == "toy_top"
        assert rep.luts == sum(n for t, n in rep.cells.items() if t in TARGETS[target]["luts"])


@needs_yosys
@pytest.mark.rtl
def test_cli_synth_json(make_model, tmp_path):
    out = _fake_export(make_model, tmp_path, 3)
    r = CliRunner().invoke(main, ["synth", str(out), "--target", "ice40", "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert {"luts", "ffs", "brams", "dsps", "cycles_per_step", "cells"} <= set(rep)
    assert rep["cells"].get("SB_MAC16", 0) == rep["dsps"] >= 1


def test_synth_refuses_export_without_rtl(make_model, tmp_path):
    out = tmp_path / "e"
    write_export(quantize_model(make_model("gru", 2, 4, 1, None), "ternary"), out, formats="hex", rtl=False)
    with pytest.raises(FormatError, match=r"^.*e has no rtl/ \(exported without the RTL generator\); pass --top and add rtl/\*\.v$"):
        synthesize(out, "ice40")
    with pytest.raises(FormatError, match=r"^export directory must hold Verilog in rtl/\*\.v, none found in "):
        synthesize(out, "ice40", top="x")
    r = CliRunner().invoke(main, ["synth", str(out), "--target", "ice40", "--top", "1x"])
    assert r.exit_code == 2 and r.output.startswith("Error: top module name must be a Verilog identifier")


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1"])
def test_cli_synth_refuses_a_timeout_that_is_not_a_positive_number(tmp_path, value):
    r = CliRunner().invoke(main, ["synth", str(tmp_path), "--target", "ice40", "--timeout", value])
    assert r.exit_code == 2
    assert re.fullmatch(rf"Error: Invalid value for '--timeout': must be a finite number > 0, not '{value}'\n", r.output)


@needs_yosys
@pytest.mark.rtl
def test_yosys_error_is_one_line(make_model, tmp_path):
    out = _fake_export(make_model, tmp_path, 1, extra={"broken.v": "module broken(; endmodule\n"})
    with pytest.raises(ToolError, match=r"^yosys failed on ecp5: .*"):
        synthesize(out, "ecp5")


@needs_yosys
@pytest.mark.rtl
@pytest.mark.slow  # two full ice40 syntheses, ~10-20 s each on 2 cores
@pytest.mark.parametrize(("method", "bits"), [("ternary", None), ("exp", 4), ("uniform", 4)])
def test_exported_design_has_weight_multipliers_only_for_uniform(make_model, tmp_path, method, bits):
    model = quantize_model(make_model("gru", 3, 4, 1, 2, seed=5), method, bits=bits)
    out = tmp_path / "e"
    res = write_export(model, out, formats="hex")
    assert res.rtl_written and any(f.startswith("rtl/") for f in res.manifest["files"])
    rep = synthesize(out, "ice40")
    from hwsim.datapath._plan import lower
    from hwsim.datapath._schedule import cycles_per_step

    from hwsim.datapath._config import DatapathConfig

    assert rep.cycles_per_step == cycles_per_step(lower(model, DatapathConfig()))["step"]
    if method == "uniform":
        assert rep.weight_multipliers >= 1  # one k x B multiplier per lane: the baseline
    else:
        assert rep.weight_multipliers == 0  # negate/zero mux or shift: no multiplier for weight products
    assert rep.luts > 0 and rep.ffs > 0 and rep.brams >= 1


def test_fit_line_says_what_exceeds_the_device():
    from hwsim.export._synth import fit_line

    need = {"luts": 4200, "ffs": 6064, "brams": 54, "dsps": 3}
    line = fit_line("ice40", "up5k", need)  # a logic cell holds one LUT4 and one FF: max(4200, 6064) cells
    assert re.fullmatch(r"does not fit ice40 up5k: logic cells \(at least max\(LUT4, FF\)\) 6,064/5,280, "
                        r"BRAM 54/30; fold more .*, or name a larger --device", line)
    assert fit_line("ice40", "hx8k", {**need, "brams": 30, "dsps": 0}) is None
    assert fit_line("ecp5", "25k", {"luts": 20000, "ffs": 29478, "brams": 96, "dsps": 96}).startswith(
        "does not fit ecp5 25k: FF 29,478/24,288, BRAM 96/56, DSP 96/28;")


@needs_yosys
@pytest.mark.rtl
def test_cli_synth_compares_with_the_device(make_model, tmp_path):
    out = _fake_export(make_model, tmp_path, 3)  # two multipliers: DSPs
    r = CliRunner().invoke(main, ["synth", str(out), "--target", "ice40", "--device", "lp384"])
    assert r.exit_code == 0, r.output
    assert re.search(r"^  does not fit ice40 lp384: .*DSP [12]/0; fold more", r.output, re.M), r.output
    r = CliRunner().invoke(main, ["synth", str(out), "--target", "ice40", "--json"])
    rep = json.loads(r.output)
    assert rep["device"] == "up5k" and rep["does_not_fit"] is None and rep["capacity"]["luts"] == 5280


@needs_yosys
@pytest.mark.rtl
@pytest.mark.slow  # three syntheses of a 4-unit GRU, ~15 s each on 2 cores
def test_activation_tables_are_shared_by_the_pointwise_units(make_model, tmp_path, monkeypatch):
    """A GRU layer with P = 4 units reads 8 sigmoids and 4 tanhs a cycle. On ECP5 (true dual-port
    DP16KD) the layer holds 4 + 2 table copies; with one port per copy it would hold 12. On iCE40
    (one read port) every reader keeps its own copy -- in block RAM, not in LUTs."""
    from hwsim.datapath._config import DatapathConfig

    model = quantize_model(make_model("gru", 3, 8, 1, 2, seed=5), "ternary")
    out = tmp_path / "e"
    write_export(model, out, DatapathConfig(rows=4, lanes=2, pointwise_units=4), formats="hex")
    shared = synthesize(out, "ecp5")
    monkeypatch.setitem(TARGETS["ecp5"], "table_ports", 1)
    apart = synthesize(out, "ecp5")
    # each 1024 x 16 table copy is one DP16KD; the matvec's memories are the same in both
    assert apart.brams - shared.brams == 12 - (4 + 2)
    ice = synthesize(out, "ice40")
    assert ice.cells.get("SB_RAM40_4K", 0) >= 12 * 4  # 12 copies of 4 SB_RAM40_4K (256 x 16 each)
    assert ice.luts < 4000  # a table mapped to LUTs would cost thousands of SB_LUT4


@needs_yosys
@pytest.mark.rtl
@pytest.mark.slow  # two iCE40 syntheses, ~15 s each on 2 cores
@pytest.mark.parametrize(("cell", "readers"), [("gru", 3), ("lstm", 5)])
def test_ice40_keeps_every_pointwise_multiplier_and_table(make_model, tmp_path, cell, readers):
    """Every multiplier of the pointwise unit lands in an SB_MAC16 and every table reader keeps its
    own block-RAM copy. Guards a yosys 0.23 hazard met while cutting timing paths: a constant third
    input of a sum behind registered products made `synth_ice40 -dsp` drop a multiplier and the
    tables it fed (docs/rtl.md, "Timing without a cycle")."""
    model = quantize_model(make_model(cell, 3, 8, 1, 2, seed=5), "ternary")
    out = tmp_path / "e"
    write_export(model, out, formats="hex")
    ice = synthesize(out, "ice40")
    assert ice.weight_multipliers == 0 and ice.multipliers.get("hwsim_mul", 0) >= 3
    assert ice.dsps >= sum(ice.multipliers.values())  # (the LSTM maps one more product to a MAC16)
    assert ice.cells.get("SB_RAM40_4K", 0) >= readers * 4  # a 1024 x 16 table is 4 SB_RAM40_4K
