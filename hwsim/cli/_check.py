"""``hwsim check``: float vs quantized-float vs bit-accurate fixed point on a data set.

Thin layer over ``hwsim._check.run_check``: loads the models, the data set and the contract, and
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
from . import PositiveFloat, user_errors


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
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write a self-contained HTML report to REPORT/index.html (replaced when it exists).")
@user_errors
def check(qmodel: Path, data: str, float_model: Path | None, config: Path | None, cell: str | None, split: str,
          limit: int | None, threshold_lsb: float, as_json: bool, report_dir: Path | None) -> None:
    """Compare QMODEL's bit-accurate datapath with float inference on a data set."""
    from .._check import format_report, run_check
    from .._config import DEFAULT_CONFIG, DatapathConfig
    from .._data import load_data
    from .._errors import QuantError
    from .._modelfile import load_model

    qm = load_model(qmodel, cell=cell)
    if qm.quant is None:
        raise QuantError(f"{qmodel}: check needs a quantized model (run `hwsim quantize` first)")
    fm = None if float_model is None else load_model(float_model, cell=cell or qm.cell)
    cfg = DEFAULT_CONFIG if config is None else DatapathConfig.from_toml(config)
    ds = load_data(data, split=split, input_size=qm.input_size)
    if limit is not None:
        ds = ds.head(limit)
    report = run_check(qm, ds, cfg, float_model=fm, threshold_lsb=threshold_lsb)
    click.echo(json.dumps(report) if as_json else format_report(report))
    if report_dir is not None:
        from .._report import report_for_check

        path = report_for_check(report_dir, report, qm, ds, cfg, title=f"hwsim check: {qmodel.name} on {ds.name}")
        click.echo(f"report -> {path}", err=as_json)  # with --json, stdout stays one JSON object
