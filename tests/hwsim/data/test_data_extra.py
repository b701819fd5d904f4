"""The system-package data sets: fashion (Fashion-MNIST rows) and kjv (King James Bible characters)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from hwsim.data import _fashion as _data_fashion, _kjv as _data_kjv
from hwsim.data._datasets import load_data
from hwsim._errors import DataError

has_fashion = (_data_fashion.DEFAULT_DIR / "t10k-images-idx3-ubyte.gz").is_file()
has_bible = shutil.which("bible") is not None
needs_fashion = pytest.mark.skipif(not has_fashion, reason="apt-get install dataset-fashion-mnist")
needs_bible = pytest.mark.skipif(not has_bible, reason="apt-get install bible-kjv-text")


# ------------------------------------------------------------------------------------- fashion


@needs_fashion
def test_fashion_test_split():
    d = load_data("fashion", split="test")
    assert d.x.shape == (10000, 28, 28) and d.x.dtype == np.float32
    assert d.task == "classify" and d.num_classes == 10
    assert d.x.min() == 0.0 and d.x.max() == 1.0
    assert set(np.unique(d.y)) == set(range(10))
    # pixels are k/255 exactly as float32
    np.testing.assert_array_equal(np.round(d.x[:5] * 255), d.x[:5] * np.float32(255))


@needs_fashion
def test_fashion_train_and_valid_partition_the_training_images():
    train, valid, whole = (_data_fashion.load(s) for s in ("train", "valid", "all"))
    assert len(train) == 50000 and len(valid) == 10000 and len(whole) == 60000
    np.testing.assert_array_equal(np.concatenate([train.y, valid.y]), whole.y)
    np.testing.assert_array_equal(valid.x[-1], whole.x[-1])


def test_fashion_missing_package(monkeypatch, tmp_path):
    monkeypatch.setenv("HWSIM_FASHION_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"^Fashion-MNIST file .*t10k-labels-idx1-ubyte\.gz is missing: "
                       r"install it with `apt-get install dataset-fashion-mnist`$"):
        load_data("fashion")


def test_fashion_bad_split():
    with pytest.raises(DataError, match=r"^fashion split must be one of train, valid, test, all, not 'dev'$"):
        _data_fashion.load("dev")


def test_fashion_truncated_file(monkeypatch, tmp_path):
    import gzip

    monkeypatch.setenv("HWSIM_FASHION_DIR", str(tmp_path))
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(bytes(8) + bytes([1, 2]))
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(bytes(16) + bytes(784))
    with pytest.raises(DataError, match=r"^Fashion-MNIST t10k: 784 pixels for 2 labels, need 784 each$"):
        _data_fashion.load("test")


# ----------------------------------------------------------------------------------------- kjv


def test_kjv_normalize():
    assert _data_kjv.normalize("And GOD said, Let there be light!  (Selah) sin-offering's\n") == (
        "and god said, let there be light. selah sin offerings "
    )
    assert _data_kjv.normalize("Jesus wept: 1 2 3 &") == "jesus wept: "
    assert len(_data_kjv.VOCAB) == 32 and len(set(_data_kjv.VOCAB)) == 32


def test_kjv_encode_and_one_hot():
    codes = _data_kjv.encode("ab ?")
    assert codes.tolist() == [1, 2, 0, 31]
    oh = _data_kjv.one_hot(codes)
    assert oh.shape == (4, 32) and oh.dtype == np.float32
    np.testing.assert_array_equal(oh.argmax(-1), codes)
    with pytest.raises(DataError, match=r"^text holds characters outside the kjv vocabulary; normalize\(\) it first$"):
        _data_kjv.encode("A")


@needs_bible
def test_kjv_books_and_splits():
    books = _data_kjv.books()
    assert len(books) == 66
    assert list(books)[0] == "Genesis" and list(books)[-1] == "Revelation"
    assert books["Genesis"].startswith("in the beginning god created the heaven and the earth. and the earth")
    assert books["John"].count("jesus wept.") == 1
    train = _data_kjv.split_text("train")
    for name in _data_kjv.TEST_BOOKS + _data_kjv.VALID_BOOKS:
        assert books[name] not in train  # whole books are held out
    assert set(_data_kjv.split_text("all")) <= set(_data_kjv.VOCAB)


@needs_bible
def test_kjv_dataset_targets_are_the_next_character():
    d = load_data("kjv", split="test")
    n = (len(_data_kjv.split_text("test")) - 1) // _data_kjv.SEQ_LEN
    assert d.x.shape == (n, 64, 32) and d.y.shape == (n, 64)
    assert d.task == "next-symbol" and d.num_classes == 32
    np.testing.assert_array_equal(d.x[:, 1:].argmax(-1), d.y[:, :-1])
    np.testing.assert_array_equal(d.x[1:, 0].argmax(-1), d.y[:-1, -1])  # windows are contiguous
    assert (d.x.sum(-1) == 1).all()


@needs_bible
def test_kjv_valid_split_and_bad_split():
    t = _data_kjv.tokens("valid", seq_len=16)
    assert t.shape[1] == 17
    with pytest.raises(DataError, match=r"^kjv split must be one of train, valid, test, all, not 'dev'$"):
        _data_kjv.split_text("dev")


def test_kjv_missing_program(monkeypatch):
    monkeypatch.setenv("HWSIM_BIBLE", "/nonexistent/bible")
    _data_kjv.books.cache_clear()
    try:
        with pytest.raises(DataError, match=r"^the King James Bible text is missing \(no `/nonexistent/bible` program\): "
                           r"install it with `apt-get install bible-kjv-text` \(which brings the `bible` program\)$"):
            load_data("kjv")
    finally:
        _data_kjv.books.cache_clear()


def test_kjv_program_without_data(monkeypatch, tmp_path):
    fake = tmp_path / "bible"
    fake.write_text("#!/bin/sh\necho 'Genesis 1'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("HWSIM_BIBLE", str(fake))
    _data_kjv.books.cache_clear()
    try:
        with pytest.raises(DataError, match=r"^`.*bible` printed no complete King James Bible \(data file missing\?\): "
                           r"install it with `apt-get install bible-kjv-text`"):
            _data_kjv.load("test")
    finally:
        _data_kjv.books.cache_clear()
