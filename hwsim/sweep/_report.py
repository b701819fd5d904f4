"""The answer of a sweep: Pareto fronts, the recommended point as DIR/best.toml, DIR/report/index.html.

A point is on the front of (metric, cost) when no other point is at least as good on both and better
on one. The metric is the bit-accurate one (accuracy: higher is better; bits per symbol, mse: lower);
costs are LUTs (from yosys) and latency (cycles of one sequence, or microseconds with an Fmax).
``choose_best`` applies the user's rule: the fewest LUTs (then the lowest latency) within
``max_loss`` of the reference metric, or the best metric within ``max_luts``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from .._errors import HwsimError

#: The page template (its table and image macros come from hwsim.analysis's templates).
TEMPLATES = Path(__file__).resolve().parent / "templates"


def _ok(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if not r.get("error") and r.get("fixed_metric") is not None]


def _better(r: dict[str, Any]) -> float:
    """The metric as 'higher is better'."""
    return r["fixed_metric"] if r["metric"] == "accuracy" else -r["fixed_metric"]


def luts(r: dict[str, Any]) -> float | None:
    res = r.get("resources")
    return None if not res else res.get("luts")


def latency(r: dict[str, Any]) -> float:
    """Latency of one sequence: microseconds with an Fmax, else cycles."""
    f = (r.get("resources") or {}).get("fmax_mhz")
    return r["latency_cycles"] / f if f else r["latency_cycles"]


def pareto(records: Sequence[dict[str, Any]], cost) -> list[dict[str, Any]]:
    """Points no other point dominates on (metric, cost), sorted by cost."""
    pts = [r for r in _ok(records) if cost(r) is not None]
    front = []
    for r in pts:
        m, c = _better(r), cost(r)
        dominated = any(
            _better(o) >= m and cost(o) <= c and (_better(o) > m or cost(o) < c) for o in pts if o is not r
        )
        if not dominated:
            front.append(r)
    return sorted(front, key=lambda r: (cost(r), -_better(r), r["key"]))


def choose_best(records: Sequence[dict[str, Any]], *, max_loss: float | None = None,
                max_luts: int | None = None) -> dict[str, Any] | None:
    """The recommended point under one rule (``max_loss`` in accuracy points, or ``max_luts``);
    with neither, the best metric. None when no point satisfies the rule."""
    pts = _ok(records)
    if max_loss is not None:
        fit = [r for r in pts if r["loss"] is not None and r["loss"] <= max_loss]
        key = lambda r: (luts(r) if luts(r) is not None else float("inf"), latency(r), -_better(r), r["key"])  # noqa: E731
    elif max_luts is not None:
        fit = [r for r in pts if luts(r) is not None and luts(r) <= max_luts]
        key = lambda r: (-_better(r), luts(r), latency(r), r["key"])  # noqa: E731
    else:
        fit = pts
        key = lambda r: (-_better(r), luts(r) if luts(r) is not None else float("inf"), latency(r), r["key"])  # noqa: E731
    return min(fit, key=key) if fit else None


def best_toml(rec: dict[str, Any], *, data: str, split: str | None, limit: int | None, rule: str) -> str:
    """The chosen point's contract as TOML for ``--config``, with how to reproduce it in comments.

    ``split`` is the one the sweep was given: the reproduce line names it only then.
    """
    from ..analysis._advise import config_toml
    from ..datapath._config import DatapathConfig

    lim = f" --limit {limit}" if limit is not None else ""
    sp = f" --split {split}" if split is not None else ""
    head = [
        f"hwsim sweep: recommended configuration ({rule})",
        f"point {rec['key']}: {rec['point']}",
        f"{rec['metric']}: fixed {rec['fixed_metric']!r}, reference {rec['reference_metric']!r}, loss {rec['loss']!r}"
        + (f" on {rec['n_sequences']} sequences of {rec['data']}" if rec.get("data") else ""),
        (f"LUTs {luts(rec)}, " if luts(rec) is not None else "")
        + f"cycles/step {rec['cycles_per_step']}, latency {rec['latency_cycles']} cycles",
        f"reproduce: hwsim check {rec.get('model_file', rec['model'])} --data {data}{sp}{lim} --config best.toml",
    ]
    return config_toml(DatapathConfig.from_dict(rec["config"]), tuple(head))


def _fig(records, front, cost, xlabel: str) -> str | None:
    from ..analysis._report import _figure, _png

    pts = [r for r in _ok(records) if cost(r) is not None]
    if not pts:
        return None
    fig = _figure(6.0, 3.6)
    ax = fig.add_subplot()
    ax.scatter([cost(r) for r in pts], [r["fixed_metric"] for r in pts], s=18, color="#999", label="points")
    ax.plot([cost(r) for r in front], [r["fixed_metric"] for r in front], "o-", color="#c33", label="Pareto front")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"bit-accurate {pts[0]['metric']}")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return _png(fig)


def _describe(r: dict[str, Any]) -> str:
    p = r["point"]
    parts = [r["model"], p["method"]]
    parts.append(f"{p['bits']} bits" if p.get("bits") is not None else "")
    parts += [f"{k}={v}" for k, v in p.items() if k not in ("model", "method", "bits", "formats", "target")]
    parts.append(p.get("target") or "")
    return ", ".join(x for x in parts if x)


def build_html(records: Sequence[dict[str, Any]], best: dict[str, Any] | None, rule: str, title: str) -> str:
    from ..analysis._report import environment

    fr_luts = pareto(records, luts)
    fr_lat = pareto(records, latency)
    has_fmax = any((r.get("resources") or {}).get("fmax_mhz") for r in _ok(records))
    lat_label = "latency per sequence (us)" if has_fmax else "latency per sequence (cycles)"
    rows = []
    for r in sorted({id(r): r for r in fr_luts + fr_lat}.values(), key=lambda r: (luts(r) or 0, latency(r))):
        res = r.get("resources") or {}
        rows.append([
            _describe(r), r["fixed_metric"], r["float_metric"], r["quant_metric"], r["loss"], r["saturations"],
            res.get("luts"), res.get("ffs"), res.get("brams"), r["cycles_per_step"], r["latency_cycles"],
            res.get("fmax_mhz"), "LUTs" if r in fr_luts and r in fr_lat else ("LUTs" if r in fr_luts else "latency"),
        ])
    errors = [r for r in records if r.get("error")]
    return environment(TEMPLATES).get_template("sweep.html.j2").render(
        title=title,
        n_points=len(records),
        n_refused=len(errors),
        rule=rule,
        best="no point satisfies the rule" if best is None else f"{_describe(best)} (best.toml)",
        luts_img=_fig(records, fr_luts, luts, "LUTs (yosys)"),
        latency_img=_fig(records, fr_lat, latency, lat_label),
        rows=rows,
        refused=[(_describe(r), r["error"]) for r in errors],
    )


def write_outputs(out_dir: str | os.PathLike, records: Sequence[dict[str, Any]], *, data: str, split: str | None,
                  limit: int | None, max_loss: float | None = None, max_luts: int | None = None) -> dict[str, Any]:
    """Write DIR/best.toml (when a point fits the rule) and DIR/report/index.html; return a summary."""
    from .._fsutil import atomic_write, write_dir

    out = Path(out_dir)
    counted = any(luts(r) is not None for r in _ok(records))
    if max_loss is not None:  # the rule names only what the records can say: no target axis, no LUTs
        rule = (f"fewest LUTs within {max_loss:g} points of the reference" if counted else
                f"lowest latency within {max_loss:g} points of the reference (no LUT counts: the grid has no target axis)")
    elif max_luts is not None:
        rule = (f"best metric within {max_luts} LUTs" if counted else
                f"best metric within {max_luts} LUTs: none can be shown (no LUT counts: the grid has no target axis)")
    else:
        rule = "best metric"
    best = choose_best(records, max_loss=max_loss, max_luts=max_luts)
    best_path = out / "best.toml"
    if best is not None:
        text = best_toml(best, data=data, split=split, limit=limit, rule=rule)
        atomic_write(best_path, lambda t: Path(t).write_text(text, encoding="utf-8"))
    elif best_path.exists():
        best_path.unlink()  # a stale recommendation from another rule would mislead
    page = build_html(records, best, rule, f"hwsim sweep: {len(records)} points")
    report = out / "report"
    write_dir(report, {"index.html": page})
    if not _ok(records):
        raise HwsimError("no point of the sweep produced a metric (does the data set have targets?)")
    return {
        "rule": rule,
        "best": None if best is None else best["key"],
        "best_toml": str(best_path) if best is not None else None,
        "report": str(report / "index.html"),
        "pareto_luts": [r["key"] for r in pareto(records, luts)],
        "pareto_latency": [r["key"] for r in pareto(records, latency)],
    }
