"""Benchmark: bit-accurate simulator vs a NumPy float32 reference, same model and batch, one process.

Workloads (issues #3, #14): GRU (the target), LSTM and the tanh RNN, each I = 64, H = 128, 256
sequences of 50 steps, exp (power-of-two) weights with 4-bit codes, the default 16-bit formats,
LUT activations. For each workload and thread setting the float run and the simulator run take
turns in blocks of 3 timed calls, ``--repeat`` calls each, after a warm-up (compilation, caches,
thread pools); each block opens with 0.15 s of untimed calls of its own engine, so that neither is
timed while the other's idle threads still spin (``interleaved``). Each time is the median of its
runs: on a machine that other jobs load, taking turns exposes both engines to the same load, and
the ratio of the medians is the figure that counts. The load average is printed with the figures.

Threads: the machine's cores are used by one engine at a time, never both at once (no
oversubscription). Two settings: each engine with its own pool at full size (BLAS under
``threadpoolctl`` with ``--blas-threads``, default every core; the simulator with Numba's pool,
``--numba-threads``, BLAS limited to 1 meanwhile), then both single-threaded.

CPU time: each run's process CPU time is recorded next to its wall time. On a loaded machine the
wall time of a multi-threaded run measures the queue for the cores as much as the code (a BLAS
pool that waits for a busy core can take 10x its quiet time), while the CPU time of a
single-threaded run is the work itself; the single-threaded CPU-time ratio is the figure that
stays meaningful under load.

Peak: the int16 multiply-accumulate peak of one core is measured in the same run by
``peak_kernel``: independent VNNI (or portable) dot products on registers, no memory traffic, per
CPU second (the machine's peak is that times its cores). The simulator's weight-op rate (one
weight-op = one multiplier times one operand: G*H*(I + H) per sequence step) per CPU second is
printed as a fraction of it.

Usage: python benchmarks/bench_sim.py [--repeat 15] [--cells gru,lstm,rnn_tanh] [--blas-threads N]
       [--numba-threads N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numba
import numpy as np
from threadpoolctl import ThreadpoolController, threadpool_info

from hwsim.sim import _simd as S
from hwsim.datapath._config import DatapathConfig
from hwsim.datapath._fixed import quantize_float
from hwsim.model._model import CELL_GATES, Head, Layer, RNNModel
from hwsim.datapath._plan import lower
from hwsim.model._quant import quantize_model
from hwsim.sim._reference import float_forward
from hwsim.sim import _kernels as K
from hwsim.sim._sim import dot_path, int32_ok, narrow_ok, simulate

#: Untimed calls that open each block of timed ones (``interleaved``): OpenBLAS's idle workers
#: spin for about 2**28 cycles (~0.1 s) after a call before they sleep, and a spinning worker holds
#: the core that the next run's second thread needs (measured: the GRU simulator at 2 threads took
#: 19.1 ms right after a 2-thread float run and 8.2 ms on its own).
SETTLE_S = 0.15
TARGET = 0.4  # issue #25: simulator time <= 0.4x numpy float32 time, every cell, both thread settings


def make_model(cell: str, input_size: int, hidden: int, classes: int, seed: int) -> RNNModel:
    """PyTorch's default initialization: every tensor uniform in +-1/sqrt(hidden)."""
    rng = np.random.default_rng(seed)
    b = 1.0 / np.sqrt(hidden)
    u = lambda *s: rng.uniform(-b, b, size=s)  # noqa: E731
    G = CELL_GATES[cell]
    layer = Layer(w_ih=u(G * hidden, input_size), w_hh=u(G * hidden, hidden), b_ih=u(G * hidden), b_hh=u(G * hidden))
    return RNNModel(cell, (layer,), Head(u(classes, hidden), u(classes)))


