"""``hwsim quantize`` through click's CliRunner, on model files written with safetensors directly."""

from __future__ import annotations

import os

import numpy as np
import pytest
from click.testing import CliRunner
from safetensors.numpy import save_file

from hwsim.model._model import METHODS
from hwsim.model._modelfile import load_model
from hwsim.model._quant import decode_model_codes, quantize_model
from hwsim.cli import main

STOCH = [m for m in METHODS if m.endswith("-stoch")]


def _run(*args):
    return CliRunner().invoke(main, ["quantize", *map(str, args)])


def _one_line_error(r, pattern: str) -> None:
    import re

    assert r.exit_code == 2, r.output
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert re.match(pattern, lines[0]), lines[0]


def _state_dict(G: int = 3, I: int = 5, H: int = 6, C: int = 4, layers: int = 2, seed: int = 0) -> dict:
    """A float32 state_dict with torch names: nn.GRU (G=3) under 'rnn.', nn.Linear under 'fc.'."""
    rng = np.random.default_rng(seed)
    sd = {}
    for k in range(layers):
        n_in = I if k == 0 else H
        sd[f"rnn.weight_ih_l{k}"] = rng.normal(0, 0.4, (G * H, n_in))
        sd[f"rnn.weight_hh_l{k}"] = rng.normal(0, 0.4, (G * H, H))
        sd[f"rnn.bias_ih_l{k}"] = rng.normal(0, 0.4, G * H)
        sd[f"rnn.bias_hh_l{k}"] = rng.normal(0, 0.4, G * H)
    sd["fc.weight"] = rng.normal(0, 0.4, (C, H))
    sd["fc.bias"] = rng.normal(0, 0.4, C)
    return {k: v.astype(np.float32) for k, v in sd.items()}


@pytest.fixture
def gru_file(tmp_path):
    path = tmp_path / "gru.safetensors"
    save_file(_state_dict(), str(path))
    return path


@pytest.mark.parametrize("method", METHODS)
def test_every_method_writes_a_decodable_model(tmp_path, gru_file, method):
    out = tmp_path / "q.safetensors"
    r = _run(gru_file, "-o", out, "--method", method, "--seed", 5)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"wrote {out}: {method}, ")
    assert r.stderr == ""
    q = load_model(out)
    assert q.quant is not None and q.quant.method == method and q.quant.biases == "fixed"
    codes = decode_model_codes(q)
    assert sorted(codes) == sorted(k for k in q.tensor_keys() if "bias" not in k)
    # The command is a thin layer: the file holds exactly what the library function returns.
    expected = quantize_model(load_model(gru_file), method, seed=5)
    assert q.quant == expected.quant
    for key in q.tensor_keys():
        np.testing.assert_array_equal(q.tensor(key), expected.tensor(key).astype(np.float32))
    for key, (m, s) in codes.items():
        assert f"  {key} " in r.stdout and f"s = {s:4d}" in r.stdout


def test_options_reach_the_quantizer(tmp_path, gru_file):
    out = tmp_path / "q.safetensors"
    r = _run(gru_file, "-o", out, "--method", "exp-stoch", "--e-min", -9, "--e-max", -1,
             "--biases", "quantized", "--paper-exact", "--seed", 3)
    assert r.exit_code == 0, r.output
    q = load_model(out)
    spec = q.quant
    assert (spec.bits, spec.e_min, spec.e_max, spec.zero, spec.biases) == (5, -9, -1, False, "quantized")
    assert spec.params["seed"] == 3 and set(spec.scales.values()) == {-9}
    assert all((m != 0).all() for m, _ in decode_model_codes(q).values())

    r = _run(gru_file, "-o", out, "--method", "ternary", "--w0", 0.2, "--force")
    assert r.exit_code == 0, r.output
    assert set(load_model(out).quant.scales.values()) == {-2}

    r = _run(gru_file, "-o", out, "--method", "uniform", "--bits", 6, "--force")
    assert r.exit_code == 0, r.output
    assert load_model(out).quant.bits == 6 and set(load_model(out).quant.scales.values()) == {-5}

    r = _run(gru_file, "-o", out, "--method", "binary", "--H", 0.25, "--force")
    assert r.exit_code == 0, r.output
    assert set(np.unique(load_model(out).tensor("rnn.weight_hh_l1"))) == {-0.25, 0.25}


@pytest.mark.parametrize("method", STOCH)
def test_seed_makes_stochastic_runs_reproducible(tmp_path, gru_file, method):
    paths = []
    for i, seed in enumerate([1, 1, 2]):
        paths.append(tmp_path / f"q{i}.safetensors")
        assert _run(gru_file, "-o", paths[-1], "--method", method, "--seed", seed).exit_code == 0
    a, b, c = (load_model(p) for p in paths)
    keys = list(a.quant.scales)
    assert all(np.array_equal(a.tensor(k), b.tensor(k)) for k in keys)
    assert not all(np.array_equal(a.tensor(k), c.tensor(k)) for k in keys)


