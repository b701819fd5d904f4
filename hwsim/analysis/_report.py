"""The self-contained HTML report: accuracy, drift, gate errors, weight codes, saturation, resources.

One file, ``index.html``, with every plot embedded as a base64 PNG (matplotlib, Agg), so it can be
mailed, attached to a CI run or opened from a USB stick. The inputs are the plain results of the
other stages -- the dict of ``hwsim check --json`` (``hwsim.analysis._check.run_check``), the JSON of
``hwsim synth`` per target and of ``hwsim cosim`` -- plus the datapath contract and the weight-code
histograms of the lowered plan. Every section is optional except the check, so a report can be made
for any model with or without RTL tools.
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import jinja2
import numpy as np
from markupsafe import Markup

from .._fsutil import prepare_output_dir, write_dir
from .._errors import HwsimError

#: Metric names as the check reports them -> (label, "higher is better").
METRIC_LABELS = {
    "accuracy": ("accuracy", True),
    "bits_per_symbol": ("bits per symbol", False),
    "bpc": ("bits per character", False),
    "mse": ("mean squared error", False),
    "None": ("metric (no targets)", True),
}

_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;background:#f4f5f7;color:#1d232b}
main{max-width:1100px;margin:0 auto;padding:24px 32px 48px}
h1{font-size:26px;margin:8px 0 4px}h2{font-size:19px;margin:0 0 10px;border-bottom:1px solid #dde1e6;padding-bottom:6px}
.sub{color:#5b6672;margin:0 0 18px;font-size:14px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:16px 20px;margin:16px 0}
table{border-collapse:collapse;font-size:14px;margin:6px 0 10px}
th,td{border-bottom:1px solid #e6e9ed;padding:4px 12px 4px 0;text-align:left;vertical-align:top}
th{color:#5b6672;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font-family:"SFMono-Regular",Menlo,Consolas,monospace;font-size:13px;background:#f1f3f5;padding:1px 4px;border-radius:3px}
img{max-width:100%;height:auto;display:block;margin:8px 0}
.badges{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0 4px}
.badge{border-radius:6px;padding:8px 14px;font-size:14px;border:1px solid}
.badge b{display:block;font-size:18px}
.ok{background:#e8f6ec;border-color:#9fd8ae;color:#17652e}.bad{background:#fdecec;border-color:#f0a8a8;color:#8f1d1d}
.na{background:#f1f3f5;border-color:#d5d9de;color:#5b6672}.info{background:#eaf2fd;border-color:#a9c7f2;color:#1c4d8f}
.note{color:#5b6672;font-size:13px}
.ok-note{color:#17652e;font-size:15px;font-weight:600}
footer{color:#8a939d;font-size:12px;margin-top:24px}
"""


@dataclass(frozen=True)
class WeightHistogram:
    """Counts of every representable multiplier ``m`` (and its stored code) in one weight matrix."""

    name: str
    m: np.ndarray  # every m the codec can store, ascending
    codes: np.ndarray  # the stored code of each m
    counts: np.ndarray  # how many weights of the matrix hold each m
    scale_log2: int  # every weight is m * 2**scale_log2

    @property
    def total(self) -> int:
        return int(self.counts.sum())


def weight_histograms(plan) -> list[WeightHistogram]:
    """Histograms of the weight codes of every matrix of a lowered plan (``hwsim.datapath._plan.lower``).

    One entry per layer, accumulation and operand (``L0 z.ih`` reads the layer input, ``L0 z.hh``
    the recurrent state), plus ``head``: the split follows the ROMs, so the picture shows what the
    hardware stores.
    """
    codec = plan.codec
    valid = codec.valid_m()
    codes = codec.encode(valid)

    def hist(name: str, m: np.ndarray, s: int) -> WeightHistogram:
        m = np.asarray(m, dtype=np.int64).ravel()
        idx = np.searchsorted(valid, m)
        counts = np.bincount(idx, minlength=valid.size)[: valid.size]
        return WeightHistogram(name, valid, codes, counts.astype(np.int64), int(s))

    out = []
    for lp in plan.layers:
        for acc in lp.accums:
            if acc.n_in:
                out.append(hist(f"L{lp.index} {acc.name}.ih", acc.m[:, : acc.n_in], lp.s_in))
            if acc.n_rec:
                out.append(hist(f"L{lp.index} {acc.name}.hh", acc.m[:, acc.n_in :], lp.s_rec))
    if plan.head is not None:
        out.append(hist("head", plan.head.m, plan.head.s))
    return out


