"""The manifest alone decodes every weight: a third-party decoder using only json, numpy and bitstring.

``third_party_decode`` deliberately imports nothing from hwsim: it reads manifest.json and the
``$readmemh`` files exactly as docs/rom_format.md describes them. The test compares its result with
the quantized model's weights (exact float equality) and with hwsim's own reader.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bitstring import Bits

from hwsim.model._quant import decode_model_codes, quantize_model
from hwsim.export import decode_with_manifest, write_export
from hwsim.datapath._config import DatapathConfig


def third_party_decode(export_dir: Path) -> dict[str, np.ndarray]:
    """Every weight tensor (float64, PyTorch shape) from manifest.json and the .hex ROMs."""
    man = json.loads((export_dir / "manifest.json").read_text())
    m_of_code = {e["code"]: e["m"] for e in man["codes"]["table"]}
    out = {key: np.full(t["shape"], np.nan) for key, t in man["tensors"].items() if t["rom"] is not None}
    for rom in man["roms"]:
        if rom["role"] != "weights":
            continue
        W, B, K = rom["word_bits"], rom["code_bits"], rom["codes_per_word"]
        R, L = rom["tile_rows"], rom["tile_lanes"]
        lines = (export_dir / rom["files"]["hex"]).read_text().split()
        assert len(lines) == rom["depth"]
        words = [Bits(uint=int(line, 16), length=W) for line in lines]
        for seg in rom["segments"]:
            mat = np.zeros((seg["rows"], seg["cols"]), dtype=np.int64)
            for r in range(seg["rows"]):
                for j in range(seg["cols"]):
                    t = seg["start"] + (r // R) * seg["col_groups"] + j // L  # tile
                    n = t * R * L + (r % R) * L + j % L  # code index from the ROM's first code
                    word = words[n // K]
                    lsb = (n % K) * B  # bitstring indexes from the MSB
                    mat[r, j] = m_of_code[word[W - lsb - B : W - lsb].uint]
            for src in seg["sources"]:
                (r0, r1), (c0, c1), (k0, k1) = src["tensor_rows"], src["tensor_cols"], src["cols"]
                out[src["tensor"]][r0:r1, c0:c1] = np.ldexp(mat[:, k0:k1].astype(np.float64), src["scale_log2"])
    return out


CASES = [  # (cell, method, bits, word_bits, rows, lanes): tiles that share words, fill them, overflow them
    ("gru", "ternary", None, 32, 1, 1),
    ("lstm", "exp", 4, 32, 2, 3),
    ("lstm", "ternary-stoch", None, 6, 1, 1),
    ("gru", "exp", 5, 1020, 4, 11),
    ("rnn_tanh", "binary", None, 7, 3, 1),
    ("gru", "uniform", 6, 96, 6, 11),
]


@pytest.mark.parametrize(("cell", "method", "bits", "word_bits", "rows", "lanes"), CASES,
                         ids=[f"{c[0]}-{c[1]}-W{c[3]}-r{c[4]}l{c[5]}" for c in CASES])
def test_manifest_decodes_every_weight(make_model, tmp_path, cell, method, bits, word_bits, rows, lanes):
    model = quantize_model(make_model(cell, 5, 6, 2, 3, seed=4), method, bits=bits)
    out = tmp_path / "exp"
    write_export(model, out, DatapathConfig(word_bits=word_bits, rows=rows, lanes=lanes), rtl=False)
    decoded = third_party_decode(out)
    codes = decode_model_codes(model)
    assert set(decoded) == set(codes)
    for key, (m, s) in codes.items():
        np.testing.assert_array_equal(decoded[key], model.tensor(key))  # the quantized float weights
        np.testing.assert_array_equal(decoded[key], np.ldexp(m.astype(np.float64), s))
    for fmt in ("hex", "memb", "coe", "mif", "bin"):  # hwsim's own reader agrees on every format
        ours = decode_with_manifest(out, fmt)
        for key, (m, s) in codes.items():
            np.testing.assert_array_equal(ours[key][0], m)
            assert ours[key][1] == s


def test_manifest_biases_and_tables_match_the_plan(make_model, tmp_path):
    from hwsim.datapath._plan import lower

    model = quantize_model(make_model("lstm", 3, 4, 1, 2, seed=2), "exp", bits=3)
    cfg = DatapathConfig(lut_bits=8, word_bits=30, rows=3)
    write_export(model, tmp_path / "e", cfg, rtl=False)
    man = json.loads((tmp_path / "e" / "manifest.json").read_text())
    plan = lower(model, cfg)
    layer = man["layers"][0]
    assert layer["acc_bits"] == plan.layers[0].acc_bits and layer["shift_rec"] == plan.layers[0].shift_rec
    assert [a["bias"] for a in layer["accumulations"]] == [[int(v) for v in a.bias] for a in plan.layers[0].accums]
    # the bias ROM from the docs alone: rows_per_word two's complement fields of field_bits per word
    rom = next(r for r in man["roms"] if r["name"] == "l0_bias")
    fb, n = rom["field_bits"], rom["rows_per_word"]
    words = [int(line, 16) for line in (tmp_path / "e" / rom["files"]["hex"]).read_text().split()]
    fields = [(w >> (k * fb)) & ((1 << fb) - 1) for w in words for k in range(n)]
    fields = [f - (1 << fb) if f >> (fb - 1) else f for f in fields]
    for seg, acc in zip(rom["segments"], plan.layers[0].accums):
        assert fields[seg["start"] * n : seg["start"] * n + seg["rows"]] == [int(v) for v in acc.bias]
    assert man["head"]["bias"] == [int(v) for v in plan.head.bias]
    assert man["contract"] == cfg.to_dict()
    lut = next(r for r in man["roms"] if r["name"] == "sigmoid_lut")
    words = [int(line, 16) for line in (tmp_path / "e" / lut["files"]["hex"]).read_text().split()]
    signed = [w - (1 << lut["word_bits"]) if w >> (lut["word_bits"] - 1) else w for w in words]
    assert signed == [int(v) for v in plan.sigmoid_table] and len(signed) == man["activation"]["tables"]["sigmoid"]["entries"]
    assert man["tensors"]["rnn.weight_ih_l0"]["values"][0] == {"code": 0, "m": 0, "value": 0.0}


# -- what a decoder written from the docs alone tripped on (issue #23, "Also") --------------------
def _manifest(model, cfg, tmp_path) -> dict:
    write_export(model, tmp_path / "e", cfg, rtl=False)
    return json.loads((tmp_path / "e" / "manifest.json").read_text())


def test_manifest_names_only_exported_global_tables(make_model, tmp_path):
    """``activation.tables.*.rom`` names the global table ROM only where it was exported."""
    model = quantize_model(make_model("gru", 3, 4, 2, 2), "ternary")
    cfg = DatapathConfig.from_dict({**DatapathConfig().to_dict(), "layers": {"0": {"activation": "pwl"}}})
    man = _manifest(model, cfg, tmp_path / "a")  # layer 1 reads the global tables
    assert man["activation"]["tables"]["sigmoid"]["rom"] == "sigmoid_lut"
    assert {"sigmoid_lut", "tanh_lut"} <= {r["name"] for r in man["roms"]}
    cfg = DatapathConfig.from_dict({**DatapathConfig().to_dict(),
                                    "layers": {"0": {"activation": "pwl"}, "1": {"lut_bits": 6}}})
    man = _manifest(model, cfg, tmp_path / "b")  # no layer reads them: not exported, not named
    names = {r["name"] for r in man["roms"]}
    assert "sigmoid_lut" not in names and "tanh_lut" not in names and "l1_sigmoid_lut" in names
    assert [man["activation"]["tables"][f]["rom"] for f in ("sigmoid", "tanh")] == [None, None]
    assert man["layers"][1]["precision"]["lut_roms"] == {"sigmoid": "l1_sigmoid_lut", "tanh": "l1_tanh_lut"}


def test_a_lut_layer_under_a_global_pwl_has_its_own_tables(make_model, tmp_path):
    """Global ``activation = "pwl"``, ``[layers.0] activation = "lut"``: no shared tables exist, so
    the layer's are ``l0_*_lut`` (docs/datapath.md, "Per-layer precision"), and the manifest says so."""
    model = quantize_model(make_model("rnn_tanh", 2, 3, 1, None), "ternary")
    cfg = DatapathConfig.from_dict({**DatapathConfig(activation="pwl").to_dict(), "layers": {"0": {"activation": "lut"}}})
    man = _manifest(model, cfg, tmp_path)
    assert sorted(r["name"] for r in man["roms"] if r["role"].endswith("_lut")) == ["l0_sigmoid_lut", "l0_tanh_lut"]
    assert man["layers"][0]["precision"]["lut_roms"] == {"sigmoid": "l0_sigmoid_lut", "tanh": "l0_tanh_lut"}
    assert man["activation"]["unit"] == "pwl"