def test_npz_output_and_relu_cell(tmp_path):
    sd = {k: v for k, v in _state_dict(G=1, layers=1).items() if not k.startswith("fc.")}
    src = tmp_path / "relu.safetensors"
    save_file(sd, str(src))
    out = tmp_path / "q.npz"
    r = _run(src, "-o", out, "--method", "pow2-ternary", "--cell", "rnn_relu")
    assert r.exit_code == 0, r.output
    q = load_model(out, cell="rnn_relu")
    assert q.cell == "rnn_relu" and q.head is None
    assert list(decode_model_codes(q)) == ["rnn.weight_ih_l0", "rnn.weight_hh_l0"]


def test_refuses_existing_output_without_force(tmp_path, gru_file):
    out = tmp_path / "q.safetensors"
    out.write_bytes(b"keep me")
    r = _run(gru_file, "-o", out, "--method", "exp")
    _one_line_error(r, rf"^Error: output file {out} exists; pass --force to overwrite it$")
    assert out.read_bytes() == b"keep me"
    r = _run(tmp_path / "missing.safetensors", "-o", out, "--method", "exp")  # input errors first
    _one_line_error(r, r"^Error: model file must exist, not found: .*missing\.safetensors$")
    r = _run(gru_file, "-o", out, "--method", "exp", "--force")
    assert r.exit_code == 0, r.output
    assert load_model(out).quant.method == "exp"


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["--method", "exp", "--bits", 7], r"^Error: exp codes must be 2 to 6 bits wide, not 7$"),
        (["--method", "binary", "--bits", 2], r"^Error: bits must be 1 for binary \(a fixed code width\), not 2$"),
        (["--method", "binary", "--H", 3], r"^Error: H must be a power of two \(\.\.\., 0\.5, 1, 2, \.\.\.\), not 3$"),
        (["--method", "ternary", "--w0", 0], r"^Error: w0 must be a positive number, not 0$"),
        (["--method", "exp", "--e-min", 0, "--e-max", -2], r"^Error: e_min must be at most e_max, not e_min=0 > e_max=-2$"),
        (["--method", "ternary", "--paper-exact"], r"^Error: --paper-exact applies to exp and exp-stoch only, not ternary$"),
        (["--method", "uniform", "--e-max", 0], r"^Error: e_min/e_max apply to exp and exp-stoch only, not uniform$"),
        (["--method", "exp", "--cell", "lstm"], r"^Error: .*cell 'lstm' needs 4H = 24 rows in 'rnn\.weight_hh_l0' \(H = 6\), not 18"),
        (["--method", "fp8"], r"^Error: Invalid value for '--method': 'fp8' is not one of "),
        (["--method", "exp", "--biases", "float"], r"^Error: Invalid value for '--biases': 'float' is not one of 'fixed', 'quantized'\.$"),
    ],
)
def test_bad_input_is_one_line_and_no_file(tmp_path, gru_file, args, pattern):
    out = tmp_path / "q.safetensors"
    r = _run(gru_file, "-o", out, *args)
    assert r.exit_code == 2, r.output
    assert re_search_last(r.stderr, pattern)
    if "Invalid value" not in pattern:  # click's usage errors print a usage line first
        _one_line_error(r, pattern)
    assert sorted(os.listdir(tmp_path)) == ["gru.safetensors"]


def re_search_last(text: str, pattern: str) -> bool:
    import re

    return re.match(pattern, text.strip().splitlines()[-1]) is not None


def test_bad_files(tmp_path):
    out = tmp_path / "q.safetensors"
    r = _run(tmp_path / "missing.safetensors", "-o", out, "--method", "exp")
    _one_line_error(r, r"^Error: model file must exist, not found: .*missing\.safetensors$")
    (tmp_path / "junk.safetensors").write_bytes(b"\x80\x02junk")
    r = _run(tmp_path / "junk.safetensors", "-o", out, "--method", "exp")
    _one_line_error(r, r"^Error: .*junk\.safetensors")
    src = tmp_path / "m.safetensors"
    save_file(_state_dict(), str(src))
    r = _run(src, "-o", tmp_path / "q.pt", "--method", "exp")
    _one_line_error(r, r"^Error: output file name must end in \.safetensors or \.npz, not 'q\.pt'$")
    assert sorted(os.listdir(tmp_path)) == ["junk.safetensors", "m.safetensors"]


@pytest.mark.parametrize("method", ["binary", "ternary", "pow2-ternary"])
def test_scale_row_writes_per_row_scales(tmp_path, gru_file, method):
    out = tmp_path / "q.safetensors"
    r = _run(gru_file, "-o", out, "--method", method, "--scale", "row")
    assert r.exit_code == 0, r.output
    q = load_model(out)
    expected = quantize_model(load_model(gru_file), method, scale="row")
    assert q.quant == expected.quant and q.quant.granularity == "row"
    for key, (m, s) in decode_model_codes(q).items():
        assert f"s = {int(s.min())}..{int(s.max())} (per row)" in r.stdout


def test_scale_row_refuses_exp(tmp_path, gru_file):
    r = _run(gru_file, "-o", tmp_path / "q.safetensors", "--method", "exp", "--scale", "row")
    _one_line_error(r, r"^Error: per-row scales apply to binary, binary-stoch, ternary, ternary-stoch, pow2-ternary, not exp$")