@numba.njit(parallel=True, nogil=True)
def peak_kernel(dot, reps, out):
    """reps iterations of 12 independent LANES-lane dot products per thread: 12 * 2 * LANES int16
    MACs each. The broadcast operand changes every iteration: with a loop-invariant one LLVM
    hoists the ``vpmaddwd`` of the portable primitive and times the adds alone."""
    for k in numba.prange(out.shape[0]):
        w = S.vload(out[k], 0)
        a0, a1, a2, a3, a4, a5 = S.vzero(), S.vzero(), S.vzero(), S.vzero(), S.vzero(), S.vzero()
        a6, a7, a8, a9, a10, a11 = S.vzero(), S.vzero(), S.vzero(), S.vzero(), S.vzero(), S.vzero()
        for r in range(reps):
            x = np.int32(k + 3 + r)
            a0, a1, a2, a3 = S.vdot(dot, a0, x, w), S.vdot(dot, a1, x, w), S.vdot(dot, a2, x, w), S.vdot(dot, a3, x, w)
            a4, a5, a6, a7 = S.vdot(dot, a4, x, w), S.vdot(dot, a5, x, w), S.vdot(dot, a6, x, w), S.vdot(dot, a7, x, w)
            a8, a9, a10, a11 = S.vdot(dot, a8, x, w), S.vdot(dot, a9, x, w), S.vdot(dot, a10, x, w), S.vdot(dot, a11, x, w)
        for i, v in enumerate((a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11)):
            S.vstore(out[k], i * S.LANES, v)  # every accumulator is kept: none is dead code


def int16_peak(repeat: int) -> float:
    """Measured int16 MACs per CPU second of one thread (median of ``repeat`` runs)."""
    numba.set_num_threads(1)
    dot = S.dot_vnni if S.HAS_VNNI else S.dot_portable
    out = np.ones((1, 12 * S.LANES), dtype=np.int32)
    reps = 2_000_000
    peak_kernel(dot, 10, out)
    times = []
    for _ in range(repeat):
        t = time.process_time()
        peak_kernel(dot, reps, out)
        times.append(time.process_time() - t)
    return reps * 12 * 2 * S.LANES / float(np.median(times))


