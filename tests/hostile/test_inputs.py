"""Generated hostile inputs (hypothesis): quantization records, TOML contracts, manifests, npz
headers, labels and float inputs. Each case must be refused with exit 2 and one ``Error:`` line,
without a traceback, and leave every file as it was."""

from __future__ import annotations

import json
import math
import shutil
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from _promise import refused_untouched, snapshot
from hypothesis import given
from hypothesis import strategies as st

from hwsim.model._model import METHODS
from hwsim.model._modelfile import QUANT_META_KEY, model_to_tensors
from hwsim._validate import MAX_ELEMENTS

# -- value families ------------------------------------------------------------------------------------

huge = st.one_of(st.integers(min_value=2**31, max_value=2**80), st.integers(min_value=-(2**80), max_value=-(2**31)))
not_int = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.booleans(),
    st.lists(st.integers(-3, 3), max_size=2),
    st.dictionaries(st.sampled_from("ab"), st.integers(0, 3), max_size=1),
)
not_str = st.one_of(st.integers(), st.floats(allow_nan=True), st.booleans(), st.lists(st.text(max_size=2), max_size=2))


def outside(lo: int, hi: int):
    """Integers outside [lo, hi], near the edges and far."""
    return st.one_of(st.integers(lo - 1000, lo - 1), st.integers(hi + 1, hi + 1000), huge)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile_inputs")


def _case_dir(work: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=work))


# -- quantization records (model-file metadata) ----------------------------------------------------------

quant_mutations = st.one_of(
    st.tuples(st.just("bits"), st.one_of(not_int, st.none(), outside(1, 32))),
    st.tuples(st.just("scale"), st.one_of(not_int, st.none(), outside(-126, 127))),
    st.tuples(st.sampled_from(["e_min", "e_max"]), st.one_of(not_int, outside(-126, 127))),
    st.tuples(st.just("method"), st.one_of(not_str, st.none(), st.text(max_size=8).filter(lambda s: s not in METHODS))),
    st.tuples(st.just("biases"), st.one_of(not_str, st.text(max_size=8).filter(lambda s: s not in ("fixed", "quantized")))),
    st.tuples(st.just("zero"), st.one_of(st.integers(), st.text(max_size=3), st.none(), st.floats())),
    st.tuples(st.just("scales"), st.one_of(st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=2))),
    st.tuples(st.just("record"), st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2), st.none())),
    st.tuples(st.just("missing"), st.sampled_from(["method", "bits", "scales"])),
)


@given(mutation=quant_mutations)
def test_quantization_records(work, assets, qmodel, mutation):
    from safetensors.numpy import save_file

    field, value = mutation
    rec = json.loads(qmodel.quant.to_json())
    if field == "scale":
        rec["scales"][next(iter(rec["scales"]))] = value
    elif field == "missing":
        del rec[value]
    elif field == "record":
        rec = value
    else:
        rec[field] = value
    d = _case_dir(work)
    model = d / "bad.safetensors"
    save_file(model_to_tensors(qmodel), str(model), metadata={QUANT_META_KEY: json.dumps(rec)})
    refused_untouched(d, "export", model, "-o", d / "out", pattern=r"quantization record")


# -- TOML contracts ---------------------------------------------------------------------------------------


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=True)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


INT_RANGES = {"lut_bits": (1, 16), "sigmoid_range_log2": (0, 6), "tanh_range_log2": (0, 6),
              "bias_int_bits": (0, 16), "word_bits": (1, 1024), "lanes": (1, 65536), "rows": (1, 65536),
              "pointwise_units": (0, 1)}  # pointwise_units divides rows (1 by default)
CHOICES = {"rounding": ("floor", "half_up", "half_even", "zero"), "overflow": ("saturate", "wrap"), "activation": ("lut", "pwl")}
FORMATS = ("x", "h", "c", "pre", "act", "out")

toml_mutations = st.one_of(
    st.sampled_from(sorted(INT_RANGES)).flatmap(
        lambda k: st.tuples(st.just(k), st.one_of(not_int.filter(lambda v: v is not None), outside(*INT_RANGES[k])))),
    st.sampled_from(sorted(CHOICES)).flatmap(
        lambda k: st.tuples(st.just(k), st.one_of(not_str, st.text(max_size=6).filter(lambda s: s not in CHOICES[k])))),
    st.tuples(st.sampled_from(FORMATS), st.one_of(
        st.integers(), st.text(max_size=3), st.floats(allow_nan=False), st.booleans(),
        st.lists(st.integers(2, 20), min_size=3, max_size=4), st.lists(st.integers(2, 20), max_size=1),
        st.fixed_dictionaries({"bits": not_int, "frac": st.just(3)}),
        st.fixed_dictionaries({"bits": outside(2, 24), "frac": st.just(1)}),
        st.fixed_dictionaries({"bits": st.just(16), "frac": st.one_of(not_int, outside(0, 15))}),
        st.fixed_dictionaries({"bits": st.just(16)}),
    )),
    st.tuples(st.just("unknown"), st.text(alphabet="abcdefgh_", min_size=1, max_size=6).filter(
        lambda s: s not in (*INT_RANGES, *CHOICES, *FORMATS))),
)


