"""``hwsim synth --pnr`` (export/_pnr.py): yosys + nextpnr really run, the report, the error paths."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from hwsim.datapath._config import DatapathConfig
from hwsim._errors import FormatError
from hwsim.datapath._plan import lower
from hwsim.model._quant import quantize_model
from hwsim.datapath._schedule import cycles_per_step
from hwsim.cli import main
from hwsim.export import write_export
from hwsim.export._pnr import FAMILIES, PnrError, place_and_route, render_wrapper, weight_ops_per_step

needs_ice40 = pytest.mark.skipif(
    shutil.which("yosys") is None or shutil.which("nextpnr-ice40") is None, reason="yosys or nextpnr-ice40 is not installed"
)
needs_ecp5 = pytest.mark.skipif(
    shutil.which("yosys") is None or not any(shutil.which(e) for e in FAMILIES["ecp5"]["nextpnr"]),
    reason="yosys or nextpnr-ecp5 (pip install 'hwsim[pnr]') is not installed",
)

# A design that fits nothing smaller than 512 flip-flops: a 128 x 4-bit shift register, every
# stage XOR-ed into the output so that none is removed. Synthesizes in about a second.
_BIG_TOP = """
module toy_top (input wire clk, input wire rst, input wire [3:0] d, output reg [3:0] q);
    reg [3:0] sr [0:127];
    integer i;
    reg [3:0] x;
    always @(posedge clk) begin
        sr[0] <= rst ? 4'd0 : d;
        for (i = 1; i < 128; i = i + 1) sr[i] <= sr[i - 1] ^ {sr[i - 1][2:0], sr[i - 1][3]};
        x = 4'd0;
        for (i = 0; i < 128; i = i + 1) x = x ^ sr[i];
        q <= x;
    end
