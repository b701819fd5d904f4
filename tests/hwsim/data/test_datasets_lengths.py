"""The ``lengths`` key of .npz data files: variable-length sequences, padding never read."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

import naive
from hwsim._errors import DataError
from hwsim.cli import main
from hwsim.data._datasets import load_data
from hwsim.datapath._config import DatapathConfig
from hwsim.model._modelfile import load_model, save_model
from hwsim.sim._sim import run_fixed


def _data(tmp_path, name="d.npz", n=12, t=6, i=3, lengths=None, **extra):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, t, i)).astype(np.float32)
    lengths = rng.integers(1, t + 1, size=n) if lengths is None else lengths
    pad = np.arange(t)[None, :] >= np.asarray(lengths).reshape(-1)[:n, None] if np.ndim(lengths) == 1 and len(lengths) == n else None
    if pad is not None:
        x[pad] = np.nan  # padding: anything
    arrays = {"x": x, "y": rng.integers(0, 2, size=n), "lengths": lengths, **extra}
    np.savez(tmp_path / name, **arrays)
    return tmp_path / name


def test_lengths_load_and_the_padding_is_zeroed(tmp_path):
    ds = load_data(_data(tmp_path))
    assert ds.lengths.dtype == np.int64 and ds.lengths.shape == (12,)
    assert np.isfinite(ds.x).all()
    assert ds.head(5).lengths.tolist() == ds.lengths[:5].tolist()


def test_per_split_lengths(tmp_path):
    x = np.zeros((4, 3, 2), np.float32)
    np.savez(tmp_path / "s.npz", x_test=x, y_test=np.zeros(4, np.int64), lengths_test=np.array([1, 2, 3, 3]),
             x_train=x, y_train=np.zeros(4, np.int64))
    assert load_data(tmp_path / "s.npz", split="test").lengths.tolist() == [1, 2, 3, 3]
    assert load_data(tmp_path / "s.npz", split="train").lengths is None


@pytest.mark.parametrize("lengths, message", [
    (np.array([0, 1, 2, 3]), r"'lengths' must lie in \[1, 6\] \(the steps of x\), not 0 \(sequence 0\)$"),
    (np.array([1, 2, 7, 3]), r"'lengths' must lie in \[1, 6\] \(the steps of x\), not 7 \(sequence 2\)$"),
    (np.array([1, 2, 3]), r"'lengths' must hold one integer per sequence, shape \(4,\), not int64 \(3,\)$"),
    (np.array([[1, 2, 3, 4]]), r"'lengths' must hold one integer per sequence, shape \(4,\), not int64 \(1, 4\)$"),
    (np.array([1.0, 2.0, 3.0, 4.0]), r"'lengths' must hold one integer per sequence, shape \(4,\), not float64 \(4,\)$"),
], ids=["zero", "beyond_T", "too_few", "2d", "floats"])
def test_bad_lengths_are_one_line_exit_2(tmp_path, lengths, message):
    path = _data(tmp_path, n=4, lengths=lengths)
    with pytest.raises(DataError, match=r"^.*d\.npz: " + message):
        load_data(path)
    model = naive.random_quant_model(np.random.default_rng(1), "gru", 3, 4, 1, 2)
    save_model(model, tmp_path / "q.safetensors")
    r = CliRunner().invoke(main, ["check", str(tmp_path / "q.safetensors"), "--data", str(path)])
    assert r.exit_code == 2, r.output
    assert len(r.stderr.splitlines()) == 1 and re.search(message, r.stderr)


def test_next_symbol_targets_with_lengths_are_refused(tmp_path):
    np.savez(tmp_path / "n.npz", x=np.zeros((2, 3), np.int64), y=np.zeros((2, 3), np.int64), lengths=np.array([1, 3]))
    with pytest.raises(DataError, match=r"^.*n\.npz: lengths go with class labels y \(N,\), not with next-symbol targets"):
        load_data(tmp_path / "n.npz", input_size=4)


def test_check_reads_each_sequence_at_its_own_last_step(tmp_path):
    path = _data(tmp_path)
    model = naive.random_quant_model(np.random.default_rng(1), "lstm", 3, 8, 2, 3)
    save_model(model, tmp_path / "q.safetensors")
    ds = load_data(path)
    # labels: the fixed-point model's own argmax at each sequence's last step, so fixed accuracy is 1
    y = run_fixed(model, ds.x, DatapathConfig(), lengths=ds.lengths).y.argmax(1)
    with np.load(path) as f:
        np.savez(path, **{**dict(f), "y": y})
    r = CliRunner().invoke(main, ["check", str(tmp_path / "q.safetensors"), "--data", str(path), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["fixed_metric"] == 1.0
    # the same labels read at step T - 1 (the padding) would not all be right
    y_pad = run_fixed(model, ds.x, DatapathConfig()).y.argmax(1)
    assert (y_pad != y).any()


@pytest.mark.parametrize("engine", ["float", "fixed"])
def test_infer_stops_each_sequence_at_its_last_step(tmp_path, engine):
    from hwsim.sim._reference import float_forward

    path = _data(tmp_path)
    model = naive.random_quant_model(np.random.default_rng(1), "gru", 3, 8, 1, 3)
    save_model(model, tmp_path / "q.safetensors")
    r = CliRunner().invoke(main, ["infer", str(tmp_path / "q.safetensors"), "--data", str(path), "--engine", engine,
                                  "-o", str(tmp_path / "out.npz")])
    assert r.exit_code == 0, r.output
    ds = load_data(path)
    model = load_model(tmp_path / "q.safetensors")  # as written: float32 biases
    with np.load(tmp_path / "out.npz") as z:
        assert z["lengths"].tolist() == ds.lengths.tolist()
        for n, k in enumerate(ds.lengths):
            alone = (float_forward(model, ds.x[n : n + 1, :k]) if engine == "float"
                     else run_fixed(model, ds.x[n : n + 1, :k], DatapathConfig()))
            np.testing.assert_allclose(z["y"][n], alone.y[0], rtol=1e-12, atol=0)


@pytest.mark.torch
def test_train_refuses_variable_length_data_in_one_line(tmp_path):
    """hwsim train would read the padding as steps: refused, never a silent padded run."""
    pytest.importorskip("torch")
    path = _data(tmp_path, n=40)
    out = tmp_path / "m.safetensors"
    r = CliRunner().invoke(main, ["train", "--cell", "gru", "--hidden", "4", "--method", "ternary", "--data", str(path),
                                  "--epochs", "1", "-o", str(out)])
    assert r.exit_code == 2, r.output
    assert len(r.stderr.splitlines()) == 1
    assert re.search(r"d\.npz: hwsim train does not take variable-length sequences \('lengths'\) yet; train with "
                     r"hwsim\.torch layers \(examples/varlen_gru\.py\), then hwsim quantize and check$", r.stderr)
    assert not out.exists()
