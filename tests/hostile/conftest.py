"""The hostile-input suite: every input a careful user could get wrong, or an attacker could craft,
is refused with exit status 2, one ``Error:`` line, no traceback, and no file created or changed
(``_promise.py`` states that once). Shared here: a tiny quantized model, its file, a data file
and an export of it.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import make_model

from hwsim.model._modelfile import save_model
from hwsim.model._quant import quantize_model


@pytest.fixture(scope="session")
def qmodel():
    return quantize_model(make_model("gru", 3, 4, 1, 3, seed=7), "ternary")


@pytest.fixture(scope="session")
def assets(tmp_path_factory, qmodel):
    """Read-only inputs: a quantized model file, a data file, and an export of the model."""
    from hwsim.export import write_export

    d = tmp_path_factory.mktemp("assets")
    save_model(qmodel, d / "q.safetensors")
    rng = np.random.default_rng(0)
    np.savez(d / "data.npz", x=rng.normal(size=(4, 5, 3)).astype(np.float32), y=np.array([0, 1, 2, 1]))
    write_export(qmodel, d / "export")
    return d
