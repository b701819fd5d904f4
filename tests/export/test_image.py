"""The load image of run-time weights (docs/rom_format.md, "Load image"): byte layout, design hash,
refusals, and the export's ``--weights runtime`` files and CLI errors."""

from __future__ import annotations

import dataclasses
import json
import re
import struct
import zlib

import numpy as np
import pytest
from click.testing import CliRunner

from hwsim._errors import ConfigError, FormatError
from hwsim.datapath._config import DatapathConfig


def _q(make_model, *args, seed=0, negate=False, method="ternary"):
    from hwsim.model._model import Head
    from hwsim.model._quant import quantize_model

    m = make_model(*args, seed=seed)
    # gain 4: ternary codes of U(-1/sqrt(H), 1/sqrt(H)) weights would all be 0
    m = dataclasses.replace(m, layers=tuple(dataclasses.replace(l, w_ih=4 * l.w_ih, w_hh=4 * l.w_hh) for l in m.layers))
    if negate:  # same scales (every tensor's largest magnitude kept), other codes
        m = dataclasses.replace(
            m, layers=tuple(dataclasses.replace(l, w_ih=-l.w_ih, w_hh=-l.w_hh) for l in m.layers),
            head=None if m.head is None else Head(-m.head.weight, m.head.bias))
    return quantize_model(m, method)


RUNTIME = DatapathConfig(rows=2, lanes=3, weights="runtime")


def test_contract_key_weights():
    assert DatapathConfig().weights == "rom" and "weights" not in DatapathConfig().to_dict()
    d = RUNTIME.to_dict()
    assert d["weights"] == "runtime" and DatapathConfig.from_dict(d) == RUNTIME
    with pytest.raises(ConfigError, match=r"^weights must be one of rom, runtime, not 'flash'$"):
        DatapathConfig(weights="flash")