endmodule
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A real export of a tiny ternary GRU (I=2, H=4, 2 classes) at 2 row PEs x 2 lanes."""
    from helpers import make_model

    model = quantize_model(make_model("gru", 2, 4, 1, 2, seed=3), "ternary")
    cfg = DatapathConfig(rows=2, lanes=2)
    out = tmp_path_factory.mktemp("pnr") / "tiny"
    write_export(model, out, cfg, formats="hex")
    return out, cycles_per_step(lower(model, cfg))["step"]


def _toy_export(make_model, root: Path) -> Path:
    out = root / "toy"
    write_export(quantize_model(make_model("gru", 2, 4, 1, None), "ternary"), out, formats="hex", rtl=False)
    (out / "rtl").mkdir()
    (out / "rtl" / "toy_top.v").write_text(_BIG_TOP)
    man = json.loads((out / "manifest.json").read_text())
    man["rtl"] = {"top": "toy_top", "files": ["rtl/toy_top.v"]}
    data = _BIG_TOP.encode()  # listed and hashed, as the manifest's integrity rule requires
    man["files"]["rtl/toy_top.v"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (out / "manifest.json").write_text(json.dumps(man))
    return out


def _check_report(rep: dict, cycles: int, target: str, device: str) -> None:
    assert rep["routed"] is True and rep["target"] == target and rep["device"] == device and rep["seed"] == 1
    assert 1 < rep["fmax_mhz"] < 1000
    for res in ("luts", "ffs", "brams", "dsps"):
        assert 0 <= rep[res] <= rep[f"{res}_total"], res
    assert rep["luts"] > 100 and rep["ffs"] > 100 and rep["brams"] >= 1
    assert rep["cycles_per_step"] == cycles  # the exact cycle model, via the manifest
    assert rep["weight_ops_per_step"] == 3 * 4 * (2 + 4)  # GRU: 3 * H * (I + H)
    assert rep["latency_us_per_step"] == pytest.approx(cycles / rep["fmax_mhz"], rel=1e-3)
    assert rep["weight_ops_per_s"] == pytest.approx(72 / rep["latency_us_per_step"] * 1e6, rel=1e-3)
    assert rep["step_period"] == max(cycles, 4, 2)  # I/O overlapped: compute-bound
    assert rep["end_to_end_weight_ops_per_s_per_lut"] == pytest.approx(72 / rep["end_to_end_us_per_step"] * 1e6 / rep["luts"], rel=1e-3)
    # output bits folded: the stream and its handshakes (16 + 4), the three 32-bit counters, rom_ok
    assert rep["wrapper"] == {"scan_bits": 16 + 3, "fold_bits": 16 + 4 + 96 + 1, "pins": 4}
    # one meaning per figure: luts = LUT4 cells of the netlist (as hwsim synth), logic_cells = placed cells
    assert rep["utilization"][FAMILIES[target]["logic_cells"]]["used"] == rep["logic_cells"]
    assert 0 < rep["luts"] <= rep["logic_cells"] <= rep["logic_cells_total"] == rep["luts_total"]
    assert rep["critical_path"]["delay_ns"] == pytest.approx(1e3 / rep["fmax_mhz"], rel=0.05)
    assert rep["tools"]["yosys"].startswith("Yosys") and "nextpnr" in rep["tools"]["nextpnr"]


@needs_ice40
@pytest.mark.rtl
def test_cli_pnr_ice40_json_reports_routed_timing_and_throughput(tiny):
    out, cycles = tiny
    r = CliRunner().invoke(main, ["synth", str(out), "--target", "ice40", "--pnr", "--json", "--timeout", "600"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    _check_report(rep, cycles, "ice40", "up5k")
    assert rep["package"] == "sg48" and rep["utilization"]["SB_IO"]["used"] == 4  # the wrapper's 4 pins


@needs_ecp5
@pytest.mark.rtl
def test_pnr_ecp5_reports_routed_timing_and_throughput(tiny):
    out, cycles = tiny
    rep = place_and_route(out, "ecp5", timeout=600).to_dict()
    _check_report(rep, cycles, "ecp5", "25k")
    assert rep["package"] == "CABGA381" and rep["utilization"]["TRELLIS_IO"]["used"] == 4


@needs_ice40
@pytest.mark.rtl
def test_design_that_does_not_fit_is_a_one_line_error(make_model, tmp_path):
    out = _toy_export(make_model, tmp_path)
    with pytest.raises(PnrError, match=r"^design does not fit ice40 lp384: ICESTORM_LC \d+/384$") as e:
        place_and_route(out, "ice40", device="lp384", timeout=300)
    assert e.value.reason == "fit" and e.value.partial["utilization"]["ICESTORM_LC"]["used"] > 512
    r = CliRunner().invoke(main, ["synth", str(out), "--target", "ice40", "--pnr", "--device", "lp384:qn32"])
    assert r.exit_code == 2 and re.fullmatch(r"Error: design does not fit ice40 lp384: ICESTORM_LC \d+/384\n", r.output)
    # --json: still one JSON object on stdout (a CI job parses why), the one line on stderr, exit 2
    r = CliRunner().invoke(main, ["synth", str(out), "--target", "ice40", "--pnr", "--device", "lp384", "--json"])
    assert r.exit_code == 2 and r.stderr.startswith("Error: design does not fit")
    rep = json.loads(r.stdout)
    assert rep["routed"] is False and rep["fits"] is False and rep["reason"] == "fit"
    assert rep["error"] == r.stderr.strip()[len("Error: "):]
    assert rep["logic_cells"] > 512 and rep["logic_cells_total"] == 384 and rep["ffs"] >= 512 and rep["luts"] > 0


def test_pnr_error_as_json_says_whether_it_fits():
    assert PnrError("x", "route", {"luts": 3}).to_dict() == {"routed": False, "fits": True, "reason": "route", "error": "x", "luts": 3}
    assert PnrError("y", "timeout").to_dict()["fits"] is None
    assert PnrError("z", "fit").to_dict()["fits"] is False


@needs_ice40
@pytest.mark.rtl
def test_pnr_timeout_is_a_one_line_error(make_model, tmp_path):
    out = _toy_export(make_model, tmp_path)
    r = CliRunner().invoke(main, ["synth", str(out), "--target", "ice40", "--pnr", "--timeout", "0.05"])
    assert r.exit_code == 2
    assert re.fullmatch(r"Error: (yosys|place and route) did not finish within the 0\.05 s timeout\n", r.output)


@pytest.mark.parametrize("target", ["ice40", "ecp5"])
def test_missing_nextpnr_is_a_one_line_error(tmp_path, monkeypatch, target):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH: the tool check comes first
    r = CliRunner().invoke(main, ["synth", str(tmp_path), "--target", target, "--pnr"])
    assert r.exit_code == 2
    exe = FAMILIES[target]["nextpnr"][0]
    assert re.fullmatch(rf"Error: place and route for {target} needs {exe}: .*install.*\n", r.output)
    if target == "ecp5":
        assert "pip install 'hwsim[pnr]'" in r.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "xilinx", "--pnr"], r"place and route needs nextpnr for ice40 or ecp5; for xilinx run Vivado .*"),
        (["--target", "ice40", "--pnr", "--device", "25k"], r"ice40 device must be one of up5k, .*, not '25k'"),
        (["--target", "ecp5", "--pnr", "--device", "25k:BG 1"], r"device package must be letters and digits \(e\.g\. CABGA381\), not 'BG 1'"),
        (["--target", "ice40", "--device", "25k"], r"ice40 device must be one of up5k, .*, not '25k'"),
        (["--target", "xilinx", "--device", "xc7a35t"], r"--device needs a family with a capacity table \(ice40, ecp5\), not xilinx"),
        (["--target", "ecp5", "--freq", "100"], r"--freq needs --pnr, not --freq 100\.0 alone"),
    ],
)
def test_cli_pnr_refuses_bad_arguments(tmp_path, args, message):
    r = CliRunner().invoke(main, ["synth", str(tmp_path), *args])
    assert r.exit_code == 2
    assert re.fullmatch(f"Error: {message}\n", r.output), r.output


@pytest.mark.parametrize(
    ("model", "ops"),
    [
        ({"cell": "gru", "input_size": 8, "hidden_size": 32, "num_layers": 1}, 3840),  # the demo GRU
        ({"cell": "gru", "input_size": 64, "hidden_size": 128, "num_layers": 1}, 3 * 128 * 192),
        ({"cell": "lstm", "input_size": 3, "hidden_size": 5, "num_layers": 2}, 4 * 5 * 8 + 4 * 5 * 10),
        ({"cell": "rnn_tanh", "input_size": 1, "hidden_size": 1, "num_layers": 1}, 2),
    ],
)
def test_weight_ops_count_the_recurrent_layers_weights(model, ops):
    assert weight_ops_per_step(model) == ops


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog is not installed")
@pytest.mark.parametrize("n_out", [1, 4, 5, 17, 116])
def test_wrapper_keeps_every_core_output_and_elaborates(tmp_path, n_out):
    """The fold's levels end in one bit whatever the width; the wrapper compiles with a stand-in core."""
    ports = {
        "clk": {"direction": "input", "bits": [2]},
        "rst": {"direction": "input", "bits": [3]},
        "a": {"direction": "input", "bits": [4, 5, 6]},
        "y": {"direction": "output", "bits": list(range(10, 10 + n_out))},
    }
    text, info = render_wrapper("core_t", ports)
    assert info == {"scan_bits": 3, "fold_bits": n_out, "pins": 4}
    assert ".a(scan[2:0])" in text and f".y(core_out[{n_out - 1}:0])" in text
    core = f"module core_t(input clk, input rst, input [2:0] a, output [{n_out - 1}:0] y); assign y = {{{n_out}{{a[0]}}}}; endmodule\n"
    (tmp_path / "w.v").write_text(text + core)
    r = subprocess.run(["iverilog", "-Wall", "-o", str(tmp_path / "w.vvp"), str(tmp_path / "w.v")], capture_output=True, text=True)
    assert r.returncode == 0 and "warning" not in r.stderr.lower(), r.stderr


def test_wrapper_refuses_a_top_without_clock_or_with_inouts():
    with pytest.raises(FormatError, match=r"^top module t must have inputs clk and rst, not ports a$"):
        render_wrapper("t", {"a": {"direction": "input", "bits": [1]}})
    ports = {"clk": {"direction": "input", "bits": [1]}, "rst": {"direction": "input", "bits": [2]},
             "io": {"direction": "inout", "bits": [3]}}
    with pytest.raises(FormatError, match=r"^top module ports must be inputs or outputs, not inout io$"):
        render_wrapper("t", ports)
