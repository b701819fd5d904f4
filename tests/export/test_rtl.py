"""export/_rtl.py: the generated top and the copied blocks (no simulator needed)."""

from __future__ import annotations

import re

import pytest

from hwsim.datapath._config import DatapathConfig
from hwsim._errors import FormatError


@pytest.fixture
def plan(make_model):
    from hwsim.datapath._plan import lower
    from hwsim.model._quant import quantize_model

    return lower(quantize_model(make_model("lstm", 3, 5, 2, 4), "ternary"), DatapathConfig(lanes=2))


def test_write_rtl_copies_blocks_and_writes_top(plan, tmp_path):
    from hwsim.export._rtl import RTL_SOURCES, write_rtl

    files = write_rtl(plan, tmp_path, {"rtl": {"top": "my_rnn"}})
    names = sorted(p.name for p in files)
    assert names == sorted(list(RTL_SOURCES) + ["my_rnn.v"])
    top = (tmp_path / "my_rnn.v").read_text()
    assert re.search(r"^module my_rnn #\(", top, re.M)
    # two layers chained: layer 1 starts on layer 0's done and reads its h
    assert ".start(l0_done), .u_flat(l0_h)" in top
    assert f".SHIFT_IN({plan.layers[1].shift_in})" in top and f".ACC_BITS({plan.layers[0].acc_bits})" in top
    assert ".LANES(2)" in top and ".CELL(3)" in top
    assert "u_head" in top


@pytest.mark.parametrize("name", ["1abc", "a-b", "a b", "", "x\"y"])
def test_bad_top_name_is_refused(plan, tmp_path, name):
    from hwsim.export._rtl import write_rtl

    with pytest.raises(FormatError, match=r"^Verilog identifier must match"):
        write_rtl(plan, tmp_path, {"rtl": {"top": name}})
    assert list(tmp_path.iterdir()) == []


def test_top_name_must_not_shadow_a_block(plan, tmp_path):
    from hwsim.export._rtl import write_rtl

    with pytest.raises(FormatError, match=r"^top module name must differ from the library blocks"):
        write_rtl(plan, tmp_path, {"rtl": {"top": "hwsim_layer"}})


def test_verilog_literal_filters_refuse_bad_values():
    from hwsim.export._rtl import _vint, _vstr

    assert _vint(-3) == "-3" and _vstr("a/b.hex") == '"a/b.hex"'
    with pytest.raises(FormatError, match=r"^Verilog parameter must be an int"):
        _vint(True)
    with pytest.raises(FormatError, match=r"^Verilog string must hold no quotes"):
        _vstr('a"b')


def test_templates_are_strict(plan):
    import jinja2

    from hwsim.export._rtl import environment, top_params

    params = top_params(plan)
    del params["hidden"]
    with pytest.raises(jinja2.UndefinedError):
        environment().get_template("top.v.j2").render(**params)
