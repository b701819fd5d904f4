"""``hwsim sweep``: one-line errors, best.toml reproduced exactly by ``hwsim check``, and the shipped
example grid with yosys resources."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hwsim.cli import main

ROOT = Path(__file__).parents[3]
DEFAULT = ROOT / "hwsim" / "data" / "default_gru.safetensors"


@pytest.mark.parametrize("extra, message", [
    (["--max-loss", "1", "--max-luts", "10"], r"^Error: give one rule, --max-loss or --max-luts, not both \(1 and 10\)$"),
    (["--grid", "nosuch.toml"], r"^Error: grid file must exist, not found: nosuch\.toml$"),
    (["--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], r"^Error: --workers sizes the LocalCluster; .*not --workers 2$"),
])
def test_usage_errors(tmp_path, extra, message):
    grid = tmp_path / "g.toml"
    grid.write_text('[axes]\nbits = [8]\n')
    args = ["sweep", str(DEFAULT), "--data", "digits", "--grid", str(grid), "-o", str(tmp_path / "o"), *extra]
    if "--grid" in extra:
        args[4:6] = []
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2
    assert re.match(message, res.output.strip()), res.output


def test_missing_model_is_one_line(tmp_path):
    res = CliRunner().invoke(main, ["sweep", str(tmp_path / "m.safetensors"), "--data", "digits", "--grid", "g.toml",
                                    "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and res.output.startswith("Error: model file must exist, not found: ")


def _hwsim(*args, cwd=None):
    r = subprocess.run([sys.executable, "-m", "hwsim", *args], capture_output=True, text=True, timeout=900, cwd=cwd)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_best_toml_reproduces_the_metric_with_check(tmp_path):
    grid = tmp_path / "g.toml"
    grid.write_text('[axes]\nmethod = ["given", "exp:3"]\nbits = [8, 12]\nactivation = ["pwl"]\n')
    out = tmp_path / "sw"
    summary = json.loads(_hwsim("sweep", str(DEFAULT), "--data", "digits", "--limit", "80", "--grid", str(grid),
                                "-o", str(out), "--workers", "2", "--max-loss", "2", "--json"))
    recs = {r["key"]: r for r in summary["records"]}
    assert len(recs) == 4 and summary["computed"] == 4
    best = recs[summary["best"]]
    assert best["loss"] <= 2
    page = (out / "report" / "index.html").read_text()
    # no target axis: no LUTs, so only the latency front is drawn
    assert page.count("<img") == 1 and "Pareto points" in page and "(best.toml)" in page
    text = (out / "best.toml").read_text()
    # the rule names what the records can say: no target axis, so no LUT count is claimed
    assert summary["rule"] == "lowest latency within 2 points of the reference (no LUT counts: the grid has no target axis)"
    assert "LUTs None" not in text and "fewest LUTs" not in text
    # no --split was given, so none is added (the check's default reads the same test part)
    assert f"# reproduce: hwsim check {best['model_file']} --data digits --limit 80 --config best.toml" in text
    assert "on 80 sequences of digits:test" in text
    # the table names the data the metric came from (every point is cached now: nothing recomputed)
    text_out = _hwsim("sweep", str(DEFAULT), "--data", "digits", "--limit", "80", "--grid", str(grid), "-o", str(out),
                      "--max-loss", "2")
    assert text_out.splitlines()[0].startswith("4 points: 0 computed, 4 from ")
    assert text_out.splitlines()[1] == "accuracy on 80 sequences of digits:test"
    check = json.loads(_hwsim("check", best["model_file"], "--data", "digits", "--limit", "80", "--config", "best.toml",
                              "--json", cwd=out))
    assert check["fixed_metric"] == best["fixed_metric"]  # exactly: same bits, same data
    assert check["config"] == best["config"]
    # the table shows every axis value of every point (no column cut short)
    table = text_out
    for r in summary["records"]:
        p = r["point"]
        line = next(ln for ln in table.splitlines() if f"{p['method']}, {p['bits']} bits, activation={p['activation']}" in ln)
        assert line[1:].startswith(r["model"])


@pytest.mark.rtl
@pytest.mark.skipif(shutil.which("yosys") is None, reason="needs yosys")
def test_shipped_example_grid_with_yosys(tmp_path):
    out = tmp_path / "small"
    summary = json.loads(_hwsim("sweep", str(DEFAULT), "--data", "digits", "--grid",
                                str(ROOT / "examples" / "sweep_small.toml"), "-o", str(out), "--json"))
    recs = summary["records"]
    assert summary["points"] == len(recs) <= 8
    for r in recs:
        assert r["error"] is None
        assert r["resources"]["luts"] > 0 and r["resources"]["brams"] >= 0
    # narrower formats cost fewer LUTs for the same model and method
    by = {(r["point"]["method"], r["point"]["bits"]): r["resources"]["luts"] for r in recs}
    assert by[("given", 8)] < by[("given", 12)]
    assert summary["pareto_luts"] and (out / "best.toml").is_file()


def test_check_suggest_config_is_reproduced_by_check(tmp_path):
    sug = tmp_path / "sug.toml"
    r = json.loads(_hwsim("check", str(DEFAULT), "--data", "digits", "--limit", "60", "--suggest-config", str(sug),
                          "--suggest-bits", "10", "--json"))
    sc = r["suggested_config"]
    assert sc["config"]["h"]["bits"] == 10 and sug.read_text().startswith("# hwsim check --suggest-config")
    again = json.loads(_hwsim("check", str(DEFAULT), "--data", "digits", "--limit", "60", "--config", str(sug), "--json"))
    assert again["fixed_metric"] == sc["fixed_metric"] and again["config"] == sc["config"]


def test_suggest_bits_alone_is_refused():
    res = CliRunner().invoke(main, ["check", str(DEFAULT), "--data", "digits", "--limit", "5", "--suggest-bits", "8"])
    assert res.exit_code == 2
    assert res.output.strip() == "Error: --suggest-bits needs --suggest-config OUT.toml, not --suggest-bits 8 alone"