# ------------------------------------------------------------------------------------------------
# figures


def _figure(width: float, height: float):
    # Figure without pyplot: no global state, no GUI backend, always Agg for PNG output.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _drift_series(drift: Any) -> dict[str, np.ndarray]:
    """Named curves from the check's drift entry: a list of numbers, of dicts, or a dict of lists."""
    if drift is None:
        return {}
    if isinstance(drift, Mapping):
        return {str(k): np.asarray(v, dtype=float) for k, v in drift.items() if _is_seq(v)}
    drift = list(drift)
    if not drift:
        return {}
    if isinstance(drift[0], Mapping):
        keys = [k for k, v in drift[0].items() if isinstance(v, (int, float)) and k not in ("t", "step", "timestep")]
        return {k: np.array([float(d[k]) for d in drift]) for k in keys}
    return {"mean |err h|": np.asarray(drift, dtype=float)}


def _is_seq(v: Any) -> bool:
    return isinstance(v, (list, tuple, np.ndarray)) and len(v) > 0


def drift_figure(drift: Any, lsb: float | None = None) -> str | None:
    """The error of h at every timestep (the drift curve), with the LSB of h for scale."""
    series = _drift_series(drift)
    if not series or not any(v.size for v in series.values()):
        return None
    fig = _figure(10, 3.6)
    ax = fig.subplots()
    positive = True
    for name, y in series.items():
        t = np.arange(y.size)
        ax.plot(t, y, marker="o" if y.size <= 40 else None, ms=3, label=name)
        positive &= bool(np.all(y > 0))
    if lsb is not None:
        ax.axhline(lsb, color="0.4", ls="--", lw=1, label=f"1 LSB of h ({_num(lsb)})")
    allv = np.concatenate(list(series.values()))
    if positive and allv.max() > 20 * allv.min():  # log only when the curve spans a range worth it
        ax.set_yscale("log")
    ax.set_xlabel("timestep")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("|h_fixed - h_float(quantized)|")
    ax.set_title("Drift of the hidden state over the sequence")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    return _png(fig)


def _gate_rows(gate_errors: Any) -> list[tuple[str, float, float]]:
    """(gate, max, mean) from ``{gate: {"max": a, "mean": b}}`` or ``{gate: [max, mean]}``."""
    rows = []
    if not isinstance(gate_errors, Mapping):
        return rows
    for name, v in gate_errors.items():
        if isinstance(v, Mapping):
            mx = v.get("max", v.get("max_abs", v.get("max_abs_err")))
            mn = v.get("mean", v.get("mean_abs", v.get("mean_abs_err")))
        elif _is_seq(v) and len(v) == 2:
            mx, mn = v
        else:
            continue
        rows.append((str(name), float(mx) if mx is not None else math.nan, float(mn) if mn is not None else math.nan))
    return rows


def gate_error_figure(gate_errors: Any) -> str | None:
    """Max and mean absolute error per gate and node (fixed vs quantized-float), as bars."""
    rows = _gate_rows(gate_errors)
    if not rows:
        return None
    names = [r[0] for r in rows]
    mx = np.array([r[1] for r in rows])
    mn = np.array([r[2] for r in rows])
    fig = _figure(max(6.0, 0.9 * len(rows) + 2), 3.4)
    ax = fig.subplots()
    x = np.arange(len(rows))
    ax.bar(x - 0.2, mx, 0.4, label="max |err|", color="#d9534f")
    ax.bar(x + 0.2, mn, 0.4, label="mean |err|", color="#5b8fd9")
    if np.all(np.nan_to_num(np.concatenate([mx, mn]), nan=0.0) > 0):
        ax.set_yscale("log")
    ax.set_xticks(x, names)
    ax.set_ylabel("absolute error")
    ax.set_title("Error per gate (fixed point vs float on the quantized weights)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=9)
    return _png(fig)


def _m_label(m: int, kind: str) -> str:
    if m == 0:
        return "0"
    if kind == "exp":
        e = int(math.log2(abs(m)))
        return ("-" if m < 0 else "+") + f"2^{e}"
    return f"{m:+d}"


def weight_figure(hists: Sequence[WeightHistogram], kind: str = "") -> str | None:
    """One bar chart per weight matrix: how often each code (multiplier m) is stored.

    The panels share one y scale (a fraction of the matrix's weights), so their bars compare
    directly; at most three panels a row keep the tick labels at a readable size.
    """
    if not hists:
        return None
    n = len(hists)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig = _figure(4.2 * cols + 0.6, 3.2 * rows + 0.5)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False, sharey=True)).ravel()
    top = max(float((h.counts / max(h.total, 1)).max(initial=0.0)) for h in hists)
    for i, (ax, h) in enumerate(zip(axes, hists)):
        x = np.arange(h.m.size)
        frac = h.counts / max(h.total, 1)
        ax.bar(x, frac, color="#4c72b0")
        labels = [_m_label(int(m), kind) for m in h.m]
        if h.m.size > 9:  # thin the labels of wide (uniform / exp) code sets
            step = math.ceil(h.m.size / 7)
            ax.set_xticks(x[::step], labels[::step], fontsize=11)
        else:
            ax.set_xticks(x, labels, fontsize=11)
        ax.set_title(f"{h.name}  (x 2^{h.scale_log2}, n={h.total})", fontsize=12)
        ax.set_ylim(0, min(1.0, 1.15 * top + 0.02))
        ax.tick_params(axis="y", labelsize=11)
        ax.yaxis.set_major_formatter(_percent_formatter())
        if i % cols == 0:
            ax.set_ylabel("share of weights", fontsize=11)
        ax.grid(alpha=0.3, axis="y")
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle("Weight codes per matrix: share of weights per multiplier m (one y scale)", fontsize=13)
    return _png(fig)


