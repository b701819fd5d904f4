#!/usr/bin/env python3
"""Long co-simulation run (outside CI): random configurations, many sequences each.

    python scripts/cosim_sweep.py [--configs 50] [--sequences 200] [--steps 5] [--seed 0] [--workdir DIR]
                                  [--simulator icarus|verilator] [--netlist generic|ice40|ecp5]

Every configuration draws a cell, quantizer, code width, word width, the folding (rows and lanes
from 1 to fully parallel, primes and non-divisors included; pointwise units among the divisors of
rows; one- or two-cycle pointwise products), the stream (elements per input / output beat, output mode), per-row weight scales (a third
of the binary and ternary draws, rows spread over up to 4 octaves so that the row shifts differ),
sizes, rounding / overflow / activation modes, formats, input saturation and weight gain, exports the
model, and co-simulates it (hwsim.hdl._cosim) with random stream stalls;
a configuration run with stalls runs again on a few sequences without stalls, where the end-to-end
cycles of every sequence (first input beat to last output beat) must equal
``hwsim.datapath._schedule.stream_events``. Sizes are drawn up to 24 now and then, so that some
designs are input- or output-bound. Prints one line per configuration and a summary (sequences per
second of wall time included); exits 1 on any mismatch or cycle disagreement. ``--simulator`` picks the simulator (default: the
fastest installed); ``--netlist`` runs every design as a yosys netlist of that target.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import hwsim  # noqa: F401  (import the package before tests/ goes on sys.path)

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT / "tests"))
sys.path.append(str(ROOT / "tests" / "rtl"))

from cases import Case  # noqa: E402

METHODS = {"binary": [None], "ternary": [None], "pow2-ternary": [None], "ternary-stoch": [None],
           "exp": [2, 3, 4, 5, 6], "uniform": [2, 4, 8, 12]}
CODE_BITS = {"binary": 1, "ternary": 2, "pow2-ternary": 2, "ternary-stoch": 2}


def draw(rng: np.random.Generator, seed: int) -> Case:
    from hwsim.model._quant import ROW_SCALE_METHODS

    cell = str(rng.choice(["rnn_tanh", "rnn_relu", "gru", "lstm"]))
    method = str(rng.choice(list(METHODS)))
    bits = METHODS[method][rng.integers(len(METHODS[method]))]
    b = CODE_BITS.get(method, bits)
    k = int(rng.choice([1, 2, 3, 4, 8, 16, 32]))
    word = b * k + int(rng.choice([0, 0, 1, 5]))  # word widths that are not a multiple of the code too
    inputs = int(rng.integers(1, 8)) if rng.random() < 0.9 else int(rng.integers(12, 25))
    hidden = int(rng.integers(1, 12)) if rng.random() < 0.9 else int(rng.integers(12, 25))
    lanes = int(rng.choice([1, 1, 2, 3, 5, 8, inputs + hidden]))   # 1, primes, powers of two, fully parallel
    rows = int(rng.choice([1, 1, 2, 3, 4, 7, hidden]))
    pointwise = int(rng.choice([0, 0] + [d for d in range(1, rows + 1) if rows % d == 0]))
    classes = None if rng.random() < 0.25 else int(rng.integers(1, 6))
    # the stream knobs: one element a beat half the time, else any count up to all of them
    out_mode = str(rng.choice(["steps", "steps", "last", "head"] if classes else ["steps", "steps", "last"]))
    words = classes if out_mode == "head" else max(hidden, classes or 0)
    in_elems = 1 if rng.random() < 0.5 else int(rng.integers(1, inputs + 1))
    out_elems = 1 if rng.random() < 0.5 else int(rng.integers(1, words + 1))
    # per-row weight scales for a third of the binary / ternary draws, rows spread over up to 4 octaves
    row = method in ROW_SCALE_METHODS and rng.random() < 1 / 3
    spread = int(rng.integers(0, 5)) if row else 0
    case = Case(
        cell=cell, method=method, bits=bits,
        inputs=inputs, hidden=hidden, layers=int(rng.integers(1, 3)),
        classes=classes, in_elems=in_elems, out_elems=out_elems, out_mode=out_mode,
        word_bits=word, lanes=lanes, rows=rows, pointwise_units=pointwise,
        rounding=str(rng.choice(["floor", "half_up", "half_even", "zero"])),
        overflow=str(rng.choice(["saturate", "wrap"])),
        activation=str(rng.choice(["lut", "pwl"])),
        narrow=bool(rng.random() < 0.5),
        gain=float(rng.choice([1.0, 1.0, 2.0, 4.0, 8.0])),
        saturate=float(rng.choice([0.0, 0.0, 0.2, 0.5])),
        bias=bool(rng.random() < 0.85),
        seed=seed,
        quant_kw={"scale": "row"} if row else {},
        row_spread=spread,
    )
    # drawn last, so that the earlier draws (and the configurations they made) stay as they were
    return dataclasses.replace(case, mul_stages=int(rng.choice([1, 2])))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=50)
    ap.add_argument("--sequences", type=int, default=200)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--simulator", choices=("icarus", "verilator"), default=None)
    ap.add_argument("--netlist", choices=("generic", "ice40", "ecp5"), default=None)
    args = ap.parse_args()

    from hwsim.datapath._schedule import sequence_cycles
    from hwsim.hdl._cosim import cosim, plan_from_export, random_inputs
    from hwsim._errors import HwsimError
    from hwsim.export import write_export

    rng = np.random.default_rng(args.seed)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="hwsim-sweep-"))
    t0 = time.time()
    total_seq = total_mism = bad = done = skipped = 0
    worst = (0.0, "")  # the largest end-to-end / compute cycles of a sequence, and its configuration
    while done < args.configs:
        case = draw(rng, seed=done + 1000 * args.seed)
        d = work / f"c{done:03d}"
        try:
            write_export(case.model(), d / "export", case.config(), formats=("hex",), force=True, tb=False)
        except HwsimError as e:  # a drawn contract the model cannot meet (e.g. accumulator > 62 bits)
            skipped += 1
            print(f"skip {case.id}: {e}", flush=True)
            continue
        plan, _ = plan_from_export(d / "export")
        x = random_inputs(plan, args.sequences, args.steps, seed=done, saturate=case.saturate)
        t = time.time()
        stall = int(rng.choice([0, 30, 120]))
        rep = cosim(d / "export", x, build_dir=d / "build", stall_in=stall, stall_out=stall, seed=done + 1,
                    simulator=args.simulator, netlist=args.netlist)
        e2e = rep
        if stall:  # the end-to-end cycles are predicted for a stream that never stalls
            e2e = cosim(d / "export", x[:4], build_dir=d / "build-nostall", seed=done + 1, simulator=args.simulator,
                        netlist=args.netlist)
        sched = rep.extra["schedule"]
        compute = args.steps * sched["step"] + sched["head"]  # a sequence's compute cycles
        ratio = sequence_cycles(plan, args.steps) / compute  # one sequence alone: no queueing behind another
        worst = max(worst, (ratio, case.id))
        total_seq += rep.sequences
        total_mism += rep.mismatches
        ok = rep.ok and e2e.ok
        bad += not ok
        print(f"{'ok ' if ok else 'BAD'} {case.id}: {rep.sequences} seq, mism {rep.mismatches}, "
              f"cycles/step {rep.cycles_per_step}/{rep.model_cycles_per_step}, end-to-end cycles/seq "
              f"{e2e.end_to_end_cycles}/{e2e.model_end_to_end_cycles} ({ratio:.3f}x compute), sat {rep.saturations}/"
              f"{rep.model_saturations}, {time.time() - t:.1f}s ({rep.simulator}, {rep.design}, build "
              f"{rep.extra['seconds']['build'] + rep.extra['seconds']['synth']:.1f}s, run {rep.extra['seconds']['run']:.1f}s)"
              + ("" if ok else f" first {json.dumps(rep.first_mismatch or e2e.first_mismatch)}"), flush=True)
        if ok:
            shutil.rmtree(d, ignore_errors=True)
        done += 1
    wall = time.time() - t0
    print(f"SUMMARY configs {done} (skipped {skipped} drawn contracts), sequences {total_seq}, "
          f"mismatches {total_mism}, failing configs {bad}, wall {wall:.0f}s, {total_seq / max(wall, 1e-9):.1f} seq/s, "
          f"worst end-to-end / compute {worst[0]:.3f}x ({worst[1]})",
          flush=True)
    if args.workdir is None and bad == 0:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