def interleaved(fns, repeat: int, block: int = 3) -> tuple[list[float], list[float]]:
    """Median wall and median process CPU time of each function over ``repeat`` timed calls, the
    functions taking turns in blocks of ``block`` calls: the median, not the best, because the
    machine may be shared, and turns so that both see the same load. Each block starts with
    untimed calls of its function for ``SETTLE_S``: the other engine's idle pool threads spin on
    a core for a while after its last call (OpenBLAS: ~2**28 cycles), and a plain sleep instead
    lets this VM park the idle cores, whose first parallel run is then slow (both measured)."""
    for fn in fns:
        fn()
    wall = [[] for _ in fns]
    cpu = [[] for _ in fns]
    for _ in range(-(-repeat // block)):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            while time.perf_counter() - start < SETTLE_S:
                fn()
            for _ in range(block):
                t, c = time.perf_counter(), time.process_time()
                fn()
                wall[i].append(time.perf_counter() - t)
                cpu[i].append(time.process_time() - c)
    return [float(np.median(ts)) for ts in wall], [float(np.median(ts)) for ts in cpu]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", default="gru,lstm,rnn_tanh")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--input-size", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--blas-threads", type=int, default=os.cpu_count(), help="BLAS threads of the float run")
    ap.add_argument("--numba-threads", type=int, default=None, help="Numba threads (default: all it has)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.numba_threads is None:
        a.numba_threads = numba.config.NUMBA_NUM_THREADS

    cfg = DatapathConfig()  # 16-bit formats, LUT activations
    x = np.random.default_rng(1).normal(size=(a.batch, a.steps, a.input_size)).astype(np.float32)
    x_int, _ = quantize_float(x, cfg.x, cfg.rounding, cfg.overflow)
    settings = ((a.blas_threads, a.numba_threads), (1, 1))
    peak = int16_peak(5)
    blas = ThreadpoolController()
    rows = []
    for cell in a.cells.split(","):
        model = quantize_model(make_model(cell, a.input_size, a.hidden, 10, seed=0), "exp", bits=4)
        plan = lower(model, cfg)
        G, H, I = CELL_GATES[cell], a.hidden, a.input_size
        ops = a.batch * a.steps * G * H * (I + H)
        for blas_t, numba_t in settings:
            numba.set_num_threads(numba_t)

            # The BLAS pool is sized by a controller made once: ``threadpool_limits`` scans the
            # loaded libraries on every entry (0.67 ms here), which would be timed with each run.
            def run_float():
                with blas.limit(limits=blas_t, user_api="blas"):
                    float_forward(model, x, dtype=np.float32)

            def run_sim():
                with blas.limit(limits=1, user_api="blas"):  # BLAS idle while Numba's threads run
                    simulate(plan, x_int)

            load = os.getloadavg()[0]
            (t_float, t_sim), (c_float, c_sim) = interleaved([run_float, run_sim], a.repeat)
            rows.append({
                "cell": cell,
                "int16_path": narrow_ok(plan),
                "int32_pointwise": narrow_ok(plan) and int32_ok(plan, 0, plan.layer_tables(0)),
                "blas_threads": blas_t,
                "numba_threads": numba_t,
                "load_avg_1min": round(load, 2),
                "float32_numpy_s": t_float,
                "simulator_s": t_sim,
                "ratio_sim_over_float": t_sim / t_float,
                "float32_numpy_cpu_s": c_float,
                "simulator_cpu_s": c_sim,
                "cpu_ratio_sim_over_float": c_sim / c_float,
                "sim_weight_ops_per_s": ops / t_sim,
                "float_weight_ops_per_s": ops / t_float,
                "fraction_of_int16_peak": ops / c_sim / peak,  # per CPU second against one core's peak
            })
    res = {
        "workload": f"I={a.input_size} H={a.hidden} N={a.batch} T={a.steps} exp4 {cfg.x}/{cfg.h} lut",
        "cores": os.cpu_count(),
        "dot_path": dot_path,
        "vector_lanes": S.LANES,
        "register_block": f"{K.MR}x{K.NR} vectors",
        "cpu_vector_features": list(S.VECTOR_FEATURES),
        "int16_peak_mac_per_cpu_s": peak,
        "numba_threading_layer": numba.threading_layer(),
        "blas": [f"{i.get('internal_api')} {i.get('version')}" for i in threadpool_info() if i.get("user_api") == "blas"],
        "runs": rows,
    }
    if a.json:
        print(json.dumps(res))
        return
    print(f"workload: {res['workload']}; {res['cores']} cores; BLAS {', '.join(res['blas'])}; "
          f"Numba layer {res['numba_threading_layer']}; dot path {dot_path} ({S.LANES} int32 lanes, "
          f"{res['register_block']}); CPU vector features {' '.join(S.VECTOR_FEATURES)}; measured int16 peak "
          f"{peak / 1e9:.0f} G MAC per CPU second (one core; x{res['cores']} cores)")
    for r in rows:
        print(f"{r['cell']:8s} threads BLAS {r['blas_threads']} / Numba {r['numba_threads']} (load {r['load_avg_1min']:.1f}): "
              f"numpy float32 {r['float32_numpy_s'] * 1e3:8.2f} ms, simulator {r['simulator_s'] * 1e3:7.2f} ms, "
              f"ratio {r['ratio_sim_over_float']:.3f} (target <= {TARGET}); CPU time {r['float32_numpy_cpu_s'] * 1e3:.1f} / "
              f"{r['simulator_cpu_s'] * 1e3:.1f} ms, ratio {r['cpu_ratio_sim_over_float']:.3f}; simulator "
              f"{r['sim_weight_ops_per_s'] / 1e9:.1f} G weight-ops/s, {100 * r['fraction_of_int16_peak']:.0f} % of the "
              f"int16 peak per CPU second")


if __name__ == "__main__":
    main()