def _percent_formatter():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(xmax=1.0, decimals=0)


def saturation_figure(saturations: Mapping[str, Any] | None) -> str | None:
    """Saturation events per node (how often a value was clipped leaving a wider format), log scale.

    None when no node saturated: the report says so in words instead of drawing an empty axis.
    Counts span orders of magnitude (1 to thousands), so the y axis is logarithmic and each bar
    carries its count.
    """
    if not saturations:
        return None
    names = list(saturations)
    counts = np.array([_count(saturations[k]) for k in names], dtype=float)
    if counts.max() <= 0:
        return None
    fig = _figure(max(7.0, 0.9 * len(names) + 2), 3.6)
    ax = fig.subplots()
    x = np.arange(len(names))
    bars = ax.bar(x, np.where(counts > 0, counts, np.nan), color="#d9534f")
    ax.bar_label(bars, labels=[f"{int(c):,}" if c > 0 else "" for c in counts], fontsize=10, padding=2)
    ax.set_yscale("log")
    ax.set_ylim(0.8, counts.max() * 3)
    ax.set_xticks(x, names, fontsize=11, rotation=30 if len(names) > 8 else 0)
    ax.tick_params(axis="y", labelsize=10)
    ax.set_ylabel("saturated values (log)", fontsize=11)
    ax.set_title("Saturation counts per node (nodes without a bar never saturated)", fontsize=12)
    ax.grid(alpha=0.3, axis="y", which="both")
    return _png(fig)


def _count(v: Any) -> float:
    if isinstance(v, Mapping):
        v = v.get("count", v.get("saturations", 0))
    return float(v or 0)


# ------------------------------------------------------------------------------------------------
# HTML: the page is templates/report.html.j2 (Jinja2, autoescape on); this module only prepares
# the values it prints.


class Code(str):
    """A table cell shown as code (``<code>...</code>``)."""


def _num(v: Any, digits: int = 4) -> str:
    """A table cell's text: numbers with thousands separators or 4 significant digits, a dash for none."""
    if v is None:
        return "\u2013"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v):,}"
        if math.isnan(v):
            return "\u2013"
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
            return f"{v:.3e}"
        return f"{v:.{digits}g}"
    return str(v)


def _cell(v: Any) -> Markup | str:
    if isinstance(v, Code):
        return Markup("<code>%s</code>") % str(v)
    return _num(v)


TEMPLATES = Path(__file__).resolve().parent / "templates"


