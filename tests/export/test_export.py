"""write_export and ``hwsim export`` (export/_export.py, hwsim/cli/_export.py): atomic, refuses bad input."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest
from click.testing import CliRunner

from hwsim.datapath._config import DatapathConfig
from hwsim._errors import ConfigError, FormatError, HwsimError
from hwsim.model._modelfile import save_model
from hwsim.model._quant import quantize_model
from hwsim.cli import main
from hwsim.export import FORMATS, read_manifest, write_export
from hwsim._fsutil import MARKER, _umask
from hwsim.export import _export as export_mod


@pytest.fixture
def qmodel(make_model):
    return quantize_model(make_model("gru", 4, 5, 1, 3, seed=3), "ternary")


@pytest.fixture
def qfile(qmodel, tmp_path):
    p = tmp_path / "q.safetensors"
    save_model(qmodel, p)
    return p


def test_export_writes_every_format_and_hashes(qmodel, tmp_path):
    res = write_export(qmodel, tmp_path / "out", rtl=False)
    out = tmp_path / "out"
    man = read_manifest(out)  # verifies every SHA-256
    roms = [r["name"] for r in man["roms"]]
    expected = {f"rom/{n}{s}" for n in roms for s in FORMATS.values()}
    assert set(man["files"]) == expected
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} == expected | {"manifest.json", MARKER}
    assert res.files[-1] == "manifest.json" and sorted(os.listdir(tmp_path)) == ["out"]
    assert out.stat().st_mode & 0o777 == 0o777 & ~_umask()  # not mkdtemp's 0700


def test_hex_is_always_written(qmodel, tmp_path):
    write_export(qmodel, tmp_path / "out", formats="mif", rtl=False)
    man = read_manifest(tmp_path / "out")
    assert man["formats"] == ["hex", "mif"] and set(man["roms"][0]["files"]) == {"hex", "mif"}


def test_changed_file_fails_verification(qmodel, tmp_path):
    write_export(qmodel, tmp_path / "out", formats="hex", rtl=False)
    (tmp_path / "out" / "rom" / "l0_bias.hex").write_text("0\n")
    with pytest.raises(FormatError, match=r"^rom/l0_bias\.hex: SHA-256 must match the manifest; the file was changed$"):
        read_manifest(tmp_path / "out")


def test_existing_dir_needs_force_and_force_replaces_only_hwsim_output(qmodel, tmp_path):
    out = tmp_path / "out"
    write_export(qmodel, out, rtl=False)
    (out / "sim_build").mkdir()  # a build product (hwsim's own tools leave these)
    (out / "sim_build" / "stale.txt").write_text("x")
    with pytest.raises(HwsimError, match=r"^output directory .*out exists; pass --force to replace it$"):
        write_export(qmodel, out, rtl=False)
    assert (out / "sim_build" / "stale.txt").exists()
    write_export(qmodel, out, force=True, rtl=False)
    assert not (out / "sim_build").exists() and (out / "manifest.json").is_file()
    # a file of the user's added to hwsim's output keeps it from being replaced, --force included
    (out / "notes.txt").write_text("mine")
    with pytest.raises(HwsimError, match=r"^output directory .*out holds notes.txt, which hwsim did not write there; "):
        write_export(qmodel, out, force=True, rtl=False)
    (out / "notes.txt").unlink()
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no temporary or old sibling left
    # a directory of the user's own files is never replaced, --force included
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("keep me")
    for force in (False, True):
        with pytest.raises(HwsimError, match=r"^output directory .*mine holds files hwsim did not write \(no \.hwsim-output\)"):
            write_export(qmodel, mine, force=force, rtl=False)
    assert os.listdir(mine) == ["thesis.tex"] and sorted(os.listdir(tmp_path)) == ["mine", "out"]


def test_error_midway_leaves_nothing(qmodel, tmp_path, monkeypatch):
    out = tmp_path / "out"
    calls = []

    def boom(*args, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return b"00\n"

    monkeypatch.setattr(export_mod, "format_words", boom)
    with pytest.raises(OSError, match=r"^disk full$"):
        write_export(qmodel, out, rtl=False)
    assert os.listdir(tmp_path) == []
    # With --force the old export survives a failed replacement untouched.
    monkeypatch.undo()
    write_export(qmodel, out, formats="hex", rtl=False)
    before = (out / "manifest.json").read_bytes()
    calls.clear()
    monkeypatch.setattr(export_mod, "format_words", boom)
    with pytest.raises(OSError):
        write_export(qmodel, out, force=True, rtl=False)
    assert (out / "manifest.json").read_bytes() == before and os.listdir(tmp_path) == ["out"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"formats": "hex,vhdl"}, FormatError, r"^format must be one of hex, memb, coe, mif, bin, not 'vhdl'$"),
        ({"top_name": "1top"}, FormatError, r"^top module name must be a Verilog identifier .*, not '1top'$"),
        ({"top_name": "module"}, FormatError, r"^top module name must be a Verilog identifier .*, not 'module'$"),
    ],
)
def test_bad_input_writes_nothing(qmodel, tmp_path, kwargs, error, message):
    with pytest.raises(error, match=message):
        write_export(qmodel, tmp_path / "out", rtl=False, **kwargs)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["a b", 'x"y', "-x"])
def test_bad_directory_names(qmodel, tmp_path, name):
    with pytest.raises(FormatError, match=r"^output directory (name|path) must "):
        write_export(qmodel, tmp_path / name, rtl=False)
    assert os.listdir(tmp_path) == []


# ---- CLI -------------------------------------------------------------------------------------


def _run(*args):
    return CliRunner().invoke(main, ["export", *map(str, args)])


def test_cli_export(qfile, tmp_path):
    r = _run(qfile, "-o", tmp_path / "out", "--word-bits", 64, "--lanes", 4, "--rows", 2, "--pointwise-units", 1,
             "--formats", "coe,bin")
    assert r.exit_code == 0, r.output
    man = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert man["contract"]["word_bits"] == 64 and man["contract"]["lanes"] == 4 and man["contract"]["rows"] == 2
    assert man["formats"] == ["hex", "coe", "bin"]
    # a tile is 2 rows x 4 lanes of 2-bit codes = 16 bits: four tiles share a 64-bit word
    w = man["roms"][0]
    assert (w["tile_rows"], w["tile_lanes"], w["tiles_per_word"], w["codes_per_word"], w["word_bits"]) == (2, 4, 4, 32, 64)
    assert man["schedule"]["pointwise_units"] == 1 and man["schedule"]["rows"] == 2


def test_cli_export_stream_knobs(qfile, tmp_path):
    """--in-elems / --out-elems / --out-mode reach the contract, the manifest's stream and the top's ports."""
    r = _run(qfile, "-o", tmp_path / "out", "--in-elems", 3, "--out-elems", 2, "--out-mode", "last")
    assert r.exit_code == 0, r.output
    man = json.loads((tmp_path / "out" / "manifest.json").read_text())
    c = man["contract"]
    assert (c["in_elems"], c["out_elems"], c["out_mode"]) == (3, 2, "last")
    # I = 4 in 2 beats of 3 lanes, H = 5 in 3 beats of 2 lanes, C = 3 in 2 beats
    assert man["stream"] == {"in_elems": 3, "out_elems": 2, "out_mode": "last", "s_axis_tdata_bits": 48,
                             "m_axis_tdata_bits": 32, "in_lane_bits": 16, "out_lane_bits": 16,
                             "input_beats_per_step": 2, "h_beats": 3, "head_beats": 2}
    assert (man["schedule"]["input_beats"], man["schedule"]["output_beats"], man["schedule"]["head_beats"]) == (2, 3, 2)
    top = (tmp_path / "out" / "rtl" / "hwsim_top.v").read_text()
    assert "input  wire [48-1:0]        s_axis_tdata" in top and "output wire [32-1:0]        m_axis_tdata" in top
    assert ".IN_ELEMS(3), .OUT_ELEMS(2), .OUT_MODE(1)" in top


def test_export_default_stream_keeps_the_contract_dict(qfile, tmp_path):
    """The defaults (one element a beat, every step's h) leave the contract as it always was."""
    r = _run(qfile, "-o", tmp_path / "out")
    assert r.exit_code == 0, r.output
    man = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert not {"in_elems", "out_elems", "out_mode"} & set(man["contract"])
    assert man["stream"]["s_axis_tdata_bits"] == 16 and man["stream"]["m_axis_tdata_bits"] == 16
    assert read_manifest(tmp_path / "out")["stream"]["out_mode"] == "steps"


def test_out_mode_head_needs_a_head(make_model, tmp_path):
    q = quantize_model(make_model("gru", 3, 4, 1, None), "ternary")
    with pytest.raises(ConfigError, match=r'^out_mode = "head" needs a model with a head \(classes\), this one has none$'):
        write_export(q, tmp_path / "out", DatapathConfig(out_mode="head"))
    with pytest.raises(ConfigError, match=r"^out_elems must be in \[1, H\] = \[1, 4\], not 5$"):
        write_export(q, tmp_path / "out", DatapathConfig(out_elems=5))
    assert not (tmp_path / "out").exists()


def test_cli_export_lanes_need_not_divide_anything(qfile, tmp_path):
    r = _run(qfile, "-o", tmp_path / "out", "--word-bits", 31, "--lanes", 5, "--rows", 3)
    assert r.exit_code == 0, r.output
    w = json.loads((tmp_path / "out" / "manifest.json").read_text())["roms"][0]
    assert (w["tiles_per_word"], w["word_bits"]) == (1, 30)  # one 3 x 5 tile of 2-bit codes


def test_cli_export_reads_config(qfile, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('word_bits = 16\nactivation = "pwl"\n')
    r = _run(qfile, "-o", tmp_path / "out", "--config", cfg)
    assert r.exit_code == 0, r.output
    man = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert man["contract"]["word_bits"] == 16 and [r["name"] for r in man["roms"]][-1] == "head_bias"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--formats", "hex,xyz"), r"^Error: format must be one of hex, memb, coe, mif, bin, not 'xyz'$"),
        (("--rows", "0"), r"^Error: rows must be at least 1, not 0$"),
        (("--word-bits", "2048"), r"^Error: word width must be in \[1, 1024\] bits, not 2048$"),
        (("--rows", "4", "--pointwise-units", "3"),
         r"^Error: pointwise_units must be 0 \(one per row PE\) or divide rows \(4\), not 3$"),
        (("--top-name", "top-1"), r"^Error: top module name must be a Verilog identifier .*, not 'top-1'$"),
        (("--in-elems", "5"), r"^Error: in_elems must be in \[1, I\] = \[1, 4\], not 5$"),
        (("--in-elems", "0"), r"^Error: in_elems must be at least 1, not 0$"),
        (("--out-elems", "6"), r"^Error: out_elems must be in \[1, max\(H, C\)\] = \[1, 5\], not 6$"),
        (("--out-elems", "4", "--out-mode", "head"), r"^Error: out_elems must be in \[1, C\] = \[1, 3\], not 4$"),
        (("--out-mode", "all"), r"^Error: Invalid value for '--out-mode': 'all' is not one of 'steps', 'last', 'head'\.$"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(qfile, tmp_path, args, message):
    r = _run(qfile, "-o", tmp_path / "out", *args)
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and __import__("re").match(message, lines[0]), r.output
    assert sorted(os.listdir(tmp_path)) == ["q.safetensors"]


def test_cli_existing_dir_without_force(qfile, tmp_path):
    (tmp_path / "out").mkdir()
    r = _run(qfile, "-o", tmp_path / "out")
    assert r.exit_code == 2 and r.output.strip().endswith("exists; pass --force to replace it")
    assert os.listdir(tmp_path / "out") == []
    r = _run(qfile, "-o", tmp_path / "out", "--force")
    assert r.exit_code == 0 and (tmp_path / "out" / "manifest.json").is_file()


def test_cli_unquantized_model_is_refused(make_model, tmp_path):
    p = tmp_path / "f.safetensors"
    save_model(make_model("gru", 3, 4, 1, None), p)
    r = _run(p, "-o", tmp_path / "out")
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()




def test_rtl_files_are_written_and_hashed(qmodel, tmp_path):
    res = write_export(qmodel, tmp_path / "out", formats="hex", top_name="my_rnn")
    man = read_manifest(tmp_path / "out")
    assert res.rtl_written and man["rtl"]["top"] == "my_rnn"
    assert "rtl/my_rnn.v" in man["rtl"]["files"] and set(man["rtl"]["files"]) <= set(man["files"])
    assert man["schedule"]["cycles_per_step"] > 0


def test_rtl_refusal_leaves_nothing(qmodel, tmp_path):
    with pytest.raises(FormatError, match=r"^top module name must differ from the library blocks"):
        write_export(qmodel, tmp_path / "out", formats="hex", top_name="hwsim_lane")
    assert os.listdir(tmp_path) == []


def test_per_row_scales_export_a_row_shift_rom_per_layer_and_head(make_model, tmp_path):
    """A row-scaled model exports (API and CLI): beside each bias ROM a row-shift ROM whose fields are
    the plan's row shifts, named by the layer / head entries; the plan read back from the export is
    the exported one, shifts included (what hwsim cosim simulates)."""
    import numpy as np

    from hwsim.datapath._plan import lower
    from hwsim.export._manifest import bias_fields, read_rom
    from hwsim.hdl._cosim import plan_from_export

    m = make_model("lstm", 3, 5, 2, 3)
    m = dataclasses.replace(m, layers=tuple(dataclasses.replace(
        l, w_ih=l.w_ih * np.ldexp(1.0, -(np.arange(l.w_ih.shape[0]) % 3))[:, None],
        w_hh=l.w_hh * np.ldexp(1.0, -(np.arange(l.w_hh.shape[0]) % 3))[:, None]) for l in m.layers))
    q = quantize_model(m, "ternary", scale="row")
    cfg = DatapathConfig(rows=2, lanes=3)
    plan = lower(q, cfg)
    res = write_export(q, tmp_path / "out", cfg, formats=("hex", "mif"))
    man = read_manifest(tmp_path / "out")
    roms = {r["name"]: r for r in man["roms"]}
    for k, lp in enumerate(plan.layers):
        entry = man["layers"][k]
        assert entry["row_shift_rom"] == f"l{k}_shift"
        rom = roms[f"l{k}_shift"]
        e_max = max(int(a.shifts().max()) for a in lp.accums)
        assert e_max >= 1 and rom["role"] == "row_shift" and rom["signed"] is False and rom["layer"] == k
        assert rom["field_bits"] == e_max.bit_length() and rom["word_bits"] == 2 * rom["field_bits"]
        assert rom["depth"] == roms[f"l{k}_bias"]["depth"]  # read at the bias ROM's address
        fields = bias_fields(read_rom(tmp_path / "out", rom["name"], "mif", man), rom)
        for a, aj, seg in zip(lp.accums, entry["accumulations"], rom["segments"]):
            assert aj["row_shift"] == a.shifts().tolist()
            assert fields[seg["start"] * 2 : seg["start"] * 2 + seg["rows"]].tolist() == a.shifts().tolist()
    assert man["head"]["row_shift_rom"] == "head_shift" and man["head"]["row_shift"] == plan.head.shifts().tolist()
    key = "rnn.weight_ih_l0"
    assert man["tensors"][key]["scale_log2"] == list(q.quant.scales[key])
    assert "value" not in man["tensors"][key]["values"][0]
    back, _ = plan_from_export(tmp_path / "out")
    for lp, lb in zip(plan.layers, back.layers):
        for a, b in zip(lp.accums, lb.accums):
            np.testing.assert_array_equal(a.row_shift, b.row_shift)
    np.testing.assert_array_equal(plan.head.row_shift, back.head.row_shift)
    assert "rom/l0_shift.hex" in res.files
    p = tmp_path / "q.safetensors"
    save_model(q, p)
    r = _run(p, "-o", tmp_path / "cli")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "cli" / "rom" / "head_shift.hex").is_file()


def test_per_tensor_scales_export_no_row_shift_rom(qmodel, tmp_path):
    man = write_export(qmodel, tmp_path / "out", DatapathConfig(weight_scales="row"), formats="hex").manifest
    assert [r["role"] for r in man["roms"]].count("row_shift") == 0
    assert man["layers"][0]["row_shift_rom"] is None and "row_shift" not in man["layers"][0]["accumulations"][0]
    assert man["head"]["row_shift_rom"] is None
