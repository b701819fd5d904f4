"""``hwsim.fit`` and ``hwsim export --fit``: the width filter, the folding chain, the search, the CLI."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from hwsim._errors import ConfigError
from hwsim.cli import main
from hwsim.data._datasets import Dataset
from hwsim.datapath._config import FORMAT_NAMES, DatapathConfig
from hwsim.export._synth import fit_line
from hwsim.fit import device_family, fit_device, fixed_metric, folding_chain, format_fit
from hwsim.fit._search import dominates, width_configs
from hwsim.model._quant import quantize_model

needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not installed")


@pytest.fixture(scope="module")
def lstm():
    """A small 2-layer LSTM, ternary, and a data set labelled by its own fixed-point outputs (so the
    default widths score 100 % and a narrower width can only lose). Weights are scaled up from
    torch's init so that the gates leave the linear region and the classes differ (a one-bit table
    scores ~42 %, lut_bits 6 ~94 %)."""
    import dataclasses

    from helpers import make_model

    m = make_model("lstm", 3, 6, layers=2, classes=3, seed=1)
    m = dataclasses.replace(m, layers=tuple(dataclasses.replace(k, w_ih=4 * k.w_ih, w_hh=4 * k.w_hh) for k in m.layers),
                            head=dataclasses.replace(m.head, weight=8 * m.head.weight, bias=0 * m.head.bias))
    qm = quantize_model(m, "ternary")
    x = np.random.default_rng(0).normal(0, 1.5, (64, 6, 3)).astype(np.float32)
    from hwsim.sim._sim import run_fixed

    y = np.argmax(run_fixed(qm, x, DatapathConfig()).y, axis=-1).astype(np.int64)
    return qm, Dataset("self-labelled", x, y, "classify", 3)


@pytest.fixture(scope="module")
def widths(lstm):
    """A few widths: the base, two smaller tables, the PWL unit and a one-bit table that must lose."""
    base = DatapathConfig()
    return [("base", base), ("lut_bits 8", base.replace(lut_bits=8)), ("lut_bits 6", base.replace(lut_bits=6)),
            ("pwl", base.replace(activation="pwl")), ("lut_bits 1", base.replace(lut_bits=1))]


def _fake_synth(calls):
    """Counts that grow with the folding and the widths, judged by the real ``fit_line``."""

    def synth(qm, cfg, target, device):
        calls.append((cfg.rows, cfg.lanes, cfg.pointwise))
        bits = sum(getattr(cfg, n).bits for n in FORMAT_NAMES)
        table = 0 if cfg.activation == "pwl" else (1 << cfg.lut_bits) * cfg.act.bits
        counts = {"luts": 30 * bits * cfg.rows * cfg.lanes + (300 if cfg.activation == "pwl" else 0) * cfg.pointwise,
                  "ffs": 10 * bits * cfg.rows, "brams": 4 + 10 * cfg.pointwise * -(-table // 4096), "dsps": 4}
        return counts, fit_line(target, device, counts)

    return synth


def test_device_family_names_and_refusals():
    assert device_family("up5k") == ("ice40", "up5k")
    assert device_family("ECP5:25k") == ("ecp5", "25k")
    assert device_family("85k") == ("ecp5", "85k")
    with pytest.raises(ConfigError, match=r"^--fit device must be one of ice40:up5k, .*, not 'nope'$"):
        device_family("nope")
    with pytest.raises(ConfigError, match=r"not 'ice40:25k'$"):
        device_family("ice40:25k")


def test_folding_chain_is_monotone_and_ever_faster(lstm):
    qm, _ = lstm
    chain = folding_chain(qm, DatapathConfig())
    assert chain[0][:3] == (1, 1, 1)
    assert len(chain) >= 4
    for (r0, l0, p0, c0), (r1, l1, p1, c1) in zip(chain, chain[1:]):
        assert c1 < c0  # every link saves cycles
        assert r1 >= r0 and l1 >= l0 and p1 >= p0 and (r1, l1, p1) != (r0, l0, p0)  # and holds more hardware
        assert r1 % p1 == 0


def test_widths_start_with_the_base_and_are_distinct(lstm):
    qm, ds = lstm
    base = DatapathConfig()
    ws = width_configs(qm, ds, base)
    assert ws[0] == ("base", base)
    assert len({c for _, c in ws}) == len(ws)
    labels = [lab for lab, _ in ws]
    assert "lut_bits 8" in labels and "pwl" in labels and "8-bit formats" in labels
    assert fixed_metric(qm, ds, base)[0] == 1.0  # the data are labelled by the base contract
    assert fixed_metric(qm, ds, base.replace(lut_bits=1))[0] < 0.6


def test_dominates_is_width_order():
    a = DatapathConfig()
    assert dominates(a, a.replace(lut_bits=8)) and not dominates(a.replace(lut_bits=8), a)
    assert not dominates(a, a.replace(activation="pwl"))


def test_search_finds_the_last_link_that_fits_with_few_syntheses(lstm, widths):
    qm, ds = lstm
    calls = []
    res = fit_device(qm, ds, "up5k", max_loss=100.0, widths=widths, synth=_fake_synth(calls))
    assert res.chosen is not None and res.chosen.fits
    # brute force: no accepted width fits any link beyond the chosen one
    synth = _fake_synth([])
    k = [c[:3] for c in res.chain].index((res.chosen.rows, res.chosen.lanes, res.chosen.pointwise_units))
    for w in res.widths:
        for r, l, p, _ in res.chain[k + 1:]:
            assert synth(qm, w.config.replace(rows=r, lanes=l, pointwise_units=p), "ice40", "up5k")[1] is not None
    assert len(calls) < len(res.widths) * len(res.chain) // 2  # far fewer than trying everything
    assert res.config.rows == res.chosen.rows and res.config.pointwise == res.chosen.pointwise_units
    text = format_fit(res)
    assert re.search(rf"chose .*, {res.chosen.folding}: {res.chosen.cycles_per_step} cycles/step", text)
    assert "does not fit ice40 up5k" in text  # what did not fit is shown
    json.dumps(res.to_dict())


def test_loss_bound_drops_widths_and_keeps_the_base(lstm, widths):
    qm, ds = lstm
    res = fit_device(qm, ds, "up5k", max_loss=0.001, widths=widths, synth=_fake_synth([]))
    by = {w.label: w for w in res.widths}
    assert by["base"].accepted and by["base"].loss == 0.0
    dropped = [w for w in res.widths if not w.accepted]
    assert "lut_bits 1" in [w.label for w in dropped]
    assert all(w.loss > 0.001 and w.reason.startswith("loses ") for w in dropped)
    assert res.chosen is None or by[res.chosen.label].accepted
    assert all(by[t.label].accepted for t in res.trials)


def test_place_and_route_refusal_moves_the_choice_down(lstm, widths):
    qm, ds = lstm
    first = fit_device(qm, ds, "up5k", max_loss=100.0, widths=widths, synth=_fake_synth([]))
    refused = []

    def confirm(q, cfg, target, device):  # stands in for nextpnr: refuses the first choice only
        refused.append((cfg.rows, cfg.lanes, cfg.pointwise))
        return "design does not fit ice40 up5k: ICESTORM_LC 6491/5280" if len(refused) == 1 else None

    res = fit_device(qm, ds, "up5k", max_loss=100.0, widths=widths, synth=_fake_synth([]), confirm=confirm)
    assert refused[0] == (first.chosen.rows, first.chosen.lanes, first.chosen.pointwise_units)
    assert len(res.confirmed) == 2 and res.confirmed[0][1].endswith("6491/5280") and res.confirmed[1][1] is None
    assert (res.chosen.label, res.chosen.folding) != (first.chosen.label, first.chosen.folding)
    assert res.chosen.cycles_per_step >= first.chosen.cycles_per_step
    assert "place and route" in format_fit(res)


def test_nothing_fits_gives_no_choice(lstm, widths):
    qm, ds = lstm
    res = fit_device(qm, ds, "lp384", max_loss=100.0, widths=widths, synth=_fake_synth([]))
    assert res.chosen is None and res.config is None
    assert res.trials and not any(t.fits for t in res.trials)


@pytest.mark.parametrize(("args", "message"), [
    (["--max-loss", "1"], r"^Error: --max-loss goes with --fit DEVICE, not alone \(--max-loss 1.0\)$"),
    (["--data", "digits"], r"^Error: --data goes with --fit DEVICE, not alone"),
    (["--fit-pnr"], r"^Error: --fit-pnr goes with --fit DEVICE, not alone"),
    (["--fit", "up5k", "--data", "d.npz", "--rows", "2"], r"^Error: --fit chooses the folding; give --fit or --rows 2, not both$"),
    (["--fit", "up5k"], r"^Error: --fit up5k needs --data: "),
    (["--fit", "nope", "--data", "digits"], r"^Error: --fit device must be one of .*, not 'nope'$"),
    (["--fit", "up5k", "--data", "digits", "--max-loss", "0"], r"must be a finite number > 0"),
])
def test_cli_refuses_bad_fit_arguments(lstm, tmp_path, args, message):
    from hwsim.model._modelfile import save_model

    qm, _ = lstm
    save_model(qm, tmp_path / "q.safetensors")
    r = CliRunner().invoke(main, ["export", str(tmp_path / "q.safetensors"), "-o", str(tmp_path / "ex"), *args])
    assert r.exit_code == 2, r.output
    last = [ln for ln in r.output.splitlines() if ln.strip()][-1]
    assert re.search(message, last), r.output
    assert not (tmp_path / "ex").exists()


@needs_yosys
@pytest.mark.rtl
@pytest.mark.slow  # several ice40 syntheses of a small LSTM
@pytest.mark.long
def test_cli_fit_exports_a_configuration_that_yosys_fits(tmp_path):
    from helpers import make_model
    from hwsim.export._manifest import read_manifest
    from hwsim.export._synth import synthesize
    from hwsim.model._modelfile import save_model
    from hwsim.sim._sim import run_fixed

    qm = quantize_model(make_model("lstm", 3, 4, layers=1, classes=2, seed=2), "ternary")
    x = np.random.default_rng(1).normal(0, 1.5, (32, 4, 3)).astype(np.float32)
    y = np.argmax(run_fixed(qm, x, DatapathConfig()).y, axis=-1)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    save_model(qm, tmp_path / "q.safetensors")
    # up3k: small enough that the fastest links do not fit, so the search has something to refuse
    r = CliRunner().invoke(main, ["export", str(tmp_path / "q.safetensors"), "-o", str(tmp_path / "ex"), "--fit", "up3k",
                                  "--data", str(tmp_path / "d.npz"), "--max-loss", "2", "--tb-sequences", "0"])
    assert r.exit_code == 0, r.output
    m = re.search(r"chose (.+), R(\d+)xL(\d+)xP(\d+): (\d+) cycles/step", r.output)
    assert m, r.output
    man = read_manifest(tmp_path / "ex")
    assert (man["schedule"]["rows"], man["schedule"]["lanes"], man["schedule"]["pointwise_units"]) == tuple(
        int(v) for v in m.group(2, 3, 4))
    assert man["schedule"]["cycles_per_step"] == int(m.group(5))
    rep = synthesize(tmp_path / "ex", "ice40", device="up3k")
    assert rep.does_not_fit is None  # the export it wrote is the one that fitted
    # nothing fits: one line, exit 2, no output directory
    r = CliRunner().invoke(main, ["export", str(tmp_path / "q.safetensors"), "-o", str(tmp_path / "ex2"), "--fit", "lp384",
                                  "--data", str(tmp_path / "d.npz")])
    assert r.exit_code == 2
    assert re.search(r"^Error: nothing fits ice40 lp384 within 1 of the contract's metric; ", r.output.splitlines()[-1])
    assert not (tmp_path / "ex2").exists()
