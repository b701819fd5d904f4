"""Each case issue #11 lists, by name: every one exited 0 with a wrong answer, gave a traceback, or
lost a file before the fix. (The generated families in test_inputs.py / test_outputs.py cover the
neighbourhood of each.)"""

from __future__ import annotations

import json
import shutil
import struct
import zipfile

import numpy as np
import pytest
from _promise import refused_untouched
from safetensors.numpy import save_file

from hwsim.model._modelfile import QUANT_META_KEY, model_to_tensors


@pytest.mark.parametrize("field,value", [("scale", float("inf")), ("scale", 1e30), ("e_min", 1.5)])
def test_quantization_metadata(tmp_path, qmodel, field, value):
    rec = json.loads(qmodel.quant.to_json())
    if field == "scale":
        rec["scales"] = {k: value for k in rec["scales"]}
    else:
        rec[field] = value
    save_file(model_to_tensors(qmodel), str(tmp_path / "m.safetensors"), metadata={QUANT_META_KEY: json.dumps(rec)})
    refused_untouched(tmp_path, "export", tmp_path / "m.safetensors", "-o", tmp_path / "out", pattern=r"must be a valid integer")


@pytest.mark.parametrize("value", ['"16"', "16.0", "true"])
@pytest.mark.parametrize("where", ["toml", "manifest"])
def test_format_field_of_the_wrong_type(tmp_path, assets, value, where):
    if where == "toml":
        (tmp_path / "dp.toml").write_text(f"[x]\nbits = {value}\nfrac = 12\n")
        refused_untouched(tmp_path, "export", assets / "q.safetensors", "-o", tmp_path / "out", "--config",
                          tmp_path / "dp.toml", pattern=r"x\.bits must be a valid integer")
    else:
        exp = tmp_path / "export"
        shutil.copytree(assets / "export", exp)
        man = json.loads((exp / "manifest.json").read_text())
        man["contract"]["x"]["bits"] = json.loads(value)
        (exp / "manifest.json").write_text(json.dumps(man))
        for cmd in (("cosim", exp, "--random", "1"), ("synth", exp, "--target", "ice40")):
            refused_untouched(tmp_path, *cmd, pattern=r"contract: x\.bits must be a valid integer")


def test_uint64_labels_above_2_63(tmp_path, assets):
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 5, 3), np.float32), y=np.array([0, 1, 2**63, 1], np.uint64))
    for cmd in (("check", assets / "q.safetensors", "--data", tmp_path / "d.npz"),
                ("infer", assets / "q.safetensors", "--data", tmp_path / "d.npz", "-o", tmp_path / "o.npz")):
        refused_untouched(tmp_path, *cmd, pattern=r"labels must be < 16777216, not 9223372036854775808$")


def test_float64_inputs_beyond_float32(tmp_path, assets):
    x = np.zeros((4, 5, 3))
    x[0, 0, 0] = 1e39
    np.savez(tmp_path / "d.npz", x=x, y=np.array([0, 1, 2, 1]))
    for cmd in (("check",), ("report", "-o", tmp_path / "r"), ("infer", "-o", tmp_path / "o.npz"),
                ("infer", "--engine", "fixed", "-o", tmp_path / "o.npz")):
        refused_untouched(tmp_path, cmd[0], assets / "q.safetensors", "--data", tmp_path / "d.npz", *cmd[1:],
                          pattern=r"holds 1 NaN/Inf values as float32")


@pytest.mark.parametrize("config", ["missing.toml", "zero_bits.toml"])
def test_infer_float_reads_its_config(tmp_path, assets, config):
    (tmp_path / "zero_bits.toml").write_text("x = [0, 0]\n")
    refused_untouched(tmp_path, "infer", assets / "q.safetensors", "--data", assets / "data.npz", "--engine", "float",
                      "--config", tmp_path / config, "-o", tmp_path / "o.npz", pattern=r"config file must exist|width must be in")


def test_infer_refuses_labels_beyond_the_classes_like_check(tmp_path, assets):
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 5, 3), np.float32), y=np.array([0, 1, 7, 1]))
    for cmd in (("check",), ("infer", "-o", tmp_path / "o.npz")):
        refused_untouched(tmp_path, cmd[0], assets / "q.safetensors", "--data", tmp_path / "d.npz", *cmd[1:],
                          pattern=r"targets must be below the model's 3 classes, not up to 7$")


def test_empty_files_table_cannot_switch_the_hash_check_off(tmp_path, assets):
    exp = tmp_path / "export"
    shutil.copytree(assets / "export", exp)
    rom = exp / "rom" / "l0_weights.hex"
    rom.write_text(rom.read_text().replace("0", "1", 1))  # an edited ROM
    man = json.loads((exp / "manifest.json").read_text())
    man["files"] = {}
    (exp / "manifest.json").write_text(json.dumps(man))
    refused_untouched(tmp_path, "cosim", exp, "--random", "1", pattern=r"must be listed under files with its SHA-256")


@pytest.mark.parametrize("container", ["npz", "npy"])
def test_data_file_declaring_a_huge_shape(tmp_path, assets, container):
    header = repr({"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6, 10**3)}).encode()
    header += b" " * (64 - (10 + len(header) + 1) % 64) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header
    bomb = tmp_path / f"bomb.{container}"
    if container == "npz":
        with zipfile.ZipFile(bomb, "w") as z:
            z.writestr("x.npy", npy)
    else:
        bomb.write_bytes(npy)
    assert bomb.stat().st_size < 400
    refused_untouched(tmp_path, "infer", assets / "q.safetensors", "--data", bomb, "-o", tmp_path / "o.npz",
                      pattern=r"must have at most 268435456 elements|not a single \.npy array")


@pytest.mark.parametrize("edit", ["no layers", "files as a list", "rtl as a string"])
@pytest.mark.parametrize("command", ["cosim", "synth"])
def test_malformed_manifests(tmp_path, assets, edit, command):
    exp = tmp_path / "export"
    shutil.copytree(assets / "export", exp)
    man = json.loads((exp / "manifest.json").read_text())
    if edit == "no layers":
        del man["layers"]
    elif edit == "files as a list":
        man["files"] = list(man["files"])
    else:
        man["rtl"] = "rtl/hwsim_top.v"
    (exp / "manifest.json").write_text(json.dumps(man))
    args = ("cosim", exp, "--random", "1") if command == "cosim" else ("synth", exp, "--target", "ice40")
    refused_untouched(tmp_path, *args, pattern=r"manifest\.json: (layers|files|rtl) must")