@functools.cache
def environment(*extra: Path) -> jinja2.Environment:
    """The Jinja2 environment of hwsim's HTML pages: autoescape on, strict, with the ``cell`` filter;
    templates are looked up in ``extra`` folders first, then in this package's ``templates/``
    (whose ``_macros.html.j2`` every page may import)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in (*extra, TEMPLATES)]),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = _cell
    return env


def _badge(cls: str, title: str, value: str) -> dict[str, str]:
    return {"cls": cls, "title": title, "value": value}


def _metric_text(metric: str, v: Any) -> str:
    if v is None:
        return "–"
    if metric == "accuracy":
        return f"{100 * float(v):.2f} %"
    return f"{float(v):.4g}"


def cosim_passed(cosim: Mapping[str, Any] | None) -> bool | None:
    """True / False when co-simulation ran (bit-exact / not), None when it did not run.

    A run with no value mismatch still fails when the cosim says it is not ``ok`` (a timeout, or
    measured cycles that differ from the schedule).
    """
    if not cosim or cosim.get("skipped"):
        return None
    return int(cosim.get("mismatches", 0)) == 0 and cosim.get("ok") is not False


def _cosim_verdict(cosim: Mapping[str, Any]) -> str:
    if int(cosim.get("mismatches", 0)):
        return f"{int(cosim['mismatches'])} mismatches"
    if cosim.get("timed_out"):
        return "timed out"
    return "cycle count differs"


def build_html(
    check: Mapping[str, Any],
    *,
    title: str = "hwsim report",
    model_info: Mapping[str, Any] | None = None,
    weights: Sequence[WeightHistogram] | None = None,
    code_kind: str = "",
    synth: Mapping[str, Mapping[str, Any]] | None = None,
    cosim: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    notes: Sequence[str] = (),
    float_source: str = "the original weights",
) -> str:
    """The report as one HTML string (see ``write_report``)."""
    if not isinstance(check, Mapping) or "metric" not in check:
        raise HwsimError("a report needs the result of a check (a mapping with a 'metric' key)")
    from .. import __version__

    metric = str(check["metric"])
    mlabel, higher = METRIC_LABELS.get(metric, (metric, True))
    lsb = None
    if config and isinstance(config.get("h"), Mapping):
        lsb = 2.0 ** -int(config["h"]["frac"])
    ctx: dict[str, Any] = {
        "css": Markup(_CSS),
        "title": title,
        "version": __version__,
        "now": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "notes": list(notes),
    }

    # -- verdict badges ------------------------------------------------------------------------
    badges = []
    if check.get("float_metric") is not None:
        badges.append(_badge("info", f"float {mlabel}", _metric_text(metric, check.get("float_metric"))))
    else:
        badges.append(_badge("na", f"float {mlabel}", "not given (--float-model)"))
    badges.append(_badge("info", f"fixed-point {mlabel}", _metric_text(metric, check.get("fixed_metric"))))
    flips = check.get("argmax_flips")
    if flips is not None:
        badges.append(_badge("ok" if float(flips) == 0 else "info", "argmax flips (quant vs fixed)", f"{100 * float(flips):.2f} %"))
    passed = cosim_passed(cosim)
    if passed is None:
        badges.append(_badge("na", "RTL co-simulation", str((cosim or {}).get("reason", "not run"))))
    else:
        badges.append(_badge("ok" if passed else "bad", "RTL co-simulation", "bit-exact" if passed else _cosim_verdict(cosim)))
    if synth:
        t, r = next(iter(synth.items()))
        if not r.get("skipped"):
            badges.append(_badge("info", f"{t} LUTs", _plain(r.get("luts"))))
    ctx["badges"] = badges

    # -- model and accuracy --------------------------------------------------------------------
    ctx["model_rows"] = [(str(k), str(v)) for k, v in model_info.items()] if model_info else []
    rows = [
        ("float model", check.get("float_metric"), float_source if check.get("float_metric") is not None else "not given"),
        ("quantized, float arithmetic", check.get("quant_metric"), "quantized weights, float64 inference"),
        ("quantized, fixed point (bit-accurate)", check.get("fixed_metric"), "what the hardware computes"),
    ]
    mae = check.get("mae")
    extra: list[tuple[str, Any]] = [
        *([] if mae else [("argmax flips, quantized-float vs fixed", None if flips is None else f"{100 * float(flips):.3f} %")]),
        *([(f"mean absolute error ({n})", mae.get(n)) for n in ("float", "quant", "fixed")] if mae else []),
        *([("|y_fixed - y_quant|, max / mean (output units)",
            f"{_plain(check['max_abs_err_y'])} / {_plain(check['mean_abs_err_y'])}")]
          if mae and check.get("mean_abs_err_y") is not None else []),
        ("max |h_fixed - h_float|", check.get("max_abs_err_h")),
    ]
    if lsb is not None and check.get("max_abs_err_h") is not None:
        extra.append(("... in LSBs of h", f"{float(check['max_abs_err_h']) / lsb:.2f}"))
    thr = check.get("threshold_text") or (None if check.get("threshold_lsb") is None else f"{_plain(check['threshold_lsb'])} LSB")
    extra.append((f"first divergence (error > {thr})" if thr is not None else "first divergence",
                   _divergence_text(check.get("first_divergence"))))
    extra += [(k.replace("_", " "), check[k]) for k in ("sequences", "steps", "n_sequences", "timesteps") if k in check]
    ctx["accuracy"] = {
        "header": ["inference", mlabel + (" (higher is better)" if higher else " (lower is better)"), ""],
        "rows": [(n, _metric_text(metric, v), d) for n, v, d in rows],
        "extra": extra,
    }

    # -- drift and gates -----------------------------------------------------------------------
    layers = check.get("drift_layers")
    drift = check.get("drift")
    if isinstance(layers, list) and len(layers) > 1:
        drift = {f"layer {k}, mean |err h|": v for k, v in enumerate(layers)}
    ctx["drift_img"] = drift_figure(drift, lsb)
    qloss = check.get("quantization_loss")
    ctx["qloss"] = None
    if isinstance(qloss, Mapping) and qloss.get("quant_drift"):
        ctx["qloss"] = {
            "rows": [(k, e.get("metric"), e.get("loss"))
                     for k, e in [*qloss.get("tensors", {}).items(), *qloss.get("layers", {}).items()]],
            "img": drift_figure({"float vs quantized weights, mean |err h|": qloss["quant_drift"]}),
        }
    gate_key = _gate_key(check)
    img = gate_error_figure(check.get(gate_key)) if gate_key else None
    ctx["gates"] = {"img": img, "rows": _gate_rows(check[gate_key])} if img else None

    # -- weights -------------------------------------------------------------------------------
    ctx["weights"] = None
    if weights:
        wrows = []
        for h in weights:
            zero = int(h.counts[h.m == 0].sum()) if (h.m == 0).any() else 0
            wrows.append((h.name, h.total, f"{100 * zero / max(h.total, 1):.1f} %", f"2^{h.scale_log2}"))
        ctx["weights"] = {"img": weight_figure(weights, code_kind), "rows": wrows}

    # -- saturation and widths -----------------------------------------------------------------
    sats = check.get("saturations")
    ctx["saturation"] = None
    if sats is not None:
        widths = check.get("suggested_widths")
        ctx["saturation"] = {
            "img": saturation_figure(sats),
            "nodes": len(sats),
            "widths": _widths_table(widths, sats) if isinstance(widths, Mapping) and widths else None,
        }

    # -- resources -----------------------------------------------------------------------------
    ctx["synth"] = None
    if synth:
        cols = ["luts", "ffs", "brams", "dsps", "weight_multipliers", "cycles_per_step"]
        srows = []
        for target, r in synth.items():
            if r.get("skipped"):
                srows.append((target, str(r.get("reason", "skipped")), *([None] * (len(cols) - 1))))
            else:
                srows.append((target, *(r.get(c) for c in cols)))
        cells = [(t, [(Code(k), v) for k, v in sorted(r["cells"].items(), key=lambda kv: -kv[1])[:12]])
                 for t, r in synth.items() if isinstance(r.get("cells"), Mapping) and r.get("cells")]
        ctx["synth"] = {"rows": srows, "numeric": [False] + [True] * len(cols), "cells": cells}

    # -- cosim ---------------------------------------------------------------------------------
    ctx["cosim"] = None
    if cosim is not None:
        crow = [(k.replace("_", " "), cosim.get(k))
                for k in ("sequences", "steps", "mismatches", "cycles_per_step", "model_cycles_per_step",
                          "head_cycles", "model_head_cycles", "saturations", "model_saturations", "timed_out")
                if k in cosim]
        crow.append(("first mismatch", _divergence_text(cosim.get("first_mismatch"))))
        ctx["cosim"] = {"passed": passed, "reason": str(cosim.get("reason", "skipped")),
                        "verdict": _cosim_verdict(cosim) if passed is False else "", "rows": crow}

    # -- contract ------------------------------------------------------------------------------
    crows = []
    for k, v in (config or {}).items():
        if isinstance(v, Mapping) and set(v) == {"bits", "frac"}:
            v = f"s{v['bits']}.{v['frac']}  ({v['bits']} bits, {v['frac']} after the point)"
        crows.append((Code(k), str(v)))
    ctx["contract"] = crows
    return environment().get_template("report.html.j2").render(**ctx)


def _widths_table(widths: Mapping[str, Any], sats: Mapping[str, Any]) -> dict[str, Any]:
    """Node -> configured / interval-bound / observed width, one column per key the check gives."""
    keys: list[str] = []
    for v in widths.values():
        if isinstance(v, Mapping):
            keys += [k for k in v if k not in keys]
    if not keys:
        return {"header": ["node", "suggested"], "rows": [(str(n), v) for n, v in widths.items()],
                "numeric": [False, True], "explained": False}
    label = {"configured": "configured", "interval": "interval bound", "observed": "observed range", "format": "format"}
    rows = []
    for node, v in widths.items():
        v = v if isinstance(v, Mapping) else {}
        rows.append((Code(node), *(v.get(k) for k in keys), _count(sats.get(node, 0))))
    return {"header": ["node", *(label.get(k, k) for k in keys), "saturated"], "rows": rows,
            "numeric": [False] + [True] * (len(keys) + 1), "explained": True}


def _gate_key(check: Mapping[str, Any]) -> str | None:
    for k in ("gate_errors", "gates", "per_gate", "gate_error"):
        if isinstance(check.get(k), Mapping):
            return k
    return None


def _plain(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _divergence_text(d: Any) -> str:
    if d is None:
        return "none"
    if isinstance(d, Mapping):
        return ", ".join(f"{str(k).replace('_', ' ')} {_plain(v)}" for k, v in d.items())
    return str(d)


def write_report(directory: str | os.PathLike, check: Mapping[str, Any], **sections: Any) -> Path:
    """Write ``directory/index.html`` atomically and return its path.

    The page is built in a temporary sibling directory and renamed into place, so a reader (or a
    browser left open) never sees half a report; an existing report in ``directory`` is replaced,
    a directory hwsim did not write is refused (``hwsim._fsutil.prepare_output_dir``).
    ``sections`` are the keyword arguments of ``build_html``: ``title``, ``model_info``,
    ``weights`` (``weight_histograms(plan)``), ``code_kind``, ``synth`` ({target: synth JSON}),
    ``cosim`` (cosim JSON, or ``{"skipped": True, "reason": ...}``), ``config``
    (``DatapathConfig.to_dict()``), ``notes`` and ``float_source`` (what the float row measured).
    """
    target = prepare_output_dir(directory, force=None, what="report directory")
    text = build_html(check, **sections)
    write_dir(target, {"index.html": text})
    return Path(directory) / "index.html"


def describe_model(model, dataset=None) -> dict[str, str]:
    """The 'Model and data' rows: cell, sizes, quantization method and the data set."""
    info = {
        "cell": f"{model.cell.upper() if model.cell in ('gru', 'lstm') else model.cell}, {model.num_layers} layer(s)",
        "sizes": f"input {model.input_size}, hidden {model.hidden_size}"
        + (f", {model.num_classes} outputs" if model.num_classes else ""),
    }
    q = model.quant
    if q is not None:
        extra = f", exponents {q.e_min}..{q.e_max}" if q.e_min is not None else ""
        info["weights"] = f"{q.method}, {q.bits}-bit codes{extra}, biases {q.biases}"
    n = sum(model.tensor(k).size for k in model.tensor_keys())
    info["parameters"] = f"{n:,}"
    if dataset is not None:
        x = np.asarray(dataset.x)
        info["data"] = f"{dataset.name}: {x.shape[0]:,} sequences of {x.shape[1]} steps, task {dataset.task}"
    return info


def report_for_check(
    directory: str | os.PathLike,
    check: Mapping[str, Any],
    qmodel,
    dataset,
    config,
    *,
    title: str | None = None,
    **sections: Any,
) -> Path:
    """``write_report`` for a check of ``qmodel`` on ``dataset`` under ``config``: the model rows,
    the weight-code histograms of its plan and the contract are filled in from the objects.

    This is what ``hwsim report`` and ``hwsim check --report DIR`` call.
    """
    from ..datapath._plan import lower

    plan = lower(qmodel, config)
    return write_report(
        directory,
        check,
        title=title or f"hwsim report: {qmodel.cell.upper()} on {dataset.name}",
        model_info=describe_model(qmodel, dataset),
        weights=weight_histograms(plan),
        code_kind=plan.codec.kind,
        config=config.to_dict(),
        **sections,
    )
