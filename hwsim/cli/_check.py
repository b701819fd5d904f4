"""``hwsim check``: float vs quantized-float vs bit-accurate fixed point on a data set.

Thin layer over ``hwsim.analysis._check.run_check``: loads the models, the data set and the contract, and
prints ``format_report``'s table or, with ``--json``, one JSON object.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._options import (
    cell_option,
    config_option,
    data_option,
    limit_option,
    split_option,
)
from . import PositiveFloat, fail, user_errors
from ..data._datasets import SPLITS


@click.command("check")
@click.argument("qmodel", type=click.Path(dir_okay=False, path_type=Path))
@data_option()
@click.option("--float-model", "float_model", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The original float model, to report its metric too.")
@config_option()
@cell_option()
@split_option()
@limit_option()
@click.option("--tol-lsb", "--threshold-lsb", "threshold_lsb", type=PositiveFloat(), default=None,
              help="First divergence: an error above this many LSBs of the node's format. Default: above "
              "4 x the activation unit's own worst error (more than its tables explain).")
@click.option("--suggest-config", "suggest_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the width advisor's contract (formats placed for this data's ranges) to this TOML, for --config.")
@click.option("--suggest-bits", type=click.IntRange(4, 24), default=None,
              help="With --suggest-config: make every format this wide (default: keep each format's width).")
@click.option("--calibrate-split", "calibrate_split", type=click.Choice(SPLITS), default=None,
              help="With --suggest-config: place the formats on this split's ranges (e.g. train) and score them on "
                   "--split, so the advisor is not judged on the data it was fitted to. Default: the scored data.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write a self-contained HTML report to REPORT/index.html (a report hwsim wrote there is replaced; other files are refused).")
@user_errors
def check(qmodel: Path, data: str, float_model: Path | None, config: Path | None, cell: str | None, split: str | None,
          limit: int | None, threshold_lsb: float | None, suggest_path: Path | None, suggest_bits: int | None,
          calibrate_split: str | None, as_json: bool, report_dir: Path | None) -> None:
    """Compare QMODEL's bit-accurate datapath with float inference on a data set."""
    from ..analysis._check import format_report, run_check
    from ..datapath._config import DEFAULT_CONFIG, DatapathConfig
    from ..data._datasets import load_data, resolve_split
    from .._errors import QuantError
    from ..model._modelfile import load_model

    resolve_split(data, split)  # a --split the data cannot honour: refused before any work
    if calibrate_split is not None:
        if suggest_path is None:
            fail(f"--calibrate-split needs --suggest-config OUT.toml, not --calibrate-split {calibrate_split} alone")
        resolve_split(data, calibrate_split)
    if report_dir is not None:
        from .._fsutil import prepare_output_dir

        prepare_output_dir(report_dir, force=None, what="report directory")  # refused before the check runs
    qm = load_model(qmodel, cell=cell)
    if qm.quant is None:
        raise QuantError(f"{qmodel}: check needs a quantized model (run `hwsim quantize` first)")
    fm = None if float_model is None else load_model(float_model, cell=cell or qm.cell)
    cfg = DEFAULT_CONFIG if config is None else DatapathConfig.from_toml(config)
    ds = load_data(data, split=split, input_size=qm.input_size)
    if limit is not None:
        ds = ds.head(limit)
    report = run_check(qm, ds, cfg, float_model=fm, threshold_lsb=threshold_lsb)
    if suggest_path is not None:
        cal = ds if calibrate_split is None else load_data(data, split=calibrate_split, input_size=qm.input_size)
        if calibrate_split is not None and limit is not None:
            cal = cal.head(limit)
        report["suggested_config"] = _suggest(qm, ds, cfg, fm, suggest_path, suggest_bits, qmodel, data, split, limit,
                                              cal, calibrate_split)
    elif suggest_bits is not None:
        fail(f"--suggest-bits needs --suggest-config OUT.toml, not --suggest-bits {suggest_bits} alone")
    path = None
    if report_dir is not None:  # written before anything is printed: a failure is then the only line
        from ..analysis._report import report_for_check

        path = report_for_check(report_dir, report, qm, ds, cfg, title=f"hwsim check: {qmodel.name} on {ds.label}")
    click.echo(json.dumps(report) if as_json else format_report(report))
    if path is not None:
        click.echo(f"report -> {path}", err=as_json)  # with --json, stdout stays one JSON object
    if suggest_path is not None and not as_json:
        sc = report["suggested_config"]
        click.echo(f"suggested config -> {suggest_path}: fixed metric {sc['fixed_metric']} "
                   f"(this config: {report['fixed_metric']})")


def _suggest(qm, ds, cfg, fm, path: Path, bits: int | None, qmodel: Path, data: str, split: str | None,
             limit: int | None, cal, calibrate_split: str | None):
    """Write the width advisor's contract for ``qm``, placed on ``cal``'s ranges and checked on ``ds``:
    its metric goes in the report."""
    from ..analysis._advise import observed_ranges, suggest_config, write_config_toml
    from ..analysis._check import run_check

    new = suggest_config(qm, observed_ranges(qm, cal.x), cfg, bits=bits)
    r = run_check(qm, ds, new, float_model=fm)
    lim = f" --limit {limit}" if limit is not None else ""
    sp = f" --split {split}" if split is not None else ""
    write_config_toml(path, new, (
        f"hwsim check --suggest-config: formats placed for the ranges of {qmodel.name} on {cal.label}"
        + (f", {bits} bits each" if bits is not None else ""),
        f"{r['metric']}: fixed {r['fixed_metric']!r}, quant {r['quant_metric']!r} on {len(ds)} sequences of {ds.label}",
        f"reproduce: hwsim check {qmodel} --data {data}{sp}{lim} --config {path.name}",
    ))
    return {"path": str(path), "config": new.to_dict(), "fixed_metric": r["fixed_metric"],
            "saturations": sum(r["saturations"].values()), "calibrated_on": cal.label,
            "calibrate_split": calibrate_split, "scored_on": ds.label}
