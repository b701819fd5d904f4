"""Data: the built-in data sets and ``.npz`` data files (``load_data``, in ``_datasets``), and the
files shipped inside the package: the default model and its record.

``default_gru.safetensors`` is a small ternary GRU trained on the ``digits`` data set;
``default_gru.json`` holds the exact ``hwsim train`` command that produced it and its metrics.
Both are read with importlib.resources, so they work from a wheel as well as a checkout.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

DEFAULT_MODEL = "default_gru.safetensors"
DEFAULT_RECORD = "default_gru.json"


def data_path(name: str) -> Path:
    """Path of a file shipped in ``hwsim.data``."""
    return Path(str(files(__name__).joinpath(name)))


def default_model_path() -> Path:
    """The shipped default model (hwsim check / export / demo run on it without torch or network)."""
    return data_path(DEFAULT_MODEL)


def default_record_path() -> Path:
    """The JSON record (command line and metrics) of the default model."""
    return data_path(DEFAULT_RECORD)
