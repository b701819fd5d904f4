"""hwsim.data._datasets: .npz data files, built-in data sets and their errors."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from hwsim.data._datasets import BUILTINS, DIGITS_TEST_SHARE, Dataset, file_parts, holdout, load_data, resolve_split
from hwsim._errors import DataError


def _npz(tmp_path, name="d.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def _err(*args, **kw) -> str:
    with pytest.raises(DataError) as info:
        load_data(*args, **kw)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_float_features_with_labels(tmp_path):
    x = np.random.default_rng(0).normal(size=(6, 4, 3))
    d = load_data(_npz(tmp_path, x=x, y=np.array([0, 2, 1, 2, 0, 1])))
    assert d.x.dtype == np.float32 and d.x.shape == (6, 4, 3)
    np.testing.assert_array_equal(d.x, x.astype(np.float32))
    assert (d.task, d.num_classes, d.y.dtype, len(d), d.steps, d.input_size) == ("classify", 3, np.int64, 6, 4, 3)


def test_features_without_targets(tmp_path):
    d = load_data(_npz(tmp_path, x=np.zeros((2, 3, 1), np.float32)))
    assert d.y is None and d.task is None and d.num_classes is None


def test_token_ids_are_one_hot(tmp_path):
    ids = np.array([[0, 3, 1], [2, 2, 4]])
    d = load_data(_npz(tmp_path, x=ids, y=np.array([[3, 1, 2], [2, 4, 0]])), input_size=5)
    assert d.x.shape == (2, 3, 5)
    np.testing.assert_array_equal(d.x.argmax(axis=2), ids)
    np.testing.assert_array_equal(d.x.sum(axis=2), 1)
    assert (d.task, d.num_classes) == ("next-symbol", 5)


def test_num_classes_from_file(tmp_path):
    d = load_data(_npz(tmp_path, x=np.zeros((2, 3, 1)), y=np.array([0, 1]), num_classes=np.array(10)))
    assert d.num_classes == 10
    assert re.search(r": 'y' labels must be < num_classes = 2, not 4$",
                     _err(_npz(tmp_path, "b.npz", x=np.zeros((2, 3, 1)), y=np.array([0, 4]), num_classes=np.array(2))))


def test_per_split_arrays(tmp_path):
    path = _npz(tmp_path, x_train=np.zeros((4, 2, 1)), y_train=np.arange(4), x_test=np.ones((2, 2, 1)), y_test=np.arange(2))
    assert file_parts(path) == ("train", "test")
    train = load_data(path, split="train")
    assert (len(train), train.split, train.name) == (4, "train", f"{path}:train")
    test = load_data(path)  # the test part by default
    assert len(test) == 2 and test.x.min() == 1 and test.split == "test" and test.label == f"{path}:test"
    full = load_data(path, split="all")  # the parts joined, in train, valid, test order
    assert (len(full), full.split, full.num_classes) == (6, "all", 4)
    np.testing.assert_array_equal(full.y, [0, 1, 2, 3, 0, 1])
    assert re.search(r"d\.npz has no 'valid' split: it holds x_train, x_test$", _err(path, split="valid"))


def test_a_split_is_never_ignored(tmp_path):
    """A file of one set has no parts: naming one is refused in one line, leaving it out reads the whole file."""
    path = _npz(tmp_path, x=np.zeros((5, 2, 1)), y=np.arange(5))
    assert file_parts(path) == () and resolve_split(path, None) is None and resolve_split(path, "all") is None
    d = load_data(path)
    assert (len(d), d.split, d.label) == (5, None, f"{path} (whole file)")
    assert len(load_data(path, split="all")) == 5
    for split in ("train", "valid", "test"):
        assert re.fullmatch(
            rf".*d\.npz holds one set \('x'\), not per-split arrays \(x_train, x_valid, x_test\): split '{split}' "
            r"cannot be chosen; leave the split out to use the whole file, or store its parts as x_<split>, y_<split>",
            _err(path, split=split))
    both = _npz(tmp_path, "both.npz", x=np.zeros((5, 2, 1)), x_test=np.zeros((1, 2, 1)))
    assert re.search(r"both\.npz: data file must hold either one set 'x' or per-split arrays x_<split>, not both$",
                     _err(both))
    assert resolve_split("digits", None) == "test" and resolve_split("digits", "train") == "train"


def _rows(d):
    return {r.tobytes() for r in d.x}


@pytest.mark.parametrize("seed", [0, 3])
def test_holdout_is_disjoint_stratified_and_seeded(seed):
    rng = np.random.default_rng(1)
    sizes = {0: 50, 1: 23, 2: 7, 3: 3, 4: 2, 5: 1}  # imbalanced, down to a class of one
    y = np.repeat(list(sizes), list(sizes.values())).astype(np.int64)
    x = rng.normal(size=(len(y), 3, 2)).astype(np.float32)  # every row unique
    ds = Dataset("d.npz", x, y, "classify", 6)
    train, valid, test = holdout(ds, valid_fraction=0.1, test_fraction=0.2, seed=seed)
    assert (train.split, valid.split, test.split) == ("train", "valid", "test")
    assert test.label == "d.npz:test (holdout)"
    assert _rows(train).isdisjoint(_rows(test)) and _rows(train).isdisjoint(_rows(valid))
    assert _rows(valid).isdisjoint(_rows(test))
    assert _rows(train) | _rows(valid) | _rows(test) == _rows(ds) and len(train) + len(valid) + len(test) == len(ds)
    assert set(train.y) == set(sizes)  # every class is trained on
    assert set(test.y) == {0, 1, 2, 3, 4}  # and tested on wherever it has two sequences
    assert set(valid.y) == {0, 1, 2, 3}
    assert [int(np.sum(test.y == c)) for c in sizes] == [10, 5, 1, 1, 1, 0]  # round(0.2 n), at least one
    again = holdout(ds, valid_fraction=0.1, test_fraction=0.2, seed=seed)[2]
    np.testing.assert_array_equal(again.x, test.x)
    other = holdout(ds, valid_fraction=0.1, test_fraction=0.2, seed=seed + 1)[2]
    assert _rows(other) != _rows(test)


def test_holdout_of_too_little_data_is_refused():
    ds = Dataset("d.npz", np.zeros((2, 1, 1), np.float32), np.array([0, 1]), "classify", 2)
    with pytest.raises(DataError, match=r"^d\.npz: 2 sequences are too few to hold out a validation and a test set "
                       r"\(fractions 0\.1 and 0\.2\); store the parts as x_train, x_valid, x_test$"):
        holdout(ds, valid_fraction=0.1, test_fraction=0.2, seed=0)


def test_digits():
    train, test, full = (load_data("digits", split=s) for s in ("train", "test", "all"))
    assert full.x.shape == (1797, 8, 8) and full.num_classes == 10 and full.task == "classify"
    assert len(train) + len(test) == len(full)
    assert abs(len(test) / len(full) - DIGITS_TEST_SHARE) < 0.01
    assert 0.0 == full.x.min() and full.x.max() == 1.0
    # stratified: every class keeps its share within one sample
    for c in range(10):
        assert abs(np.sum(test.y == c) - DIGITS_TEST_SHARE * np.sum(full.y == c)) <= 1
    # disjoint, and deterministic
    rows = lambda d: {r.tobytes() + bytes([int(lbl)]) for r, lbl in zip(d.x, d.y)}  # noqa: E731
    assert rows(train) | rows(test) == rows(full)
    np.testing.assert_array_equal(load_data("digits").x, test.x)


def test_unknown_and_missing_builtins(monkeypatch):
    assert _err("mnist") == "unknown data set 'mnist': not a file and not a built-in (digits, fashion, kjv)"
    monkeypatch.setitem(BUILTINS, "nope", "hwsim._data_nope:load")
    monkeypatch.setitem(sys.modules, "hwsim._data_nope", None)  # import fails like a missing module
    assert _err("nope") == "built-in data set 'nope' is not available in this install (no module hwsim._data_nope)"


def test_builtin_registry_calls_loader(monkeypatch):
    import types

    mod = types.ModuleType("hwsim._data_fake")
    mod.load = lambda split: Dataset(f"fake:{split}", np.zeros((1, 2, 3), np.float32))
    monkeypatch.setitem(sys.modules, "hwsim._data_fake", mod)
    monkeypatch.setitem(BUILTINS, "fake", "hwsim._data_fake:load")
    assert load_data("fake", split="train").name == "fake:train"


def test_bad_files(tmp_path):
    assert re.match(r"^data file must exist, not found: .*gone\.npz$", _err(tmp_path / "gone.npz"))
    assert _err("digits", split="dev") == "split must be one of train, valid, test, all, not 'dev'"
    assert _err(tmp_path / "gone.npz", split="dev") == "split must be one of train, valid, test, all, not 'dev'"
    (tmp_path / "t.npz").write_text("not a zip")
    assert re.search(r"t\.npz: data file must be an \.npz archive \(", _err(tmp_path / "t.npz"))
    np.save(tmp_path / "a.npy", np.zeros((2, 3, 4)))
    assert re.search(r": data file must be an \.npz archive holding 'x', not a single \.npy array$", _err(tmp_path / "a.npy"))
    assert re.search(r": data file must hold an array 'x' \(found y\)$", _err(_npz(tmp_path, y=np.arange(3))))
    assert re.search(r": 'x' must be \(N, T, I\) floats or \(N, T\) integer token ids, not float64 \(3, 4\)$",
                     _err(_npz(tmp_path, x=np.zeros((3, 4)))))
    assert re.search(r": 'x' must be \(N, T, I\) floats or \(N, T\) integer token ids, not int64 \(3, 4, 1\)$",
                     _err(_npz(tmp_path, x=np.zeros((3, 4, 1), np.int64))))
    x = np.zeros((3, 4, 2))
    x[0, 0, 0] = np.nan
    x[1, 1, 1] = np.inf
    assert re.search(r": 'x' holds 2 NaN/Inf values as float32; inputs must be finite$", _err(_npz(tmp_path, x=x)))
    assert re.search(r": 'x' must hold at least one sequence of one step, not shape \(0, 4, 2\)$",
                     _err(_npz(tmp_path, x=np.zeros((0, 4, 2)))))


def test_bad_targets(tmp_path):
    x = np.zeros((3, 4, 2))
    assert re.search(r": 'y' must have shape \(3,\) \(class labels\) or \(3, 4\) \(next-symbol targets\) to match 'x' \(3, 4, 2\), not \(2,\)$",
                     _err(_npz(tmp_path, x=x, y=np.arange(2))))
    assert re.search(r": 'y' must hold integer labels, not bool$", _err(_npz(tmp_path, x=x, y=np.ones(3, bool))))
    assert re.search(r": 'y' labels must be >= 0, not -1$", _err(_npz(tmp_path, x=x, y=np.array([0, -1, 1]))))
    bad = np.array([1, "a"], dtype=object)
    assert re.search(r": array 'y' holds Python objects \(pickled\); data files must hold plain arrays$",
                     _err(_npz(tmp_path, x=x, y=bad)))


def test_token_id_errors(tmp_path):
    path = _npz(tmp_path, x=np.array([[0, 1, 7]]))
    assert re.search(r": 'x' holds \(N, T\) token ids: the alphabet size \(the model's input size\) must be given$", _err(path))
    assert re.search(r": token ids in 'x' must lie in \[0, 4\] for 5 input symbols, not \[0, 7\]$", _err(path, input_size=5))


def test_dataset_validates_and_slices():
    with pytest.raises(DataError, match=r"^d: x must be a float32 \(N, T, I\) array, not float64 \(1, 2, 3\)$"):
        Dataset("d", np.zeros((1, 2, 3)))
    with pytest.raises(DataError, match=r"^d: classify targets y must be int64 \(1,\), not int64 \(1, 2\)$"):
        Dataset("d", np.zeros((1, 2, 3), np.float32), np.zeros((1, 2), np.int64), "classify", 2)
    with pytest.raises(DataError, match=r"^d: y, task and num_classes must be given together$"):
        Dataset("d", np.zeros((1, 2, 3), np.float32), np.zeros(1, np.int64))
    d = Dataset("d", np.zeros((5, 2, 3), np.float32), np.arange(5), "classify", 5)
    h = d.head(2)
    assert len(h) == 2 and list(h.y) == [0, 1] and h.num_classes == 5
    assert len(d.head(99)) == 5


def test_directory_is_refused_with_its_own_message(tmp_path):
    with pytest.raises(DataError, match=r"^data must be an \.npz file or a built-in name, not a directory: "):
        load_data(tmp_path)


def test_digits_read_without_scikit_learn_equal_its_loader():
    """hwsim reads scikit-learn's digits file itself (no 0.7 s import); the values must be its."""
    from sklearn.datasets import load_digits as sk_digits

    from hwsim.data._datasets import _sklearn_digits

    images, target = _sklearn_digits()
    d = sk_digits()
    np.testing.assert_array_equal(images, d.images)
    np.testing.assert_array_equal(target, d.target)
    full = load_data("digits", split="all")
    np.testing.assert_array_equal(full.x, (d.images / 16.0).astype(np.float32))
    np.testing.assert_array_equal(full.y, d.target)


