"""``hwsim sweep``: a grid of datapath design points on Dask, resumable, with a Pareto report.

Thin layer over ``hwsim.sweep``: reads the grid, runs the points (a LocalCluster, or the scheduler
at ``--scheduler``), writes DIR/results.jsonl, DIR/report/index.html and DIR/best.toml.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._options import data_option, limit_option, split_option
from . import PositiveFloat, fail, user_errors


@click.command("sweep")
@click.argument("models", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@data_option()
@click.option("--grid", "grid_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Grid TOML: [axes] method, bits or formats, activation, lanes, target, ... and a base [config].")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Sweep directory: results.jsonl, models/, cache/, report/, best.toml. Reused to resume.")
@click.option("--scheduler", default=None, help="Address of a running Dask scheduler (tcp://HOST:PORT); "
              "a LocalCluster with one worker process per core otherwise.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="LocalCluster workers (default: one per core).")
@split_option()
@limit_option()
@click.option("--max-loss", type=PositiveFloat(), default=None,
              help="best.toml: the fewest LUTs within this loss of the reference metric (accuracy points; "
              "for bits per symbol and mean squared error, their increase).")
@click.option("--max-luts", type=click.IntRange(min=1), default=None, help="best.toml: the best metric within N LUTs.")
@click.option("--pnr", is_flag=True, help="Also place and route each point for its Fmax (needs `hwsim synth --pnr`).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (summary and records) instead of the table.")
@user_errors
def sweep(models, data, grid_path, out_dir, scheduler, workers, split, limit, max_loss, max_luts, pnr, as_json):
    """Compute every point of GRID for MODELS on a data set and recommend a configuration.

    Each point: bit-accurate, float and quantized-float metrics, saturations, cycles per step,
    yosys resources (with a target axis) and Fmax (--pnr). A killed sweep restarted with the same
    arguments computes only the points that were missing.
    """
    from ..sweep import load_grid, run_sweep, write_outputs
    from ..sweep._report import _describe, luts

    if max_loss is not None and max_luts is not None:
        fail(f"give one rule, --max-loss or --max-luts, not both ({max_loss:g} and {max_luts})")
    for m in models:
        if not m.is_file():
            fail(f"model file must exist, not found: {m}")
    if scheduler is not None and workers is not None:
        fail(f"--workers sizes the LocalCluster; with --scheduler the cluster is yours, not --workers {workers}")
    grid = load_grid(grid_path)
    res = run_sweep(list(models), data, grid, out_dir, scheduler=scheduler, workers=workers, split=split,
                    limit=limit, pnr=pnr, progress=not as_json)
    summary = write_outputs(out_dir, res.records, data=data, split=split, limit=limit, max_loss=max_loss,
                            max_luts=max_luts)
    summary.update(points=len(res.records), computed=res.computed, cached=res.cached, workers=res.workers,
                   seconds=res.seconds)
    if as_json:
        click.echo(json.dumps({**summary, "records": res.records}))
        return
    click.echo(f"{len(res.records)} points: {res.computed} computed, {res.cached} from {out_dir / 'results.jsonl'}"
               f" ({res.seconds:.1f} s, {res.workers} workers)")
    measured = next((r for r in res.records if not r.get("error") and r.get("data")), None)
    if measured is not None:
        click.echo(f"{measured['metric']} on {measured['n_sequences']} sequences of {measured['data']}")
    w = max([len("point")] + [len(_describe(r)) for r in res.records]) + 2  # every axis value shows
    click.echo(f" {'point':<{w}}{'fixed':>9}{'loss':>8}{'LUTs':>7}{'cyc/step':>9}")
    front = set(summary["pareto_luts"]) | set(summary["pareto_latency"])
    for r in res.records:
        if r.get("error"):
            click.echo(f" {_describe(r):<{w}}refused: {r['error']}")
            continue
        mark = "*" if r["key"] in front else " "
        click.echo(f"{mark}{_describe(r):<{w}}{r['fixed_metric']:>9.4f}{r['loss']:>8.2f}"
                   f"{luts(r) if luts(r) is not None else '-':>7}{r['cycles_per_step']:>9}")
    click.echo("(* on a Pareto front)")
    click.echo(f"report -> {summary['report']}")
    click.echo(f"best ({summary['rule']}) -> {summary['best_toml'] or 'none fits'}")
