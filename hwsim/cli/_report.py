"""``hwsim report``: the HTML report for any quantized model on a data set."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._options import cell_option, config_option, data_option, limit_option, split_option
from .._errors import HwsimError
from . import user_errors


def _read_json(path: Path, what: str) -> dict:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HwsimError(f"{what} JSON file must exist, not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HwsimError(f"{what} JSON file must hold one JSON object: {path}: {e}") from None
    if not isinstance(d, dict):
        raise HwsimError(f"{what} JSON file must hold one JSON object, not {type(d).__name__}: {path}")
    return d


def make_report(qmodel_path, data, output, *, float_model_path=None, config_path=None, cell=None,
                synth_files=(), cosim_file=None, limit=None, title=None, split=None) -> Path:
    """Run the check of ``qmodel_path`` on ``data`` (its ``split``) and write ``output/index.html``.

    ``synth_files`` / ``cosim_file`` are JSON outputs of ``hwsim synth --json`` / ``hwsim cosim
    --json``, shown in the report's resource and co-simulation sections.
    """
    from ..analysis._check import run_check
    from ..datapath._config import DatapathConfig
    from ..data._datasets import load_data, resolve_split
    from ..model._modelfile import load_model
    from ..datapath._plan import lower
    from .._fsutil import prepare_output_dir
    from ..analysis._report import report_for_check

    resolve_split(data, split)  # a split the data cannot honour: refused before anything is written
    prepare_output_dir(output, force=None, what="report directory")  # refused before the check runs
    cfg = DatapathConfig.from_toml(config_path) if config_path else DatapathConfig()
    qmodel = load_model(qmodel_path, cell=cell)
    lower(qmodel, cfg)  # a model that does not fit the contract fails before the check runs
    fmodel = load_model(float_model_path, cell=cell) if float_model_path else None
    dataset = load_data(data, split=split, input_size=qmodel.input_size)
    if limit is not None:
        dataset = dataset.head(limit)
    synth = {}
    for p in synth_files:
        d = _read_json(p, "synth")
        synth[str(d.get("target", p.stem))] = d
    cosim = _read_json(cosim_file, "cosim") if cosim_file else None
    if cosim is not None:
        n = cosim.get("mismatches", 0)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise HwsimError(f"cosim JSON file must give 'mismatches' as a count >= 0, not {n!r}: {cosim_file}")
    check = run_check(qmodel, dataset, cfg, float_model=fmodel)
    return report_for_check(output, check, qmodel, dataset, cfg,
                            title=title or f"hwsim report: {Path(qmodel_path).name} on {dataset.label}",
                            synth=synth or None, cosim=cosim)


@click.command("report")
@click.argument("qmodel", type=click.Path(dir_okay=False, path_type=Path))
@data_option()
@click.option("-o", "--output", "output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Report directory; gets index.html (replaced when it exists).")
@click.option("--float-model", "float_model", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The original float model, for the float row of the accuracy table.")
@config_option()
@click.option("--synth-json", "synth_json", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output of `hwsim synth --json` to show as resources (repeatable, one per target).")
@click.option("--cosim-json", "cosim_json", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output of `hwsim cosim --json` to show as the co-simulation result.")
@split_option()
@limit_option()
@cell_option()
@click.option("--title", default=None, help="Title of the report page.")
@user_errors
def report(qmodel, data, output, float_model, config, synth_json, cosim_json, split, limit, cell, title):
    """Check QMODEL on a data set and write a self-contained HTML report to OUTPUT/index.html.

    The report holds the accuracy table (float / quantized / fixed point), the drift of h over
    the sequence, the error per gate, weight-code histograms per matrix, saturation counts and
    the datapath contract; with --synth-json / --cosim-json also resources and co-simulation.
    """
    path = make_report(qmodel, data, output, float_model_path=float_model, config_path=config, cell=cell,
                       synth_files=synth_json, cosim_file=cosim_json, limit=limit, title=title, split=split)
    click.echo(f"report -> {path}")
