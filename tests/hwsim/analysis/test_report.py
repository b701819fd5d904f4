"""The HTML report: structure, embedded images, weight-code histograms and atomic writing."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from hwsim.datapath._config import DatapathConfig
from hwsim._errors import HwsimError
from hwsim.datapath._plan import lower
from hwsim.model._quant import quantize_model
from hwsim.analysis._report import build_html, describe_model, weight_histograms, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Collect(HTMLParser):
    """Collects img sources, section titles and checks that every opened tag of a few kinds closes."""

    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[str] = []
        self.h2: list[str] = []
        self.stack: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs)["src"])
        elif tag in ("section", "table", "tr", "td", "th", "h2", "main", "html", "body"):
            self.stack.append(tag)
            self._in_h2 = tag == "h2"

    def handle_endtag(self, tag):
        if tag in ("section", "table", "tr", "td", "th", "h2", "main", "html", "body"):
            assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}> after {self.stack[-3:]}"
            self.stack.pop()
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.h2.append(data)


def _parse(text: str) -> _Collect:
    p = _Collect()
    p.feed(text)
    p.close()
    assert p.stack == []
    return p


def _check_result(T: int = 12) -> dict:
    rng = np.random.default_rng(1)
    return {
        "metric": "accuracy",
        "float_metric": 0.95,
        "quant_metric": 0.93,
        "fixed_metric": 0.925,
        "argmax_flips": 0.01,
        "max_abs_err_h": 4e-4,
        "drift": list(np.abs(rng.normal(size=T)) * 1e-4),
        "first_divergence": {"timestep": 3, "node": "l0.h", "err_lsb": 3.0},
        "saturations": {"x": 0, "l0.pre_r": 5, "l0.h": 0},
        "suggested_widths": {"l0.pre_r": {"interval": 18, "observed": 14}},
        "gate_errors": {"r": {"max": 1e-3, "mean": 1e-4}, "z": {"max": 2e-3, "mean": 2e-4}},
    }


@pytest.fixture(scope="module")
def qplan(request):
    from helpers import make_model

    q = quantize_model(make_model("gru", 3, 5, 2, 4, seed=2), "exp", bits=3)
    return q, lower(q, DatapathConfig())


def test_weight_histograms_count_every_weight_of_every_matrix(qplan):
    q, plan = qplan
    hists = weight_histograms(plan)
    # GRU: r, z (ih + hh), n_x (ih), n_h (hh) = 6 per layer, 2 layers, plus the head
    assert [h.name for h in hists[:6]] == ["L0 r.ih", "L0 r.hh", "L0 z.ih", "L0 z.hh", "L0 n_x.ih", "L0 n_h.hh"]
    assert len(hists) == 13 and hists[-1].name == "head"
    H = q.hidden_size
    assert sum(h.total for h in hists) == sum(q.tensor(k).size for k in q.tensor_keys() if "weight" in k)
    assert hists[0].total == H * q.input_size and hists[1].total == H * H and hists[6].total == H * H
    # counts agree with a direct count of the multipliers of the plan
    m = plan.layers[1].accums[1].m[:, H:]
    direct = {int(v): int((m == v).sum()) for v in np.unique(m)}
    h = hists[9]  # L1 z.hh
    assert h.name == "L1 z.hh"
    assert {int(a): int(c) for a, c in zip(h.m, h.counts) if c} == direct
    assert np.array_equal(h.codes, plan.codec.encode(h.m))


def test_report_has_one_image_per_plot_and_every_image_is_a_png(tmp_path, qplan):
    q, plan = qplan
    cfg = DatapathConfig()
    path = write_report(
        tmp_path / "rep", _check_result(), title="t <&>", model_info=describe_model(q), weights=weight_histograms(plan),
        code_kind=plan.codec.kind, synth={"ice40": {"luts": 10, "ffs": 5, "brams": 1, "dsps": 0, "cycles_per_step": 40}},
        cosim={"sequences": 2, "steps": 24, "mismatches": 0, "first_mismatch": None}, config=cfg.to_dict(),
    )
    assert path == tmp_path / "rep" / "index.html"
    text = path.read_text(encoding="utf-8")
    p = _parse(text)
    # drift, gate errors, weight codes, saturation
    assert len(p.imgs) == 4
    for src in p.imgs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG_MAGIC
    titles = " ".join(p.h2)
    for want in ("Accuracy", "Drift", "Error per gate", "Weight codes", "Saturation", "Resources", "co-simulation", "contract"):
        assert want in titles
    assert "t &lt;&amp;&gt;" in text  # the title is escaped
    assert "bit-exact" in text and "92.50 %" in text
    assert not re.search(r"(src|href)=\"(https?:|file:|/)", text)  # nothing outside the page
    assert [q.name for q in tmp_path.iterdir()] == ["rep"]  # no temporary left behind


def test_report_without_optional_sections_has_fewer_images():
    check = _check_result()
    del check["gate_errors"]
    check["drift"] = []
    text = build_html(check)
    p = _parse(text)
    assert len(p.imgs) == 1  # only the saturation counts
    assert "Resources" not in " ".join(p.h2)


def test_report_shows_a_cosim_mismatch_and_a_skipped_synth():
    text = build_html(
        _check_result(),
        cosim={"sequences": 3, "steps": 30, "mismatches": 2,
               "first_mismatch": {"sequence": 1, "timestep": 4, "node": "h", "expected": 5, "actual": 6}},
        synth={"ice40": {"skipped": True, "reason": "yosys not found"}},
    )
    assert "2 mismatches" in text and "The RTL differs" in text
    assert "sequence 1, timestep 4, node h, expected 5, actual 6" in text
    assert "yosys not found" in text


def test_report_replaces_an_existing_report(tmp_path):
    d = tmp_path / "r"
    write_report(d, _check_result(), title="first")
    (d / "index.html").write_text("edited")  # hwsim's own file, changed: still hwsim's to replace
    write_report(d, _check_result(), title="second")
    assert "second" in (d / "index.html").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]
    (d / "mine.txt").write_text("x")  # a file of the user's: the report is left as it is
    with pytest.raises(HwsimError, match=r"^report directory .*r holds mine.txt, which hwsim did not write there; "):
        write_report(d, _check_result(), title="third")
    assert "second" in (d / "index.html").read_text() and (d / "mine.txt").read_text() == "x"


def test_report_directory_gets_the_mode_of_a_plain_mkdir(tmp_path):
    """Built in a mkdtemp sibling (0700) and renamed: it must not stay private to the user."""
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    write_report(tmp_path / "r", _check_result())
    assert (tmp_path / "r").stat().st_mode & 0o777 == 0o777 & ~mask


def test_report_refuses_a_result_that_is_not_a_check(tmp_path):
    with pytest.raises(HwsimError, match=r"^a report needs the result of a check \(a mapping with a 'metric' key\)$"):
        write_report(tmp_path / "r", {"drift": []})
    assert list(tmp_path.iterdir()) == []


def test_report_creates_missing_parents_but_refuses_a_file_parent(tmp_path):
    assert write_report(tmp_path / "a" / "b" / "r", _check_result()).is_file()
    (tmp_path / "f").write_text("x")
    with pytest.raises(HwsimError, match=r"^output's parent must be a directory, not a file: .*f$"):
        write_report(tmp_path / "f" / "r", _check_result())


def test_bpc_metric_is_labelled_lower_is_better():
    check = dict(_check_result(), metric="bpc", float_metric=1.9, quant_metric=2.1, fixed_metric=2.15)
    text = build_html(check)
    assert "bits per character (lower is better)" in text and "2.15" in text


# -- hwsim report (the CLI in hwsim/cli/_report.py) --------------------------------------------------


def _default_model():
    from hwsim.data import default_model_path

    p = default_model_path()
    if not p.is_file():
        pytest.skip("the default model is not in the tree")
    return p


def test_cli_report_on_the_default_model_with_synth_and_cosim_json(tmp_path):
    import json

    from click.testing import CliRunner

    from hwsim.cli import main

    synth = tmp_path / "ice40.json"
    synth.write_text(json.dumps({"target": "ice40", "luts": 321, "ffs": 99, "brams": 2, "dsps": 0, "cycles_per_step": 77}))
    cos = tmp_path / "cosim.json"
    cos.write_text(json.dumps({"sequences": 3, "steps": 24, "mismatches": 0, "first_mismatch": None}))
    out = tmp_path / "rep"
    r = CliRunner().invoke(main, ["report", str(_default_model()), "--data", "digits", "--limit", "40", "-o", str(out),
                                  "--synth-json", str(synth), "--cosim-json", str(cos)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert r.output == f"report -> {out / 'index.html'}\n"
    text = (out / "index.html").read_text(encoding="utf-8")
    p = _parse(text)
    assert len(p.imgs) >= 3  # drift, weight codes, saturation (+ gate errors when the check reports them)
    assert "321" in text and "bit-exact" in text and "digits" in text


def test_cli_report_rejects_a_bad_json_file_in_one_line(tmp_path):
    from click.testing import CliRunner

    from hwsim.cli import main

    bad = tmp_path / "s.json"
    bad.write_text("[1, 2]")
    r = CliRunner().invoke(main, ["report", str(_default_model()), "--data", "digits", "-o", str(tmp_path / "r"),
                                  "--synth-json", str(bad)])
    assert r.exit_code == 2
    assert re.fullmatch(r"Error: synth JSON file must hold one JSON object, not list: .*s\.json\n", r.output)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("mismatches", ['"x"', "-1", "1.5", "true"])
def test_cli_report_rejects_a_cosim_json_without_a_count(tmp_path, mismatches):
    from click.testing import CliRunner

    from hwsim.cli import main

    bad = tmp_path / "c.json"
    bad.write_text(f'{{"sequences": 2, "mismatches": {mismatches}}}')
    r = CliRunner().invoke(main, ["report", str(_default_model()), "--data", "digits", "-o", str(tmp_path / "r"),
                                  "--cosim-json", str(bad)])
    assert r.exit_code == 2
    assert re.fullmatch(r"Error: cosim JSON file must give 'mismatches' as a count >= 0, not .*: .*c\.json\n", r.output)
    assert not (tmp_path / "r").exists()


def test_no_saturation_is_a_sentence_and_float_accuracy_a_card():
    check = _check_result()
    check["saturations"] = {"x": 0, "l0.pre_r": 0, "l0.h": 0}
    text = build_html(check)
    assert len(_parse(text).imgs) == 2  # drift and gate errors; no empty saturation axis
    assert "None saturated: no value on any of the 3 nodes was clipped" in text
    assert re.search(r'<div class="badge[^"]*">float accuracy<b>95\.00 %</b>', text)
    check["float_metric"] = None
    assert re.search(r'float accuracy<b>not given \(--float-model\)</b>', build_html(check))


def test_weight_code_panels_share_one_y_scale_and_readable_ticks(qplan, monkeypatch):
    import hwsim.analysis._report as report

    figs = []
    monkeypatch.setattr(report, "_png", lambda fig: figs.append(fig) or "")
    report.weight_figure(weight_histograms(qplan[1]), "exp")
    axes = [ax for ax in figs[0].axes if ax.get_visible()]
    assert len(axes) == 13 and len({ax.get_ylim() for ax in axes}) == 1  # 2 GRU layers x 6 + head
    assert min(t.get_fontsize() for ax in axes for t in ax.get_xticklabels() + ax.get_yticklabels()) >= 10


def test_saturation_counts_are_on_a_log_scale(monkeypatch):
    import hwsim.analysis._report as report

    figs = []
    monkeypatch.setattr(report, "_png", lambda fig: figs.append(fig) or "png")
    assert report.saturation_figure({"a": 0, "b": 0}) is None
    assert report.saturation_figure({"a": 1, "b": 182, "c": 0}) == "png"
    assert figs[0].axes[0].get_yscale() == "log"


def test_every_value_is_escaped_by_the_template():
    """Autoescape: no string from a check, a model, a synth or a cosim result reaches the page as markup."""
    evil = "<script>alert(1)</script>"
    check = {**_check_result(), "first_divergence": {"node": evil}, "saturations": {evil: 3},
             "suggested_widths": {evil: {"interval": 4}}}
    text = build_html(check, title=evil, model_info={evil: evil}, notes=[evil],
                      synth={"ice40": {"luts": 1, "cells": {evil: 2}}, evil: {"skipped": True, "reason": evil}},
                      cosim={"skipped": True, "reason": evil}, config={evil: evil})
    assert "<script>" not in text
    assert text.count("&lt;script&gt;") >= 10
    assert "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>" in text  # a code cell: markup of ours, text escaped
    _parse(text)
