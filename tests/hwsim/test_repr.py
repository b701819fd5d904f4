"""hwsim._repr: reprs of models and results stay one short line."""

from __future__ import annotations

import re

import hwsim


def test_reprs_are_short_and_show_shapes(tmp_path):
    m = hwsim.load_model(hwsim.default_model_path())
    ds = hwsim.load_data("digits", split="test").head(2)
    res = hwsim.write_export(m, tmp_path / "e", hwsim.DatapathConfig())
    objects = [m, ds, hwsim.run_fixed(m, ds.x), hwsim.float_forward(m, ds.x), hwsim.lower(m, hwsim.DatapathConfig()), res]
    for obj in objects:
        text = repr(obj)
        assert "\n" not in text and len(text) < 1200, text
        assert text.startswith(type(obj).__name__ + "(")
    assert re.fullmatch(r"ExportResult\(path='.*e', manifest=\{\.\.\.\d+ keys\}, files=\(\d+ items: '.*', \.\.\.\), rtl_written=True\)", repr(res))
    assert "w_hh=<float64 96x32>" in repr(m) and "x=<float32 2x8x8>" in repr(ds)