@given(mutation=toml_mutations, engine=st.sampled_from(["export", "infer-float"]))
def test_toml_contracts(work, assets, mutation, engine):
    key, value = mutation
    d = _case_dir(work)
    cfg = d / "dp.toml"
    cfg.write_text(f"{value} = 1\n" if key == "unknown" else f"{key} = {toml_value(value)}\n")
    if engine == "export":
        args = ("export", assets / "q.safetensors", "-o", d / "out", "--config", cfg)
    else:
        args = ("infer", assets / "q.safetensors", "--data", assets / "data.npz", "--engine", "float",
                "--config", cfg, "-o", d / "out.npz")
    refused_untouched(d, *args, pattern=r"dp\.toml")


# -- manifests --------------------------------------------------------------------------------------------

MANIFEST_PATHS = [
    ("manifest_version",), ("contract",), ("contract", "x"), ("contract", "lanes"), ("model",), ("model", "cell"),
    ("model", "input_size"), ("codes", "bits"), ("roms",), ("roms", 0, "word_bits"), ("roms", 0, "files"),
    ("roms", 0, "segments"), ("roms", 0, "name"), ("layers",), ("layers", 0, "weights_rom"), ("layers", 0, "bias_rom"),
    ("layers", 0, "accumulations"), ("layers", 0, "accumulations", 0, "bias"), ("layers", 0, "acc_bits"),
    ("rtl", "files"), ("rtl", "top"), ("files",), ("head", "weights_rom"),
]