def test_head_without_a_head_table_takes_the_last_layers_modes(make_model, tmp_path):
    """No ``[head]`` table: the head's rounding and overflow are the last layer's overrides, in the
    manifest, the plan the simulator runs and the RTL parameters alike."""
    from hwsim.datapath._config import OVERFLOW_CODE, ROUNDING_CODE
    from hwsim.datapath._plan import lower
    from hwsim.export._rtl import top_params

    model = quantize_model(make_model("gru", 3, 4, 2, 2), "ternary")
    cfg = DatapathConfig.from_dict({**DatapathConfig().to_dict(), "layers": {"1": {"rounding": "floor", "overflow": "wrap"}}})
    man = _manifest(model, cfg, tmp_path)
    assert (man["head"]["precision"]["rounding"], man["head"]["precision"]["overflow"]) == ("floor", "wrap")
    hc = lower(model, cfg).head_config()
    assert (hc.rounding, hc.overflow) == ("floor", "wrap")
    head = top_params(lower(model, cfg))["head"]
    assert (head["round_mode"], head["overflow_mode"]) == (ROUNDING_CODE["floor"], OVERFLOW_CODE["wrap"])


@pytest.mark.parametrize("scale", ["tensor", "row"])
def test_signed_and_addr_bits_are_what_the_docs_define(make_model, tmp_path, scale):
    """``addr_bits = max(1, bit_length(depth - 1))``; ``signed``: the fields are two's complement
    (bias fields and table words: true; weight code bundles and row shifts: false)."""
    model = quantize_model(make_model("lstm", 3, 5, 1, 3), "ternary", scale=scale)
    man = _manifest(model, DatapathConfig(rows=4, lanes=2), tmp_path)
    want = {"weights": False, "bias": True, "row_shift": False, "sigmoid_lut": True, "tanh_lut": True}
    roles = set()
    for rom in man["roms"]:
        assert rom["addr_bits"] == max(1, (rom["depth"] - 1).bit_length())
        assert rom["signed"] is want[rom["role"]], rom["name"]
        roles.add(rom["role"])
    assert ("row_shift" in roles) == (scale == "row")


