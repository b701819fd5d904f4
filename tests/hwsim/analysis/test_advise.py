"""hwsim.analysis._advise: the width advisor places every format for the ranges the model reaches."""

import math

import pytest

from hwsim.analysis._advise import config_toml, observed_ranges, suggest_config
from hwsim.analysis._check import run_check
from hwsim.datapath._config import DatapathConfig
from hwsim.data._datasets import load_data
from hwsim.flow._demo import load_default
from hwsim._errors import ConfigError


@pytest.fixture(scope="module")
def setup():
    qm = load_default()[0]
    ds = load_data("digits").head(120)
    return qm, ds, observed_ranges(qm, ds.x)


def _fmt(cfg, node):
    tail = node.split(".")[-1]
    return cfg.x if node == "x" else cfg.out if node == "out" else {"h": cfg.h, "c": cfg.c}.get(tail, cfg.pre)


@pytest.mark.parametrize("bits", [8, 12, 16])
def test_budget_formats_hold_the_observed_ranges(setup, bits):
    qm, ds, ranges = setup
    cfg = suggest_config(qm, ranges, bits=bits)
    for name in ("x", "h", "c", "pre", "act", "out"):
        assert getattr(cfg, name).bits == bits
    for node, v in ranges.items():
        f = _fmt(cfg, node)
        top = f.max_int * 2.0**-f.frac
        if ".pre" in node:  # pre only needs the activation units' input range
            assert top >= min(v, 2.0 ** max(cfg.sigmoid_range_log2, cfg.tanh_range_log2)) - 2.0**-f.frac
        else:
            assert top >= v - 2.0**-f.frac, (node, v, f)
    assert cfg.act.int_bits == 2
    for name in ("x", "out"):  # no wasted integer bit: the largest value needs the top one
        assert getattr(cfg, name).int_bits == max(1, math.floor(math.log2(ranges[name])) + 2)
    assert cfg.lut_bits <= cfg.pre.frac + min(cfg.sigmoid_range_log2, cfg.tanh_range_log2) + 1


def test_suggested_config_keeps_the_metric_without_saturating_h_x_out(setup):
    qm, ds, ranges = setup
    r = run_check(qm, ds, suggest_config(qm, ranges, bits=12))
    assert r["saturations"]["x"] == r["saturations"]["l0.h"] == r["saturations"]["out"] == 0
    assert r["fixed_metric"] >= r["quant_metric"] - 0.05


def test_without_budget_widths_are_kept(setup):
    qm, ds, ranges = setup
    base = DatapathConfig()
    cfg = suggest_config(qm, ranges, base)
    assert [getattr(cfg, n).bits for n in ("x", "h", "pre", "out")] == [getattr(base, n).bits for n in ("x", "h", "pre", "out")]


def test_pwl_budget_too_small_is_refused(setup):
    qm, ds, ranges = setup
    with pytest.raises(ConfigError, match=r"^a 6-bit pre format must keep 4 integer and 3 fraction bits for the pwl unit, so at least 7 bits, not 6$"):
        suggest_config(qm, ranges, DatapathConfig(activation="pwl"), bits=6)
    with pytest.raises(ConfigError, match=r"^bit budget must be in \[4, 24\], not 3$"):
        suggest_config(qm, ranges, bits=3)


def test_config_toml_round_trips(tmp_path, setup):
    qm, ds, ranges = setup
    cfg = suggest_config(qm, ranges, DatapathConfig(activation="pwl", lanes=2), bits=10)
    p = tmp_path / "c.toml"
    p.write_text(config_toml(cfg, ("a comment",)))
    assert p.read_text().startswith("# a comment\n")
    assert DatapathConfig.from_toml(p) == cfg