def wrong_type(v):
    """Values of a type the manifest never has at a place holding ``v``."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str, list, dict)):
        return st.integers()
    if isinstance(v, int):
        return st.one_of(st.text(max_size=3), st.floats(), st.lists(st.integers(), max_size=2), st.none())
    if isinstance(v, str):
        return st.one_of(st.integers(), st.lists(st.text(max_size=2), max_size=2), st.none(), st.booleans())
    if isinstance(v, list):
        return st.one_of(st.text(max_size=3), st.integers(), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))
    return st.one_of(st.text(max_size=3), st.integers(), st.lists(st.integers(), max_size=2), st.none())


def _get(d, path):
    for p in path:
        d = d[p]
    return d


manifest_mutations = st.one_of(
    st.tuples(st.just("delete"), st.sampled_from(MANIFEST_PATHS), st.none()),
    st.sampled_from(MANIFEST_PATHS).flatmap(lambda p: st.tuples(st.just("retype"), st.just(p), st.just(None))),
    st.tuples(st.just("unlist"), st.sampled_from(["rom/l0_weights.hex", "rom/l0_bias.hex", "rtl/hwsim_top.v", "*"]), st.none()),
    st.tuples(st.just("rehash"), st.sampled_from(["rom/l0_weights.hex", "rtl/hwsim_layer.v"]), st.none()),
    st.tuples(st.just("extra_rtl"), st.just("rtl/evil.v"), st.none()),
)


@given(mutation=manifest_mutations, command=st.sampled_from(["synth", "cosim"]), data=st.data())
def test_manifests(work, assets, mutation, command, data):
    kind, path, _ = mutation
    d = _case_dir(work)
    exp = d / "export"
    shutil.copytree(assets / "export", exp)
    man = json.loads((exp / "manifest.json").read_text())
    if kind == "delete":
        parent = _get(man, path[:-1])
        del parent[path[-1]]
    elif kind == "retype":
        parent = _get(man, path[:-1])
        parent[path[-1]] = data.draw(wrong_type(parent[path[-1]]))
    elif kind == "unlist":
        if path == "*":
            man["files"] = {}
        else:
            del man["files"][path]
    elif kind == "rehash":
        f = exp / path
        f.write_bytes(f.read_bytes() + b"// edited\n")
    else:
        (exp / path).write_text("module evil; endmodule\n")
    (exp / "manifest.json").write_text(json.dumps(man))
    args = ("synth", exp, "--target", "ice40") if command == "synth" else ("cosim", exp, "--random", "1")
    # The tools are hidden, so a manifest that slipped through fails fast on "yosys must be
    # installed" / "needs Icarus", which the pattern does not accept.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", str(d))
        refused_untouched(d, *args, pattern=r"manifest\.json|SHA-256")


# -- npz headers: declared shapes checked before allocation -------------------------------------------------


def npy_bytes(shape, descr: str, payload: bytes) -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": tuple(shape)}).encode("latin1")
    pad = 64 - (10 + len(header) + 1) % 64
    header += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


npy_members = st.one_of(
    st.tuples(
        st.lists(st.integers(0, 2**40), min_size=0, max_size=4),
        st.sampled_from(["<f4", "<f8", "<i8", "|u1", "<u8", "<f2"]),
        st.integers(0, 96),
    ).filter(lambda t: math.prod(t[0]) > MAX_ELEMENTS or math.prod(t[0]) * np.dtype(t[1]).itemsize != t[2]).map(
        lambda t: npy_bytes(t[0], t[1], b"\0" * t[2])),
    st.binary(max_size=80).map(lambda b: b"\x93NUMPY\x01\x00" + b),  # garbage header
)


@given(member=npy_members, target=st.sampled_from(["data", "model"]))
def test_npz_headers(work, assets, qmodel, member, target):
    d = _case_dir(work)
    bad = d / "bad.npz"
    with zipfile.ZipFile(bad, "w") as z:
        if target == "data":
            z.writestr("x.npy", member)
        else:
            for k, v in model_to_tensors(qmodel).items():
                z.writestr(f"{k}.npy", member if k.endswith("weight_ih_l0") else npy_bytes(v.shape, "<f4", v.tobytes()))
    if target == "data":
        args = ("infer", assets / "q.safetensors", "--data", bad, "-o", d / "out.npz")
    else:
        args = ("export", bad, "-o", d / "out")
    refused_untouched(d, *args)


# -- labels: integers in range whatever their dtype ---------------------------------------------------------

label_cases = st.one_of(
    st.tuples(st.just("uint64"), st.integers(2**63, 2**64 - 1)),
    st.tuples(st.sampled_from(["int8", "int16", "int32", "int64"]), st.integers(-128, -1)),
    st.tuples(st.sampled_from(["uint8", "int16", "int32", "uint32", "int64", "uint64"]), st.integers(3, 127)),
)


@given(case=label_cases, command=st.sampled_from(["check", "infer-float", "infer-fixed", "report"]))
def test_labels(work, assets, case, command):
    dtype, bad = case
    d = _case_dir(work)
    y = np.array([0, 1, 2, 1], dtype=np.uint64 if dtype == "uint64" else dtype)
    y[2] = bad  # out of range: negative, >= 2**63, or beyond the model's 3 classes
    np.savez(d / "d.npz", x=np.zeros((4, 5, 3), np.float32), y=y)
    refused_untouched(d, *_command(command, assets, d), pattern=r"labels|targets")


def _command(command, assets, d):
    q, data = assets / "q.safetensors", d / "d.npz"
    return {
        "check": ("check", q, "--data", data),
        "infer-float": ("infer", q, "--data", data, "-o", d / "o.npz"),
        "infer-fixed": ("infer", q, "--data", data, "--engine", "fixed", "-o", d / "o.npz"),
        "report": ("report", q, "--data", data, "-o", d / "r"),
    }[command]


# -- float inputs: finite after the cast to float32 ----------------------------------------------------------

input_cases = st.one_of(
    st.tuples(st.just("float64"), st.one_of(st.floats(3.5e38, 1.7e308), st.floats(-1.7e308, -3.5e38),
                                            st.sampled_from([math.inf, -math.inf, math.nan]))),
    st.tuples(st.sampled_from(["float16", "float32"]), st.sampled_from([math.inf, -math.inf, math.nan])),
)


@given(case=input_cases, command=st.sampled_from(["check", "infer-float", "infer-fixed", "report"]))
def test_float_inputs(work, assets, case, command):
    dtype, bad = case
    d = _case_dir(work)
    x = np.zeros((4, 5, 3), dtype)
    x[1, 2, 0] = bad
    np.savez(d / "d.npz", x=x, y=np.array([0, 1, 2, 1]))
    refused_untouched(d, *_command(command, assets, d), pattern=r"NaN/Inf values as float32")


def test_num_classes_must_be_one_integer(work, assets):
    for bad in (np.array([3, 4]), np.array("10"), np.array(2.5), np.array(0), np.array(2**40)):
        d = _case_dir(work)
        np.savez(d / "d.npz", x=np.zeros((4, 5, 3), np.float32), y=np.array([0, 1, 2, 1]), num_classes=bad)
        refused_untouched(d, "check", assets / "q.safetensors", "--data", d / "d.npz", pattern=r"'num_classes' must be")
    assert snapshot(assets)  # the shared inputs are still there