def test_contract_tables_are_stored_in_long_form(make_model, tmp_path):
    """``pre = [12, 7]`` in a config is ``{"bits": 12, "frac": 7}`` in the manifest's contract."""
    model = quantize_model(make_model("gru", 3, 4, 2, 2), "ternary")
    cfg = DatapathConfig.from_dict({**DatapathConfig().to_dict(), "layers": {"1": {"pre": [12, 7]}},
                                    "head": {"out": [8, 4]}})
    man = _manifest(model, cfg, tmp_path)
    assert man["contract"]["layers"]["1"]["pre"] == {"bits": 12, "frac": 7}
    assert man["contract"]["head"]["out"] == {"bits": 8, "frac": 4}
    assert DatapathConfig.from_dict(man["contract"]) == cfg


def test_head_roms_fold_on_the_heads_own_rows(make_model, tmp_path):
    """Head ROMs: ``tile_rows`` / ``tile_lanes`` and ``rows_per_word`` are the head's own array
    ``R_h x L_h`` (``head_folding``: at most ``min(R, C)`` rows), not the layers' ``R x L``."""
    from hwsim.datapath._plan import lower
    from hwsim.datapath._schedule import head_folding

    for hidden, rows, lanes in ((6, 5, 2), (40, 8, 8)):
        model = quantize_model(make_model("gru", 3, hidden, 1, 3), "ternary", scale="row")
        cfg = DatapathConfig(rows=rows, lanes=lanes)
        man = _manifest(model, cfg, tmp_path / f"h{hidden}")
        hr, hl = head_folding(lower(model, cfg))
        assert hr <= min(rows, 3)
        roms = {r["name"]: r for r in man["roms"]}
        assert roms["l0_weights"]["tile_rows"] == rows
        assert (roms["head_weights"]["tile_rows"], roms["head_weights"]["tile_lanes"]) == (hr, hl)
        assert roms["head_bias"]["rows_per_word"] == hr and roms["head_shift"]["rows_per_word"] == hr


def test_paper_exact_code_table_lists_the_padding_code(make_model, tmp_path):
    """The code table is every code a weight may take plus the code of m = 0 (padding): the
    paper-exact exp variant lists 0 -> 0 although none of its weights is 0."""
    model = quantize_model(make_model("gru", 3, 4, 1, 2), "exp", bits=3, zero=False)
    man = _manifest(model, DatapathConfig(), tmp_path)
    table = {e["code"]: e["m"] for e in man["codes"]["table"]}
    assert table[0] == 0
    for m, _ in decode_with_manifest(tmp_path / "e").values():
        assert (m != 0).all()
