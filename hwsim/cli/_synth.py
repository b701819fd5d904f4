"""``hwsim synth``: synthesize an exported design with yosys and report its resources; with
``--pnr``, place and route it with nextpnr and report Fmax, utilization and throughput."""

from __future__ import annotations

import json
from pathlib import Path

import click

from . import PositiveFloat, fail, user_errors


@click.command("synth")
@click.argument("export_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--target", required=True, type=click.Choice(["ice40", "ecp5", "xilinx"]), help="FPGA family (yosys synth_<target>).")
@click.option("--top", default=None, help="Top module (default: the manifest's rtl.top).")
@click.option("--pnr", is_flag=True, help="Also place and route with nextpnr (ice40, ecp5) in a 4-pin timing wrapper; report Fmax.")
@click.option("--device", default=None,
              help="Device: without --pnr the yosys counts are compared with its capacity (one line says what "
                   "does not fit); with --pnr nextpnr's device, optionally DEVICE:PACKAGE. ice40 up5k (default), "
                   "hx8k, hx1k, lp384, ...; ecp5 25k (default), 12k, 45k, 85k, um5g-25k, ...")
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True, help="nextpnr placement seed (--pnr).")
@click.option("--freq", type=PositiveFloat(), default=None,
              help="Target clock in MHz for timing-driven placement (--pnr; default 50 on ice40, 150 on ecp5).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the report as JSON (keys luts, ffs, brams, dsps, cycles_per_step, ...; with --pnr also "
                   "fmax_mhz, routed, logic_cells, latency_us_per_step, weight_ops_per_s, end_to_end_weight_ops_per_s_per_lut, "
                   "*_total; when place and route fails, still an object: routed false, fits, reason, error and the "
                   "partial counts, exit status 2).")
@click.option("--timeout", type=PositiveFloat(), default=3600, show_default=True,
              help="Seconds the whole run (yosys, and nextpnr with --pnr) may take.")
@user_errors
def synth(export_dir, target, top, pnr, device, seed, freq, as_json, timeout):
    """Synthesize EXPORT_DIR/rtl/*.v for TARGET and report LUTs, flip-flops, BRAMs and DSPs.

    Also counts multipliers per RTL module before mapping (weight products need none unless the
    code is the uniform baseline), prints the cycles per timestep the schedule predicts, and
    compares the counts with --device (the family's default: up5k, 25k): one line says what does
    not fit.
    With --pnr, yosys and nextpnr place and route the core inside a timing wrapper (docs/hardware.md)
    with a fixed seed; a missing tool, a design that does not fit or route, or a timeout is an error.
    """
    if not pnr:
        if freq is not None:
            fail(f"--freq needs --pnr, not --freq {freq} alone")
        from ..export._synth import format_report, synthesize

        rep = synthesize(export_dir, target, top=top, timeout=timeout, device=device)
        click.echo(json.dumps(rep.to_dict(), indent=1) if as_json else format_report(rep))
        return
    from ..export._pnr import PnrError, format_pnr, place_and_route

    try:
        rep = place_and_route(export_dir, target, device=device, seed=seed, freq=freq, timeout=timeout, top=top)
    except PnrError as e:
        if as_json:  # a CI job parses why: the object on stdout, the one line on stderr, exit 2
            click.echo(json.dumps(e.to_dict(), indent=1))
        raise
    click.echo(json.dumps(rep.to_dict(), indent=1) if as_json else format_pnr(rep))
