"""Fashion-MNIST as a sequence task: 28 steps of 28-pixel rows (the stand-in for sequential MNIST).

The images come from the Debian package ``dataset-fashion-mnist`` (IDX files under
/usr/share/datasets/fashion-mnist); nothing is downloaded. Pixels are scaled to [0, 1] by /255.

Splits: ``train`` is the first 50 000 training images, ``valid`` the last 10 000 of them,
``test`` the 10 000 test images, ``all`` the 60 000 training images.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from .._errors import DataError

#: Where the Debian package puts the files; HWSIM_FASHION_DIR overrides it (tests, other systems).
DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
SPLITS = ("train", "valid", "test", "all")
N_VALID = 10_000
CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


def data_dir() -> Path:
    """The folder holding the four IDX files."""
    return Path(os.environ.get("HWSIM_FASHION_DIR", DEFAULT_DIR))


def _read_idx(path: Path, offset: int) -> np.ndarray:
    if not path.is_file():
        raise DataError(
            f"Fashion-MNIST file {path} is missing: install it with `apt-get install dataset-fashion-mnist`"
        )
    try:
        with gzip.open(path, "rb") as f:
            return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)
    except (OSError, EOFError, ValueError) as e:
        raise DataError(f"Fashion-MNIST file {path} is unreadable ({e})") from None


def load_raw(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) of the IDX pair ``kind`` ("train" or "t10k")."""
    d = data_dir()
    labels = _read_idx(d / f"{kind}-labels-idx1-ubyte.gz", 8)
    images = _read_idx(d / f"{kind}-images-idx3-ubyte.gz", 16)
    if images.size != labels.size * 784:
        raise DataError(f"Fashion-MNIST {kind}: {images.size} pixels for {labels.size} labels, need 784 each")
    return images.reshape(-1, 28, 28), labels


def load(split: str = "test"):
    """The ``split`` of Fashion-MNIST as a classification Dataset (x: (N, 28, 28) float32 in [0, 1])."""
    from ._datasets import Dataset

    if split not in SPLITS:
        raise DataError(f"fashion split must be one of {', '.join(SPLITS)}, not {split!r}")
    images, labels = load_raw("t10k" if split == "test" else "train")
    if split == "train":
        images, labels = images[:-N_VALID], labels[:-N_VALID]
    elif split == "valid":
        images, labels = images[-N_VALID:], labels[-N_VALID:]
    x = images.astype(np.float32) / np.float32(255.0)
    return Dataset(name=f"fashion:{split}", x=x, y=labels.astype(np.int64), task="classify", num_classes=10,
                   split=split)