def test_image_bytes_are_header_rom_words_and_crc(make_model, tmp_path):
    from hwsim.export import write_export

    model = _q(make_model, "lstm", 3, 5, 2, 4)
    res = write_export(model, tmp_path / "e", RUNTIME, formats=("hex", "bin"))
    img = (tmp_path / "e" / "rom" / "weights.bin").read_bytes()
    man = res.manifest
    rt = man["runtime"]
    names = [m["name"] for m in rt["memories"]]
    assert names == ["l0_weights", "l0_bias", "l1_weights", "l1_bias", "head_weights", "head_bias"]
    body = b"".join((tmp_path / "e" / "rom" / f"{n}.bin").read_bytes() for n in names)
    magic, ver, nmem, res0, h, blen = struct.unpack("<4sBBHII", img[:16])
    assert (magic, ver, nmem, res0, blen) == (b"HWSW", 1, 6, 0, len(body))
    assert f"{h:08x}" == rt["design_hash"]
    assert img[16:-4] == body
    assert struct.unpack("<I", img[-4:])[0] == zlib.crc32(img[:-4])
    assert rt["bytes"] == len(img) == 16 + len(body) + 4
    for m in rt["memories"]:
        rom = next(r for r in man["roms"] if r["name"] == m["name"])
        assert (m["word_bits"], m["depth"], m["word_bytes"]) == (rom["word_bits"], rom["depth"], -(-rom["word_bits"] // 8))
    assert "rom/weights.bin" in man["files"]
    top = (tmp_path / "e" / "rtl" / "hwsim_top.v").read_text()
    assert "s_load_tdata" in top and "hwsim_loader" in top
    assert "rtl/hwsim_loader.v" in man["rtl"]["files"]
    # the header the RTL checks is the one the image carries (HDR parameter, byte 0 last in the literal)
    hdr = re.search(r"\.HDR\(128'h([0-9a-f]{32})\)", top).group(1)
    assert bytes.fromhex(hdr)[::-1] == img[:16]


def test_rom_export_has_no_load_port(make_model, tmp_path):
    from hwsim.export import write_export

    res = write_export(_q(make_model, "gru", 2, 3, 1, 2), tmp_path / "e", formats=("hex",))
    assert res.manifest["runtime"] is None
    assert not (tmp_path / "e" / "rom" / "weights.bin").exists()
    top = (tmp_path / "e" / "rtl" / "hwsim_top.v").read_text()
    assert "s_load" not in top and "load_ok" not in top
    assert "rtl/hwsim_loader.v" not in res.manifest["rtl"]["files"]


def test_design_hash_follows_the_rtl_not_the_weights(make_model):
    from hwsim.datapath._plan import lower
    from hwsim.export._image import check_image_fits, design_hash, load_image

    a = _q(make_model, "gru", 3, 5, 1, 2)
    b = _q(make_model, "gru", 3, 5, 1, 2, negate=True)
    pa, pb = lower(a, RUNTIME), lower(b, RUNTIME)
    assert design_hash(pa) == design_hash(pb)
    check_image_fits(pb, pa)
    ia, ib = load_image(a, RUNTIME), load_image(b, RUNTIME)
    assert ia[:16] == ib[:16] and ia[16:-4] != ib[16:-4]
    assert load_image(a, RUNTIME.replace(weights="rom")) == ia  # where the weights live is not in the image
    # another shape, another folding: another hash, refused in one line naming what differs
    pc = lower(_q(make_model, "gru", 3, 6, 1, 2), RUNTIME)
    assert design_hash(pc) != design_hash(pa)
    with pytest.raises(FormatError, match=r"^the weights to load must have the export's shape \(hidden_size 5\), not 6$"):
        check_image_fits(pc, pa)
    pd = lower(a, RUNTIME.replace(rows=1))
    assert design_hash(pd) != design_hash(pa)
    with pytest.raises(FormatError, match=r"^the weights to load must fit the export's RTL parameters \(common\.pointwise_units: export 2, given 1\); "):
        check_image_fits(pd, pa)


@pytest.fixture
def runtime_export(make_model, tmp_path):
    from hwsim.export import write_export

    out = tmp_path / "exp"
    write_export(_q(make_model, "gru", 2, 3, 1, 2), out, RUNTIME, formats=("hex",))
    return out


def test_cli_export_weights_runtime(make_model, tmp_path):
    from hwsim.cli import main
    from hwsim.model._modelfile import save_model

    save_model(_q(make_model, "gru", 2, 3, 1, 2), tmp_path / "q.safetensors", dtype=np.float64)
    r = CliRunner().invoke(main, ["export", str(tmp_path / "q.safetensors"), "-o", str(tmp_path / "e"),
                                  "--weights", "runtime", "--formats", "hex", "--tb-sequences", "0"])
    assert r.exit_code == 0, r.output
    man = json.loads((tmp_path / "e" / "manifest.json").read_text())
    assert man["contract"]["weights"] == "runtime" and (tmp_path / "e" / "rom" / "weights.bin").is_file()
    r = CliRunner().invoke(main, ["export", str(tmp_path / "q.safetensors"), "-o", str(tmp_path / "f"),
                                  "--weights", "eeprom"])
    assert r.exit_code == 2 and "'eeprom' is not one of 'rom', 'runtime'" in r.output


def test_cli_cosim_load_weights_refusals(make_model, runtime_export, tmp_path):
    """A model of another shape, and an export without a load port: one line, exit 2, before any simulator."""
    from hwsim.cli import main
    from hwsim.export import write_export
    from hwsim.model._modelfile import save_model

    save_model(_q(make_model, "gru", 2, 4, 1, 2), tmp_path / "other.safetensors", dtype=np.float64)
    r = CliRunner().invoke(main, ["cosim", str(runtime_export), "--load-weights", str(tmp_path / "other.safetensors"),
                                  "--random", "1"])
    assert r.exit_code == 2, r.output
    assert r.output == "Error: the weights to load must have the export's shape (hidden_size 3), not 4\n"
    rom = tmp_path / "rom_exp"
    write_export(_q(make_model, "gru", 2, 3, 1, 2), rom, formats=("hex",))
    save_model(_q(make_model, "gru", 2, 3, 1, 2, negate=True), tmp_path / "same.safetensors", dtype=np.float64)
    r = CliRunner().invoke(main, ["cosim", str(rom), "--load-weights", str(tmp_path / "same.safetensors")])
    assert r.exit_code == 2 and r.output.count("\n") == 1
    assert "needs an export with run-time weights (hwsim export --weights runtime), not weights = 'rom'" in r.output


@pytest.mark.rtl
@pytest.mark.skipif(__import__("shutil").which("iverilog") is None, reason="needs Icarus Verilog")
def test_two_exports_elaborate_in_one_design(make_model, tmp_path):
    """Module prefixes keep two exports apart: both tops and their blocks elaborate together in
    Icarus; the default prefix keeps today's names; constraint templates name the top's clock."""
    import subprocess

    from hwsim.export import write_export

    a = write_export(_q(make_model, "gru", 2, 3, 1, 2), tmp_path / "a", formats=("hex",), top_name="net_a",
                     module_prefix="net_a_", tb=False)
    b = write_export(_q(make_model, "lstm", 3, 4, 1, None), tmp_path / "b", RUNTIME, formats=("hex",),
                     top_name="net_b", module_prefix="net_b_", tb=False)
    assert "rtl/net_a_rom.v" in a.manifest["rtl"]["files"] and "rtl/net_b_loader.v" in b.manifest["rtl"]["files"]
    inst = re.findall(r"^\s*(\w+) #\($", (tmp_path / "a" / "rtl" / "net_a.v").read_text(), re.M)
    assert inst and all(i.startswith("net_a_") for i in inst), inst
    (tmp_path / "both.v").write_text(
        "module both(input wire clk);\n"
        "  net_a u_a (.clk(clk), .rst(1'b1), .s_axis_tvalid(1'b0), .m_axis_tready(1'b1));\n"
        "  net_b u_b (.clk(clk), .rst(1'b1), .s_axis_tvalid(1'b0), .m_axis_tready(1'b1), .s_load_tvalid(1'b0));\n"
        "endmodule\n")
    srcs = [str(tmp_path / "both.v")] + [str(tmp_path / d / f) for d, r in (("a", a), ("b", b)) for f in r.manifest["rtl"]["files"]]
    r = subprocess.run(["iverilog", "-g2012", "-o", str(tmp_path / "both.vvp"), "-s", "both", *srcs], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # the same two exports under the default prefix collide
    c = write_export(_q(make_model, "gru", 2, 3, 1, 2), tmp_path / "c", formats=("hex",), top_name="net_c", tb=False)
    srcs = [str(tmp_path / "c" / f) for f in c.manifest["rtl"]["files"]] + [str(tmp_path / "c" / "rtl" / "hwsim_rom.v")]
    r = subprocess.run(["iverilog", "-g2012", "-o", str(tmp_path / "c.vvp"), "-s", "net_c", *srcs], capture_output=True, text=True)
    assert r.returncode != 0 and "hwsim_rom" in (r.stdout + r.stderr)
    xdc = (tmp_path / "a" / "constraints" / "net_a.xdc").read_text()
    assert "create_clock -name clk -period 10.000 [get_ports clk]" in xdc
    assert "constraints/net_a.sdc" in a.manifest["files"]


def test_module_prefix_is_checked(make_model, tmp_path):
    from hwsim.export import write_export

    for bad in ("1x", "a-b", ""):
        with pytest.raises(FormatError, match=r"^module prefix must be a Verilog identifier"):
            write_export(_q(make_model, "gru", 2, 3, 1, 2), tmp_path / "e", module_prefix=bad)
    with pytest.raises(FormatError, match=r"^module prefix must give block names .* \(net_rom\)$"):
        write_export(_q(make_model, "gru", 2, 3, 1, 2), tmp_path / "e", module_prefix="net_", top_name="net_rom")
    assert not (tmp_path / "e").exists()


@pytest.mark.rtl
@pytest.mark.skipif(__import__("shutil").which("iverilog") is None, reason="needs Icarus Verilog")
def test_bare_rom_names_cosim(make_model, tmp_path):
    """--rom-names bare: the top opens "l0_weights.hex" (no directory), as Vivado and Quartus find
    project memory files; cosim copies the files into the run directory and matches the simulator."""
    from hwsim.export import write_export
    from hwsim.hdl._cosim import cosim, random_inputs, plan_from_export

    out = tmp_path / "e"
    write_export(_q(make_model, "gru", 2, 3, 1, 2), out, formats=("hex",), rom_names="bare", tb=False)
    top = (out / "rtl" / "hwsim_top.v").read_text()
    assert '.WEIGHT_FILE("l0_weights.hex")' in top and "{ROM_DIR" not in top
    plan, _ = plan_from_export(out)
    rep = cosim(out, random_inputs(plan, 2, 3, 0), build_dir=tmp_path / "b", simulator="icarus")
    assert rep.mismatches == 0 and rep.ok, rep.first_mismatch
    with pytest.raises(FormatError, match=r"^ROM file naming must be one of dir, bare, not 'flat'$"):
        write_export(_q(make_model, "gru", 2, 3, 1, 2), tmp_path / "f", rom_names="flat")
