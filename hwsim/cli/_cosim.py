"""``hwsim cosim``: co-simulate an exported design under Icarus Verilog against the simulator.

Thin layer over ``hwsim._cosim.cosim``: pick the inputs (a data set quantized into the x format,
or random integers), run, print the report. Exit 0 with no mismatch and matching cycle counts,
1 otherwise, 2 on bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np

from . import user_errors


@click.command("cosim")
@click.argument("export_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--data", "data", default=None, help="Data set (.npz with x, or a built-in name); quantized into the x format.")
@click.option("--random", "random_n", type=click.IntRange(min=1), default=None,
              help="Use N random input sequences instead of a data set (the default: 8).")
@click.option("--sequences", type=click.IntRange(min=1), default=None, help="Use at most N sequences of the data set.")
@click.option("--steps", type=click.IntRange(min=1), default=8, show_default=True, help="Steps of each random sequence.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the random inputs and stalls.")
@click.option("--stall", type=click.IntRange(0, 255), default=0, show_default=True,
              help="Random stream stalls: source idles and sink refuses a beat with probability STALL/256.")
@click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the simulator build here (default: a temporary directory).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@user_errors
def cosim(export_dir: Path, data, random_n, sequences, steps, seed, stall, build_dir, as_json) -> None:
    """Run the exported RTL in EXPORT_DIR on sequences and compare every value with the simulator."""
    from .._cosim import cosim as run_cosim
    from .._cosim import plan_from_export, random_inputs
    from .._errors import DataError

    if data is not None and random_n is not None:
        raise click.UsageError("give --data or --random, not both")
    plan, _ = plan_from_export(export_dir)
    cfg = plan.config
    if data is not None:
        from .._data import load_data
        from .._fixed import quantize_float

        ds = load_data(data, input_size=plan.input_size)
        x = np.asarray(ds.x)
        if x.ndim != 3 or x.shape[2] != plan.input_size:
            raise DataError(f"data must have shape (N, T, {plan.input_size}) for this design, not {x.shape}")
        if sequences is not None:
            x = x[:sequences]
        x_int, _ = quantize_float(x, cfg.x, cfg.rounding, cfg.overflow)
    else:
        n = random_n or sequences or 8
        x_int = random_inputs(plan, n, steps, seed)
    from .._cosim import CHUNK
    from .._progress import cosim_chunk

    progress = not as_json and sys.stderr.isatty()  # per sequence (up to 32 updates) on a terminal
    rep = run_cosim(export_dir, x_int, build_dir=build_dir, stall_in=stall, stall_out=stall, seed=seed + 1,
                    chunk=cosim_chunk(x_int.shape[0], CHUNK) if progress else CHUNK, progress=progress)
    d = rep.to_dict()
    if as_json:
        click.echo(json.dumps(d, indent=1))
    else:
        click.echo(f"sequences {rep.sequences}, steps {rep.steps}, mismatches {rep.mismatches}")
        click.echo(f"cycles per step: measured {rep.cycles_per_step}, model {rep.model_cycles_per_step}")
        if rep.model_head_cycles:
            click.echo(f"head cycles: measured {rep.head_cycles}, model {rep.model_head_cycles}")
        click.echo(f"saturation events: RTL {rep.saturations}, model {rep.model_saturations}")
        if rep.first_mismatch is not None:
            click.echo(f"first mismatch: {json.dumps(rep.first_mismatch)}")
        if rep.timed_out:
            click.echo("the simulation hit its cycle limit")
    sys.exit(0 if rep.ok else 1)
