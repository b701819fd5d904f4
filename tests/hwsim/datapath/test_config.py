"""The contract object: defaults, validation messages, TOML round trip."""

import dataclasses

import pytest

from hwsim.datapath._config import DEFAULT_CONFIG, DatapathConfig, FixedFormat
from hwsim._errors import ConfigError


def test_defaults_are_valid_and_round_trip_through_dict():
    cfg = DatapathConfig()
    assert cfg == DEFAULT_CONFIG
    assert DatapathConfig.from_dict(cfg.to_dict()) == cfg


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_CONFIG.lanes = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rounding": "nearest"}, r"^rounding must be one of floor, half_up, half_even, zero, not 'nearest'$"),
        ({"overflow": "clip"}, r"^overflow must be one of saturate, wrap, not 'clip'$"),
        ({"activation": "cordic"}, r"^activation must be one of lut, pwl, not 'cordic'$"),
        ({"lanes": 0}, r"^lanes must be at least 1, not 0$"),
        ({"lanes": 2**62}, r"^lanes must be at most 65536, not 4611686018427387904$"),
        ({"word_bits": 2048}, r"^word width must be in \[1, 1024\] bits, not 2048$"),
        ({"act": FixedFormat(16, 15)}, r"^act format needs at least 2 integer bits"),
        ({"lut_bits": 16}, r"^lut_bits \(16\) must be at most pre.frac \+ sigmoid_range_log2 \+ 1 = 15$"),
    ],
)
def test_invalid_values_name_what_must_hold(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        DatapathConfig(**kwargs)


@pytest.mark.parametrize(
    "bits, frac, message",
    [
        (1, 0, r"^fixed-point width must be in \[2, 24\] bits, not 1$"),
        (25, 3, r"^fixed-point width must be in \[2, 24\] bits, not 25$"),
        (8, 8, r"^fraction bits must be in \[0, bits-1\] = \[0, 7\], not 8$"),
        (8, -1, r"^fraction bits must be in \[0, bits-1\] = \[0, 7\], not -1$"),
    ],
)
def test_invalid_formats(bits, frac, message):
    with pytest.raises(ConfigError, match=message):
        FixedFormat(bits, frac)


def test_format_types_are_checked():
    with pytest.raises(TypeError, match=r"^fixed-point bits must be an int, not float$"):
        FixedFormat(16.0, 4)  # type: ignore[arg-type]


def test_folding_knobs():
    assert (DEFAULT_CONFIG.rows, DEFAULT_CONFIG.lanes, DEFAULT_CONFIG.pointwise) == (1, 1, 1)
    assert DEFAULT_CONFIG.replace(rows=6).pointwise == 6  # 0: one pointwise unit per row PE
    assert DEFAULT_CONFIG.replace(rows=6, pointwise_units=3).pointwise == 3
    assert DEFAULT_CONFIG.replace(lanes=7, word_bits=33).lanes == 7  # lanes divide nothing
    with pytest.raises(ConfigError, match=r"^rows must be at least 1, not 0$"):
        DEFAULT_CONFIG.replace(rows=0)
    with pytest.raises(ConfigError, match=r"^pointwise_units must be 0 \(one per row PE\) or divide rows \(6\), not 4$"):
        DEFAULT_CONFIG.replace(rows=6, pointwise_units=4)
    with pytest.raises(ConfigError, match=r"^pointwise_units must be 0 \(one per row PE\) or divide rows \(1\), not -1$"):
        DEFAULT_CONFIG.replace(pointwise_units=-1)


def test_toml_sets_fields_and_rejects_unknown_keys(tmp_path):
    p = tmp_path / "dp.toml"
    p.write_text('x = { bits = 12, frac = 8 }\nh = [16, 13]\nrounding = "half_even"\nlanes = 4\n')
    cfg = DatapathConfig.from_toml(p)
    assert cfg.x == FixedFormat(12, 8) and cfg.h == FixedFormat(16, 13)
    assert cfg.rounding == "half_even" and cfg.lanes == 4 and cfg.c == DEFAULT_CONFIG.c

    p.write_text("lane = 4\n")
    with pytest.raises(ConfigError, match=r"dp.toml: unknown key 'lane'; known keys: "):
        DatapathConfig.from_toml(p)
    p.write_text("x = 16\n")
    with pytest.raises(ConfigError, match=r"dp.toml: x must be \{bits = B, frac = F\} or \[B, F\], not 16$"):
        DatapathConfig.from_toml(p)
    p.write_text("x = [16, \n")
    with pytest.raises(ConfigError, match=r"^config file must be valid TOML: "):
        DatapathConfig.from_toml(p)
    with pytest.raises(ConfigError, match=r"^config file must exist, not found: "):
        DatapathConfig.from_toml(tmp_path / "missing.toml")
    p.write_text('lanes = "two"\n')
    with pytest.raises(ConfigError, match=r"dp.toml: lanes must be a valid integer, not 'two'$"):
        DatapathConfig.from_toml(p)


# -- per-layer precision ------------------------------------------------------------------------------


def test_per_layer_toml_round_trips_and_resolves(tmp_path):
    from hwsim.datapath._config import Override

    p = tmp_path / "mixed.toml"
    p.write_text('activation = "lut"\n[layers.1]\nh = [12, 10]\nactivation = "pwl"\nrounding = "floor"\n'
                 '[head]\nout = { bits = 10, frac = 5 }\n')
    cfg = DatapathConfig.from_toml(p)
    assert cfg.layers == (Override(index=1, h=FixedFormat(12, 10), activation="pwl", rounding="floor"),)
    assert cfg.layer_config(0) == DatapathConfig()  # layer 0 follows the global contract
    l1 = cfg.layer_config(1)
    assert (str(l1.h), l1.activation, l1.rounding, l1.pre) == ("s12.10", "pwl", "floor", DatapathConfig().pre)
    hc = cfg.head_config(2)
    assert (str(hc.h), str(hc.out), hc.rounding) == ("s12.10", "s10.5", "floor")  # the last layer's h and modes
    assert DatapathConfig.from_dict(cfg.to_dict()) == cfg
    assert not cfg.is_global and DatapathConfig().is_global
    assert "layers" not in DatapathConfig().to_dict() and "head" not in DatapathConfig().to_dict()


@pytest.mark.parametrize("d, message", [
    ({"layers": {"0": {"x": [8, 4]}}}, r"^config: \[layers\.0\] may set h, c, pre, act, .* not 'x'$"),
    ({"head": {"h": [8, 4]}}, r"^config: \[head\] may set out, rounding, overflow, not 'h'$"),
    ({"layers": {"a": {"h": [8, 4]}}}, r"^config: layer override keys must be layer indices \(0, 1, \.\.\.\), not 'a'$"),
    ({"layers": {"0": {"act": [4, 3]}}}, r"^config: layer 0: act format needs at least 2 integer bits \(sign and 1\.0\), not 1 \(s4\.3\)$"),
    ({"layers": {"0": {"activation": "pwl", "act": [8, 4]}}}, r"^config: layer 0: pwl activation needs act\.frac >= 5"),
    ({"head": {"rounding": "up"}}, r"^config: head: rounding must be one of floor, half_up, half_even, zero, not 'up'$"),
    ({"layers": [1]}, r"^config: layers must be a table of layer index -> overrides, not \[1\]$"),
    ({"layers": {"0": {"h": [8, "4"]}}}, r"^config: \[layers\.0\]: h\.frac must be .*, not '4'$"),  # the schema's types
])
def test_per_layer_errors_say_what_must_hold(d, message):
    with pytest.raises(ConfigError, match=message):
        DatapathConfig.from_dict(d)


def test_override_of_a_missing_layer_is_refused_when_lowered():
    from helpers import make_model
    from hwsim.datapath._plan import lower
    from hwsim.model._quant import quantize_model

    q = quantize_model(make_model("gru", 3, 4, layers=2), "ternary")
    cfg = DatapathConfig.from_dict({"layers": {"2": {"h": [12, 10]}}})
    with pytest.raises(ConfigError, match=r"^layer override index must be below the model's 2 layer\(s\), not 2$"):
        lower(q, cfg)
    plan = lower(q, DatapathConfig.from_dict({"layers": {"0": {"h": [12, 10]}}}))
    assert str(plan.layers[1].in_fmt) == "s12.10"  # layer 1 reads layer 0's h in layer 0's format


def test_weight_scales_key():
    assert DatapathConfig().weight_scales == "auto"
    assert "weight_scales" not in DatapathConfig().to_dict()  # the dict of a contract without it is unchanged
    row = DatapathConfig(weight_scales="row")
    assert row.to_dict()["weight_scales"] == "row"
    assert DatapathConfig.from_dict(row.to_dict()) == row
    with pytest.raises(ConfigError, match=r"^weight_scales must be one of auto, tensor, row, not 'channel'$"):
        DatapathConfig(weight_scales="channel")
    with pytest.raises(ConfigError, match=r"^c\.toml: "):
        DatapathConfig.from_dict({"weight_scales": 3}, source="c.toml")


def test_stream_keys():
    d = DatapathConfig()
    assert (d.in_elems, d.out_elems, d.out_mode) == (1, 1, "steps")
    assert not {"in_elems", "out_elems", "out_mode"} & set(d.to_dict())  # the defaults keep the dict unchanged
    s = DatapathConfig(in_elems=4, out_elems=3, out_mode="head")
    assert {k: s.to_dict()[k] for k in ("in_elems", "out_elems", "out_mode")} == {"in_elems": 4, "out_elems": 3,
                                                                                  "out_mode": "head"}
    assert DatapathConfig.from_dict(s.to_dict()) == s
    with pytest.raises(ConfigError, match=r"^out_mode must be one of steps, last, head, not 'all'$"):
        DatapathConfig(out_mode="all")
    with pytest.raises(ConfigError, match=r"^in_elems must be at least 1, not 0$"):
        DatapathConfig(in_elems=0)
    with pytest.raises(ConfigError, match=r"^out_elems must be at least 1, not -2$"):
        DatapathConfig(out_elems=-2)
    with pytest.raises(TypeError, match=r"^in_elems must be an int, not float$"):
        DatapathConfig(in_elems=2.0)
    with pytest.raises(ConfigError, match=r"^c\.toml: "):
        DatapathConfig.from_dict({"out_mode": 1}, source="c.toml")
    # against the model's sizes
    s.check_stream(4, 5, 3)
    with pytest.raises(ConfigError, match=r"^in_elems must be in \[1, I\] = \[1, 3\], not 4$"):
        s.check_stream(3, 5, 3)
    with pytest.raises(ConfigError, match=r"^out_elems must be in \[1, C\] = \[1, 2\], not 3$"):
        s.check_stream(4, 5, 2)
    DatapathConfig(out_elems=5, out_mode="last").check_stream(1, 2, 5)  # a head wider than H
    with pytest.raises(ConfigError, match=r'^out_mode = "head" needs a model with a head \(classes\), this one has none$'):
        DatapathConfig(out_mode="head").check_stream(1, 2, None)
