"""``hwsim board`` (a bitstream for a real board) and ``hwsim board-run`` (sequences over its UART,
compared with the simulator). Thin layers over ``hwsim.export._board.build_board`` and
``hwsim.board.Board``; docs/board.md."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np

from . import PositiveFloat, user_errors


@click.command("board")
@click.argument("export_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--board", "board", required=True, help="Target board: icebreaker (iCE40 UP5K) or ulx3s (ECP5-85F).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Build directory: <top>_<board>.v, the .pcf/.lpf, the .bin/.bit, timing.json, board.json.")
@click.option("--freq", type=PositiveFloat(), default=None,
              help="Clock the PLL makes, in MHz, at most (default: 24 on the iCEBreaker, 50 on the ULX3S); "
                   "the design must meet it.")
@click.option("--baud", type=click.IntRange(min=1), default=115200, show_default=True, help="UART baud rate (8N1).")
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True, help="nextpnr placement seed.")
@click.option("--seed-retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="Seeds after --seed tried when nextpnr cannot legalise a placement that fits.")
@click.option("--top", default=None, help="Top module of the export (default: the manifest's rtl.top).")
@click.option("--timeout", type=PositiveFloat(), default=3600, show_default=True, help="Seconds the whole build may take.")
@click.option("--force", is_flag=True, help="Replace an existing build directory that hwsim wrote.")
@click.option("--json", "as_json", is_flag=True, help="Print the build report (board.json) as JSON.")
@user_errors
def board(export_dir, board, output, freq, baud, seed, seed_retries, top, timeout, force, as_json):
    """Build a bitstream of EXPORT_DIR for a board: PLL, reset, UART bridge, LEDs, pins, yosys, nextpnr,
    icepack/ecppack. A design that does not fit or does not meet the clock is one line, exit 2, and
    nothing is written."""
    from ..export._board import build_board, format_board

    rep = build_board(export_dir, board, output, freq=freq, baud=baud, seed=seed, timeout=timeout, top=top, force=force,
                      seed_retries=seed_retries)
    click.echo(json.dumps(rep.to_dict(), indent=1) if as_json else format_board(rep))


@click.command("board-run")
@click.argument("export_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--port", required=True, help="Serial port of the board (/dev/ttyUSB1 on an iCEBreaker, /dev/ttyUSB0 on a ULX3S).")
@click.option("--baud", type=click.IntRange(min=1), default=115200, show_default=True, help="Baud rate the bitstream was built for.")
@click.option("--timeout", type=PositiveFloat(), default=2.0, show_default=True, help="Seconds to wait for each answer.")
@click.option("--load-weights", "load_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Export (with --weights runtime, same shape) whose rom/weights.bin is loaded first; outputs are "
                   "then compared with that model's simulator.")
@click.option("--data", default=None, help="Data set (.npz with x, or a built-in name), quantized into the x format.")
@click.option("--random", "random_n", type=click.IntRange(min=1), default=None, help="N random sequences (default 4).")
@click.option("--sequences", type=click.IntRange(min=1), default=None, help="At most N sequences of the data set.")
@click.option("--steps", type=click.IntRange(min=1), default=8, show_default=True, help="Steps of each random sequence.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@user_errors
def board_run(export_dir, port, baud, timeout, load_dir, data, random_n, sequences, steps, seed, as_json):
    """Send sequences to a board running an ``hwsim board`` bitstream of EXPORT_DIR and compare every
    output with the simulator, bit for bit. Exit 0 when all agree, 1 on a mismatch, 2 when the port
    does not open or the board does not answer."""
    from ..board import Board
    from ..hdl._cosim import plan_from_export, random_inputs
    from ..sim._sim import simulate

    if data is not None and random_n is not None:
        raise click.UsageError("give --data or --random, not both")
    plan, man = plan_from_export(export_dir)
    image = None
    if load_dir is not None:
        plan, _ = plan_from_export(load_dir)
        image_path = Path(load_dir) / "rom" / "weights.bin"
        if not image_path.is_file():
            raise click.UsageError(f"--load-weights must name an export with rom/weights.bin (--weights runtime), "
                                   f"not {load_dir}")
        image = image_path.read_bytes()
    if data is not None:
        from ..data._datasets import load_data
        from ..datapath._fixed import quantize_float

        ds = load_data(data, input_size=plan.input_size)
        x = np.asarray(ds.x)[:sequences]
        cfg = plan.config
        x_int, _ = quantize_float(x, cfg.x, cfg.rounding, cfg.overflow)
    else:
        x_int = random_inputs(plan, random_n or sequences or 4, steps, seed)
    with Board(port, baud=baud, timeout=timeout) as b:
        ident = b.identify()
        b.check_design(man)
        if image is not None:
            b.load_weights(image)
        res = b.run(x_int)
        counters = b.counters()
    sim = simulate(plan, x_int)
    bad_h = int(np.sum(res.h != sim.h_int))
    bad_y = int(np.sum(res.y != sim.y_int)) if res.y is not None else 0
    out = {"port": port, "identity": ident.__dict__, "sequences": int(x_int.shape[0]), "steps": int(x_int.shape[1]),
           "mismatches": bad_h + bad_y, "classes": None if res.classes is None else res.classes.tolist(),
           "counters": counters, "weights_loaded": image is not None}
    if as_json:
        click.echo(json.dumps(out, indent=1))
    else:
        click.echo(f"{port}: I {ident.input_size}, H {ident.hidden_size}, C {ident.classes}, FIFO {ident.fifo_bytes} bytes, "
                   f"runtime weights {'yes' if ident.runtime_weights else 'no'}")
        click.echo(f"sequences {out['sequences']}, steps {out['steps']}, mismatches against the simulator {out['mismatches']}")
        if res.classes is not None:
            click.echo(f"predicted classes: {' '.join(map(str, out['classes']))}")
        click.echo(f"counters: step_cycles {counters['step_cycles']}, head_cycles {counters['head_cycles']}, "
                   f"sat_count {counters['sat_count']}")
    sys.exit(0 if out["mismatches"] == 0 else 1)
