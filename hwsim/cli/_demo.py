"""``hwsim demo``: the whole flow on the shipped default model, into one directory with a report."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import user_errors


@click.command("demo")
@click.option("-o", "--output", "output", type=click.Path(file_okay=False, path_type=Path),
              default=Path("hwsim-demo"), show_default=True,
              help="Output directory: export/ (ROMs, manifest, RTL), report/index.html, summary.json.")
@click.option("--target", "targets", multiple=True, type=click.Choice(["ice40", "ecp5", "xilinx"]),
              help="Synthesis target (repeatable).  [default: ice40]")
@click.option("--sequences", type=click.IntRange(min=1), default=16, show_default=True,
              help="Test sequences to co-simulate under Icarus Verilog.")
@click.option("--no-cosim", is_flag=True, help="Skip RTL co-simulation.")
@click.option("--no-synth", is_flag=True, help="Skip synthesis with yosys.")
@click.option("--force", is_flag=True, help="Kept for compatibility: a previous run's output is replaced anyway, a directory hwsim did not write never is.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object instead of a table.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@user_errors
def demo(output, targets, sequences, no_cosim, no_synth, force, as_json, quiet):
    """Run the whole flow on the shipped default model: check, export, cosim, synth, report.

    The default model is a small quantized GRU trained on the built-in `digits` data set. The
    float, quantized-float and bit-accurate fixed-point accuracies are compared, the ROMs and RTL
    are exported, the RTL is co-simulated against the simulator (when Icarus Verilog is installed)
    and synthesized (when yosys is), and OUTPUT/report/index.html shows it all. A missing tool is
    skipped with a hint. Exit status 1 when co-simulation finds a mismatch.
    """
    import json

    from ..flow._demo import _jsonable, run_demo, summary_table

    synth_targets = () if no_synth else (targets or ("ice40",))
    res = run_demo(output, cosim=not no_cosim, cosim_sequences=sequences, synth_targets=synth_targets,
                   force=force, progress=not quiet and not as_json)
    if as_json:
        click.echo(json.dumps(_jsonable(res.to_dict()), sort_keys=True))
    else:
        click.echo("hwsim demo: summary")
        click.echo(summary_table(res))
        if res.cosim_failed:
            click.echo("co-simulation FOUND MISMATCHES: the RTL does not match the simulator", err=True)
        else:
            click.echo(f"open {res.report} in a browser")
    sys.exit(res.exit_code)
