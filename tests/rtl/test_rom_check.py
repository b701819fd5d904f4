"""The ROM check (issue #22, docs/rom_format.md "ROM check"): the generated top reads the magic word
of ``rom/rom_check.hex`` through the same path as its ROMs and drives ``rom_ok``. Icarus runs the top
after reset with the files in place (``rom_ok = 1``) and with them removed or emptied (``0``); an
export with run-time weights gets ``rom_ok`` from an accepted image where the image writes every
memory the core reads."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hwsim.datapath._config import DatapathConfig
from hwsim.export import write_export
from hwsim.export._pack import ROM_CHECK_MAGIC, ROM_CHECK_NAME
from rtl_util import needs_icarus

pytestmark = [pytest.mark.rtl, needs_icarus]

_TB = """`timescale 1ns/1ps
`default_nettype none
module tb_rom_check #(parameter ROM_DIR = "", parameter LOAD_FILE = "", parameter LOAD_BYTES = 0);
    reg clk = 1'b0;
    always #5 clk = ~clk;
    reg rst = 1'b1;
    wire rom_ok;
    reg [7:0] l_data = 8'd0;
    reg l_valid = 1'b0, l_last = 1'b0;
    wire l_ready, load_ok, load_err;
    reg [7:0] img [0:((LOAD_BYTES > 0) ? LOAD_BYTES : 1) - 1];
    integer i;
    hwsim_top #(.ROM_DIR(ROM_DIR)) u_dut (
        .clk(clk), .rst(rst), .s_axis_tdata({S_W}'d0), .s_axis_tvalid(1'b0), .s_axis_tlast(1'b0),
        .m_axis_tready(1'b1), .rom_ok(rom_ok){LOAD_PORTS}
    );
    initial begin
        if (LOAD_BYTES > 0) $readmemh(LOAD_FILE, img);
        repeat (3) @(posedge clk);
        rst <= 1'b0;
        repeat (4) @(posedge clk);
        $display("RESET rom_ok=%b", rom_ok);
        for (i = 0; i < LOAD_BYTES; i = i + 1) begin
            l_valid <= 1'b1;
            l_data <= img[i];
            l_last <= (i == LOAD_BYTES - 1);
            @(posedge clk);
            while (!l_ready) @(posedge clk);
        end
        l_valid <= 1'b0;
        repeat (8) @(posedge clk);
        if (LOAD_BYTES > 0) $display("LOADED rom_ok=%b load_ok=%b load_err=%b", rom_ok, load_ok, load_err);
        $finish;
    end
endmodule
`default_nettype wire
"""


def _export(tmp_path: Path, name: str, *, runtime: bool = False, activation: str = "lut", **kw) -> Path:
    """A small GRU with a head (I = 3, H = 5, C = 3, ternary), one row and one lane."""
    import helpers
    from hwsim.model._quant import quantize_model

    model = quantize_model(helpers.make_model("gru", 3, 5, 1, 3, seed=3), "ternary")
    cfg = DatapathConfig(rows=1, lanes=1, activation=activation, weights="runtime" if runtime else "rom")
    out = tmp_path / name
    write_export(model, out, cfg, formats="hex", tb=False, **kw)
    return out


def _simulate(out: Path, build: Path, rom_dir: Path | None, *, load: bytes = b"", cwd: Path | None = None) -> str:
    """Build the top with the test bench above and run it; return what it printed."""
    build.mkdir(parents=True, exist_ok=True)
    s_w = json.loads((out / "manifest.json").read_text())["stream"]["s_axis_tdata_bits"]
    load_ports = (",\n        .s_load_tdata(l_data), .s_load_tvalid(l_valid), .s_load_tready(l_ready),"
                  " .s_load_tlast(l_last), .load_ok(load_ok), .load_err(load_err)") if load else ""
    tb = build / "tb_rom_check.v"
    tb.write_text(_TB.replace("{S_W}", str(s_w)).replace("{LOAD_PORTS}", load_ports))
    params = []
    if rom_dir is not None:
        params.append(f'-Ptb_rom_check.ROM_DIR="{rom_dir}"')
    if load:
        (build / "load.hex").write_text("".join(f"{b:02x}\n" for b in load))
        params += [f'-Ptb_rom_check.LOAD_FILE="{build / "load.hex"}"', f"-Ptb_rom_check.LOAD_BYTES={len(load)}"]
    rtl = sorted((out / "rtl").glob("*.v"))
    vvp = build / "sim.vvp"
    subprocess.run(["iverilog", "-g2005", "-s", "tb_rom_check", "-o", str(vvp), *params, str(tb), *map(str, rtl)],
                   check=True, capture_output=True, text=True)
    r = subprocess.run(["vvp", "-n", str(vvp)], cwd=cwd or build, check=True, capture_output=True, text=True)
    return r.stdout


def _rom_ok(text: str, when: str = "RESET") -> str:
    m = re.search(rf"^{when} rom_ok=(\S)", text, re.M)
    assert m, text
    return m.group(1)


def test_magic_file_holds_the_magic(tmp_path):
    out = _export(tmp_path, "rom")
    assert (out / "rom" / f"{ROM_CHECK_NAME}.hex").read_text() == f"{ROM_CHECK_MAGIC:08x}\n"
    entry = json.loads((out / "manifest.json").read_text())["rom_check"]
    assert entry["magic"] == "48575352" and entry["files"] == {"hex": "rom/rom_check.hex"} and entry["port"] == "rom_ok"


def test_rom_ok_is_1_with_the_files(tmp_path):
    out = _export(tmp_path, "rom")
    assert _rom_ok(_simulate(out, tmp_path / "b", out / "rom")) == "1"


@pytest.mark.parametrize("damage", ["dir_missing", "all_removed", "check_removed", "check_zeroed", "all_zeroed"])
def test_rom_ok_is_0_without_the_files(damage, tmp_path):
    """A ROM directory the simulator does not find, every .hex removed or emptied to zeros, or the
    magic file alone removed or zeroed: rom_ok stays 0 after reset."""
    out = _export(tmp_path, "rom")
    rom = out / "rom"
    hexes = sorted(rom.glob("*.hex"))
    if damage == "dir_missing":
        rom = tmp_path / "nowhere"
    elif damage == "all_removed":
        for f in hexes:
            f.unlink()
    elif damage == "check_removed":
        (rom / "rom_check.hex").unlink()
    else:
        for f in hexes if damage == "all_zeroed" else [rom / "rom_check.hex"]:
            lines = f.read_text().splitlines()
            f.write_text("".join("0" * len(ln) + "\n" for ln in lines))
    assert _rom_ok(_simulate(out, tmp_path / "b", rom)) == "0"


def test_bare_names_are_found_in_the_working_directory(tmp_path):
    """``--rom-names bare``: the magic file is found where the ROMs are (the run's directory), or not at all."""
    out = _export(tmp_path, "bare", rom_names="bare")
    run = tmp_path / "run"
    run.mkdir()
    assert _rom_ok(_simulate(out, tmp_path / "b0", None, cwd=run)) == "0"
    for f in (out / "rom").glob("*.hex"):
        shutil.copy(f, run / f.name)
    assert _rom_ok(_simulate(out, tmp_path / "b1", None, cwd=run)) == "1"


@pytest.mark.parametrize("activation, after_load", [("pwl", "1"), ("lut", "0")])
def test_runtime_weights_an_accepted_image_sets_rom_ok(activation, after_load, tmp_path):
    """No files found: rom_ok = 0 at reset; an accepted image sets it where the image writes every
    memory the core reads (PWL activations), not where the tables still come from missing files."""
    out = _export(tmp_path, "rt", runtime=True, activation=activation)
    image = (out / "rom" / "weights.bin").read_bytes()
    good = _simulate(out, tmp_path / "good", out / "rom", load=image)
    assert (_rom_ok(good), _rom_ok(good, "LOADED")) == ("1", "1")
    text = _simulate(out, tmp_path / "b", tmp_path / "nowhere", load=image)
    assert _rom_ok(text) == "0"
    assert re.search(r"^LOADED rom_ok=(\S) load_ok=1 load_err=0$", text, re.M).group(1) == after_load, text


def test_runtime_weights_a_refused_body_clears_rom_ok(tmp_path):
    """The files found, then an image whose CRC is wrong: the memories are half written, rom_ok = 0."""
    out = _export(tmp_path, "rt", runtime=True, activation="pwl")
    image = bytearray((out / "rom" / "weights.bin").read_bytes())
    image[-1] ^= 1
    text = _simulate(out, tmp_path / "b", out / "rom", load=bytes(image))
    assert _rom_ok(text) == "1"
    assert re.search(r"^LOADED rom_ok=0 load_ok=0 load_err=1$", text, re.M), text