def test_digits_has_no_valid_split():
    with pytest.raises(DataError, match=r"^digits has no 'valid' split: "):
        load_data("digits", split="valid")


def test_float_targets_are_regression(tmp_path):
    """One value or a vector per sequence ((N,), (N, D)), or per step ((N, T, D)); finite and shaped to x."""
    x = np.zeros((3, 4, 2))
    d = load_data(_npz(tmp_path, x=x, y=np.array([0.5, -1.0, 2.0])))
    assert (d.task, d.num_classes, d.y.dtype, d.y.shape) == ("regress", 1, np.float32, (3, 1))
    np.testing.assert_array_equal(d.y[:, 0], [0.5, -1.0, 2.0])
    d = load_data(_npz(tmp_path, x=x, y=np.ones((3, 5), np.float32)))
    assert (d.task, d.num_classes, d.y.shape) == ("regress", 5, (3, 5))
    d = load_data(_npz(tmp_path, x=x, y=np.ones((3, 4, 2), np.float16)))
    assert (d.task, d.num_classes, d.y.shape, d.y.dtype) == ("regress-steps", 2, (3, 4, 2), np.float32)
    bad = np.ones((3, 4, 2))
    bad[1, 2, 0], bad[2, 0, 1] = np.nan, np.inf
    assert re.search(r"d\.npz: 'y' holds 2 NaN/Inf values as float32; regression targets must be finite$",
                     _err(_npz(tmp_path, x=x, y=bad)))
    assert re.search(r": 'y' holds 1 NaN/Inf values as float32; regression targets must be finite$",
                     _err(_npz(tmp_path, x=x, y=np.array([1.0, 1e39, 0.0]))))  # overflows float32
    for shape in [(2,), (3, 5, 1), (3, 4, 0), (3, 0), (3, 4, 2, 1)]:
        assert re.search(
            r": 'y' float targets must have shape \(3,\) or \(3, D\) \(a value or a vector per sequence\) or "
            rf"\(3, 4, D\) \(per step\) to match 'x' \(3, 4, 2\), not {re.escape(str(shape))}$",
            _err(_npz(tmp_path, x=x, y=np.ones(shape)))), shape
    with pytest.raises(DataError, match=r"^d: regress targets y must be float32 \(2, 3\), not float32 \(2, 1\)$"):
        Dataset("d", np.zeros((2, 5, 1), np.float32), np.zeros((2, 1), np.float32), "regress", 3)
