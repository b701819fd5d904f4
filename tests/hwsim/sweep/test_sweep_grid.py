"""hwsim.sweep._grid: the grid TOML, its validation and the product of its axes."""

import re

import pytest

from hwsim._errors import ConfigError
from hwsim.sweep import load_grid, parse_grid


def test_points_are_the_product_of_the_axes_models_outermost():
    g = parse_grid({"axes": {"method": ["given", "exp:3"], "bits": [8, 12, 16], "activation": ["lut", "pwl"],
                             "lanes": [1, 2], "target": ["ice40"]}, "config": {"lut_bits": 8}})
    pts = g.points(2)
    assert len(pts) == 2 * 2 * 3 * 2 * 2
    assert len({p for p in pts}) == len(pts)
    assert pts[0].model == 0 and pts[-1].model == 1
    d = pts[-1].to_dict()
    assert d == {"model": 1, "method": "exp:3", "bits": 16, "formats": {}, "activation": "pwl", "lanes": 2,
                 "target": "ice40"}
    assert g.base.lut_bits == 8


def test_formats_axis_and_defaults():
    g = parse_grid({"axes": {"formats": [{"h": [12, 10]}, {}]}})
    pts = g.points(1)
    assert [p.to_dict()["formats"] for p in pts] == [{"h": [12, 10]}, {}]
    assert {p.method for p in pts} == {"given"} and {p.target for p in pts} == {None}


@pytest.mark.parametrize("data, message", [
    ({"axes": {"colour": [1]}}, r"axis must be one of method, bits, formats, target or a contract field .*not 'colour'$"),
    ({"axes": {"method": ["tern"]}}, r"method must be given or one of binary, .* not 'tern'$"),
    ({"axes": {"method": ["given:3"]}}, r"method given takes no code width, not 'given:3'$"),
    ({"axes": {"bits": [8], "formats": [{}]}}, r"give the width axis as bits or as formats, not both$"),
    ({"axes": {"lanes": []}}, r"axis 'lanes' must be a non-empty list, not \[\]$"),
    ({"axes": {"activation": ["tanh"]}}, r"activation must be one of lut, pwl, not 'tanh'$"),
    ({"axes": {"target": ["asic"]}}, r"target must be one of ice40, ecp5, xilinx, not 'asic'$"),
    ({"axes": {}}, r"needs an \[axes\] table with at least one axis$"),
    ({"axes": {"bits": [8]}, "extra": 1}, r"top-level keys must be axes and config, not 'extra'$"),
])
def test_bad_grids_are_refused_with_what_must_hold(data, message):
    with pytest.raises(ConfigError, match=message):
        parse_grid(data)


def test_load_grid_file_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"^grid file must exist, not found: "):
        load_grid(tmp_path / "none.toml")
    p = tmp_path / "bad.toml"
    p.write_text("[axes\n")
    with pytest.raises(ConfigError, match=r"^grid file must be valid TOML: " + re.escape(str(p))):
        load_grid(p)


def test_shipped_example_grid_is_small():
    from pathlib import Path

    g = load_grid(Path(__file__).parents[3] / "examples" / "sweep_small.toml")
    pts = g.points(1)
    assert 2 <= len(pts) <= 8
    assert all(p.target for p in pts)
