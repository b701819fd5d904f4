"""``hwsim synth``: synthesize an exported design with yosys and report its resources."""

from __future__ import annotations

import json
from pathlib import Path

import click

from . import PositiveFloat, user_errors


@click.command("synth")
@click.argument("export_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--target", required=True, type=click.Choice(["ice40", "ecp5", "xilinx"]), help="FPGA family (yosys synth_<target>).")
@click.option("--top", default=None, help="Top module (default: the manifest's rtl.top).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (keys luts, ffs, brams, dsps, cycles_per_step, ...).")
@click.option("--timeout", type=PositiveFloat(), default=3600, show_default=True, help="Seconds yosys may run.")
@user_errors
def synth(export_dir, target, top, as_json, timeout):
    """Synthesize EXPORT_DIR/rtl/*.v for TARGET and report LUTs, flip-flops, BRAMs and DSPs.

    Also counts multipliers per RTL module before mapping (weight products need none unless the
    code is the uniform baseline) and prints the cycles per timestep the schedule predicts.
    """
    from ..export._synth import format_report, synthesize

    rep = synthesize(export_dir, target, top=top, timeout=timeout)
    click.echo(json.dumps(rep.to_dict(), indent=1) if as_json else format_report(rep))
