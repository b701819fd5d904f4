"""Benchmark: bit-accurate simulator vs a NumPy float32 GRU reference, same model and batch, one process.

Workload (issue #3): GRU, I = 64, H = 128, 256 sequences of 50 steps, exp (power-of-two) weights with
4-bit codes, the default 16-bit formats, LUT activations. Prints both times (median of ``--repeat``
runs after a warm-up), their ratio and integer weight-ops per second (one weight-op = one
multiplier times one operand: G*H*(I + H) per sequence step).

Threads: the machine's cores are used by one engine at a time, never both at once (no
oversubscription). Two rounds: first each engine with its own pool at full size (BLAS under
``threadpoolctl`` with ``--blas-threads``, default every core; the simulator with Numba's pool,
``--numba-threads``, BLAS limited to 1 meanwhile), then both single-threaded, which is the
comparison that stays meaningful on a machine other jobs are loading.

Usage: python benchmarks/bench_sim.py [--repeat 7] [--blas-threads N] [--numba-threads N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from hwsim._config import DatapathConfig
from hwsim._model import Head, Layer, RNNModel
from hwsim._plan import lower
from hwsim._quant import quantize_model
from hwsim._reference import float_forward
from hwsim._fixed import quantize_float
from hwsim._sim import narrow_ok, simulate


def make_gru(input_size: int, hidden: int, classes: int, seed: int) -> RNNModel:
    rng = np.random.default_rng(seed)
    b = 1.0 / np.sqrt(hidden)
    u = lambda *s: rng.uniform(-b, b, size=s)  # noqa: E731
    layer = Layer(w_ih=u(3 * hidden, input_size), w_hh=u(3 * hidden, hidden), b_ih=u(3 * hidden), b_hh=u(3 * hidden))
    return RNNModel("gru", (layer,), Head(u(classes, hidden), u(classes)))


def median_of(fn, repeat: int) -> float:
    """Median wall time of ``repeat`` calls after a warm-up (compilation, caches, thread pools);
    the median, not the best, because the machine may be shared with other jobs."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--input-size", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--blas-threads", type=int, default=os.cpu_count(), help="BLAS threads of the float run")
    ap.add_argument("--numba-threads", type=int, default=None, help="Numba threads (default: all it has)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    import numba

    if a.numba_threads is None:
        a.numba_threads = numba.config.NUMBA_NUM_THREADS

    model = quantize_model(make_gru(a.input_size, a.hidden, 10, seed=0), "exp", bits=4)
    cfg = DatapathConfig()  # 16-bit formats, LUT activations
    plan = lower(model, cfg)
    x = np.random.default_rng(1).normal(size=(a.batch, a.steps, a.input_size)).astype(np.float32)
    x_int, _ = quantize_float(x, cfg.x, cfg.rounding, cfg.overflow)

    G, H, I = 3, a.hidden, a.input_size
    ops = a.batch * a.steps * G * H * (I + H)
    cores = os.cpu_count() or 1
    rows = []
    for blas_t, numba_t in ((a.blas_threads, a.numba_threads), (1, 1)):
        with threadpool_limits(limits=blas_t, user_api="blas"):
            t_float = median_of(lambda: float_forward(model, x, dtype=np.float32), a.repeat)
        numba.set_num_threads(numba_t)
        with threadpool_limits(limits=1, user_api="blas"):  # BLAS idle while Numba's threads run
            t_sim = median_of(lambda: simulate(plan, x_int), a.repeat)
        rows.append({
            "blas_threads": blas_t,
            "numba_threads": numba_t,
            "float32_numpy_s": t_float,
            "simulator_s": t_sim,
            "ratio_sim_over_float": t_sim / t_float,
            "sim_weight_ops_per_s": ops / t_sim,
            "float_weight_ops_per_s": ops / t_float,
        })
    res = {
        "workload": f"gru I={I} H={H} N={a.batch} T={a.steps} exp4 {cfg.x}/{cfg.h} lut",
        "cores": cores,
        "int16_path": narrow_ok(plan),
        "numba_threading_layer": numba.threading_layer(),
        "blas": [f"{i.get('internal_api')} {i.get('version')}" for i in threadpool_info() if i.get("user_api") == "blas"],
        "runs": rows,
    }
    if a.json:
        print(json.dumps(res))
        return
    print(f"workload: {res['workload']}; {cores} cores; BLAS {', '.join(res['blas'])}; "
          f"Numba layer {res['numba_threading_layer']}; int16 path {res['int16_path']}")
    for r in rows:
        print(f"threads BLAS {r['blas_threads']} / Numba {r['numba_threads']}: "
              f"numpy float32 {r['float32_numpy_s'] * 1e3:8.2f} ms, simulator {r['simulator_s'] * 1e3:8.2f} ms, "
              f"ratio {r['ratio_sim_over_float']:.3f} (target <= 0.75), weight-ops/s simulator "
              f"{r['sim_weight_ops_per_s'] / 1e9:.1f} G, float {r['float_weight_ops_per_s'] / 1e9:.1f} G")


if __name__ == "__main__":
    main()
