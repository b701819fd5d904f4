"""Character-level language modelling on the King James Bible (the stand-in for Penn Treebank chars).

The text comes from the Debian packages ``bible-kjv-text`` (the compressed text) and ``bible-kjv``
(the ``bible`` program that prints it); nothing is downloaded. Metric: bits per character.

Text normalization (a fixed vocabulary of 32 symbols, so the one-hot input is 32 wide):
verse numbers and chapter headings are dropped, verses are joined by one space, letters are
lower-cased, ``!`` becomes ``.``, ``(``, ``)``, ``-`` and line breaks become spaces, ``'`` is removed,
any other character is dropped and runs of spaces collapse to one. ``VOCAB`` lists the symbols in
code order.

Splits are whole books, so no verse of the evaluation text is seen in training:
``valid`` = Ruth, Mark, Galatians; ``test`` = Jonah, John, Romans; ``train`` = the other 60 books;
``all`` = all 66. Each split's text is cut into non-overlapping sequences of ``SEQ_LEN`` + 1
characters; x is the one-hot of the first ``SEQ_LEN``, y the next character at every step.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess

import numpy as np

from .._errors import DataError

VOCAB = " abcdefghijklmnopqrstuvwxyz.,;:?"
SEQ_LEN = 64
SPLITS = ("train", "valid", "test", "all")
VALID_BOOKS = ("Ruth", "Mark", "Galatians")
TEST_BOOKS = ("Jonah", "John", "Romans")
_HEADING = re.compile(r"^(.+) (\d+)$")
_VERSE = re.compile(r"^\s+\d+ (.*)$")
_INSTALL = "install it with `apt-get install bible-kjv-text` (which brings the `bible` program)"


def _bible_text() -> str:
    exe = os.environ.get("HWSIM_BIBLE", "bible")
    if shutil.which(exe) is None:
        raise DataError(f"the King James Bible text is missing (no `{exe}` program): {_INSTALL}")
    try:
        out = subprocess.run(
            [exe, "-l100000", "Genesis1:1-Revelation22:21"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
    except (subprocess.SubprocessError, OSError) as e:
        raise DataError(f"`{exe}` failed to print the King James Bible ({e}): {_INSTALL}") from None
    if "Revelation 22" not in out:
        raise DataError(f"`{exe}` printed no complete King James Bible (data file missing?): {_INSTALL}")
    return out


def normalize(text: str) -> str:
    """Map raw verse text onto ``VOCAB`` (see the module docstring)."""
    t = text.lower().replace("!", ".").replace("'", "")
    t = re.sub(r"[()\-\s]", " ", t)
    t = "".join(ch for ch in t if ch in VOCAB)
    return re.sub(r" +", " ", t)


@functools.lru_cache(maxsize=1)
def books() -> dict[str, str]:
    """Book name -> its normalized text (verses joined by one space), in canonical order."""
    out: dict[str, list[str]] = {}
    book = None
    for line in _bible_text().splitlines():
        if not line.strip():
            continue
        m = _VERSE.match(line)
        if m:
            if book is None:
                raise DataError("the `bible` output has a verse before the first chapter heading")
            out[book].append(m.group(1))
            continue
        h = _HEADING.match(line)
        if h is None:
            raise DataError(f"unexpected line in the `bible` output: {line[:60]!r}")
        book = h.group(1)
        out.setdefault(book, [])
    if len(out) != 66:
        raise DataError(f"the King James Bible must have 66 books, the `bible` program printed {len(out)}")
    return {name: normalize(" ".join(verses)).strip() for name, verses in out.items()}


def split_text(split: str) -> str:
    """The normalized text of a split: its books joined by one space."""
    if split not in SPLITS:
        raise DataError(f"kjv split must be one of {', '.join(SPLITS)}, not {split!r}")
    names = list(books())
    held_out = set(VALID_BOOKS) | set(TEST_BOOKS)
    chosen = {
        "train": [n for n in names if n not in held_out],
        "valid": list(VALID_BOOKS),
        "test": list(TEST_BOOKS),
        "all": names,
    }[split]
    return " ".join(books()[n] for n in chosen)


def encode(text: str) -> np.ndarray:
    """Character codes (uint8) of normalized text."""
    table = np.full(256, 255, dtype=np.uint8)
    for i, ch in enumerate(VOCAB):
        table[ord(ch)] = i
    codes = table[np.frombuffer(text.encode("ascii"), dtype=np.uint8)]
    if (codes == 255).any():
        raise DataError("text holds characters outside the kjv vocabulary; normalize() it first")
    return codes


def tokens(split: str, seq_len: int = SEQ_LEN) -> np.ndarray:
    """(N, seq_len + 1) uint8 codes: non-overlapping windows of the split's text."""
    codes = encode(split_text(split))
    n = (len(codes) - 1) // seq_len
    idx = np.arange(n)[:, None] * seq_len + np.arange(seq_len + 1)[None, :]
    return codes[idx]


def one_hot(codes: np.ndarray) -> np.ndarray:
    """float32 one-hot of uint8 codes, shape codes.shape + (len(VOCAB),)."""
    return np.eye(len(VOCAB), dtype=np.float32)[codes]


def load(split: str = "test"):
    """The ``split`` as a next-symbol Dataset: x (N, 64, 32) one-hot float32, y (N, 64) int64."""
    from ._datasets import Dataset

    t = tokens(split)
    return Dataset(
        name=f"kjv:{split}", x=one_hot(t[:, :-1]), y=t[:, 1:].astype(np.int64), task="next-symbol",
        num_classes=len(VOCAB), split=split,
    )
