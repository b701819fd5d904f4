"""Numba kernels of the bit-accurate datapath: integers only, parallel over sequences.

Each function implements one line of docs/datapath.md and nothing else; ``hwsim.sim._sim`` is the thin
wrapper that validates, packs the ``Plan`` into the arrays and parameter vectors below, and names
the results. tests/naive.py is the slow plain-Python twin compared with these exactly.

Speed (issue #14). Two paths, chosen by the wrapper:

- int16 path (``narrow``: the wrapper proved every operand int16 and every dot product below
  2**31): ``layer_kernel_gemm``, batch-major. The batch is cut into tiles of sequences (run in
  parallel); per step a tile does two GEMMs, (tile x K_in) @ W_in and (tile x H) @ W_rec, with
  ``gemm_i16``: int16 operand pairs against packed int16 weight pairs, 4 sequences x 64 columns
  of int32 accumulators held in 16 zmm registers (``hwsim.sim._simd``'s 16-lane vector type, so the
  register blocking is written, not hoped for), one ``vpdpwssd`` (AVX-512 VNNI) per 32 MACs. The
  VNNI intrinsic is compiled only where the CPU has it (``_simd.HAS_VNNI``, what Numba compiles
  for); the portable primitive is plain LLVM IR (sign-extend, multiply, add pairs) that LLVM
  lowers to ``vpmaddwd`` on AVX-512BW and, with VNNI present, fuses into ``vpdpwssd`` too.
- int64 path (anything wider): ``layer_kernel``, per sequence, int64 matrix-vector products,
  the input projection of all steps first. Exact for every contract the plan accepts.

The shifts ``<< shift_in`` / ``<< shift_rec`` are the same for every column of a part, so they are
applied once to the exact dot product: ``sum((m*v) << s) == (sum m*v) << s`` for integers.
The pointwise updates with the LUT unit (and the ReLU RNN) run, when gates are not recorded, as
branch-free passes over all rows x H units of a tile (``rnn_tile_lut``, ``gru_tile_lut``,
``lstm_tile_lut``; rounding and overflow modes as masks, with a shorter loop for floor/half_up +
saturate; LUT reads as separate passes, 16 at a time by ``vpgatherdd`` where AVX-512F is
present), which LLVM vectorizes. The per-sequence ``gru_step_lut`` does the same for the int64
path; the per-unit ``*_step`` functions stay the path for recording, the PWL unit and the
reference for the tests.

Measured (CPU time, 1 thread, one Zen 4 core of a 2-core machine shared with other jobs, load
9-15; GRU I=64 H=128 256 x 50, exp4 weights, 16-bit formats, 0.94 G MAC per run):
  GEMMs, ``gemm_i16`` VNNI                      8.5-9.0 ms   ~105-110 G MAC/s (~1 vpdpwssd/cycle)
  GEMMs, ``gemm_i16`` portable primitive        8.5-9.0 ms   (same instructions on this CPU)
  GEMMs, per-sequence matvec (previous kernel)  ~31 ms       ~30 G MAC/s
  GEMMs, OpenBLAS float32 (numpy, same shapes)  20.0 ms      47 G MAC/s
  GEMMs, OpenBLAS float64 (numpy, same shapes)  45.4 ms      21 G MAC/s
  GRU pointwise, per sequence (12800 calls)     9-11 ms      of which LUT reads ~3 ms
  GRU pointwise, per tile (400 calls of 32 x H) ~9.8 ms      LUT read 0.71 -> 0.55 ns by vpgatherdd
  whole ``simulate`` / ``float_forward`` float32, benchmarks/bench_sim.py (interleaved medians,
  1 thread, load 10; wall ratio, CPU-time ratio):
    GRU 0.516, 0.512 (22.3 / 43.5 ms CPU); LSTM 0.565, 0.550; RNN tanh 0.724, 0.653
    (quieter moments measured GRU 0.45-0.46, LSTM 0.52, RNN 0.59 in CPU time). With 2 threads
    the ratios are 0.04-0.08, but only because the 2-thread OpenBLAS baseline queues for cores
    on a loaded machine (3 s wall, 0.8 s CPU for 43 ms of work); that setting needs a quiet
    machine to mean anything.
AVX2 (issue #25; AMD EPYC, AVX2 and FMA, no AVX-512, 2 cores shared with other jobs). The vector
type is 8 lanes there (``_simd.LANES``): a 16-lane value took two ymm registers, so the 4 x 4
block needed 32 of AVX2's 16 and spilled. ``gemm_i16_n2`` blocks 4 rows x 2 vectors (11
registers); its inner loop is 8 ``vpmaddwd`` + 8 ``vpaddd`` per pair of K, and at one
``vpmaddwd`` a cycle (this core's rate) that is ~40 G MAC/s, which it reaches (GRU GEMMs ~24 ms
of 0.94 G MAC): the GEMM is at this core's int16 multiply limit, so the gains had to come from the
pointwise passes. Those ran on int64 values, which AVX2 handles 4 to a register with no 64-bit
arithmetic shift, min/max or multiply (each emulated in several instructions). Where
``_sim.int32_ok`` proves every value of a layer within int32 (the default 16-bit contract with
power-of-two or ternary weights: accumulators below 2**29.2), the tile passes run in int32
(``gru_tile32``, ``lstm_tile32`` with the wider cell update in int64, ``rnn_tile32``; the ``_simd``
int32 operations keep Numba from widening them) on 8 native lanes, and the LUT reads are AVX2
``vpgatherdd`` (``lut8``). Profile, 1 thread, CPU time, load 6-12 (GEMMs / the rest, both with
the 4 x 2 block):
  GRU   int64 passes 24 / 34 ms   int32 passes + gather 25 / 18 ms
  RNN   int64 passes  8 / 13 ms   int32 passes + gather  8-13 / 5 ms
  LSTM  int64 passes 36 / 30 ms   int32 passes 36 / 34 ms (noisy; the int64 cell update and the
        c requantizations remain)
  benchmarks/bench_sim.py, 1 thread (wall ratio / CPU-time ratio against numpy float32 in the same
  process; the issue's baseline on a quiet AVX2 machine: GRU 0.69, LSTM 0.71, RNN tanh 0.80):
    load 10-13: GRU 0.421 / 0.441, LSTM 0.583 / 0.552, RNN tanh 0.478 / 0.467
    load 6-7:   GRU 0.590 / 0.526, LSTM 0.535 / 0.540, RNN tanh 0.620 / 0.621
  not yet the 0.4 target at 1 thread; at 2 threads 0.04-0.19, only because the 2-thread OpenBLAS
  baseline queues for the busy cores.
How the ratio is measured (round 3, session 6; AMD EPYC Zen 4, AVX-512 VNNI, 2 cores). Until
then ``bench_sim.py`` called the float run and the simulator run alternately, one call each. On
this machine that timed the simulator right after a float call: OpenBLAS's idle workers spin for
~2**28 cycles after a call, holding the core the simulator's second thread needs (GRU at 2 threads:
19.1 ms right after a 2-thread float call, 8.2 ms on its own), and even at 1 thread a call right
after the float run's large frees pays fresh pages for its outputs (GRU +2.7 ms, LSTM +3.3 ms:
14.4 -> 17.1 and 20.8 -> 24.1 ms). The bench now times each engine in blocks of 3 calls, each
block opened by 0.15 s of untimed calls of the same engine (a sleep instead lets the VM park the
idle cores: the first parallel run after 0.25 s asleep was as slow as one thread), the engines
still taking turns. threadpoolctl's ``threadpool_limits`` (0.67 ms a call: it scans the loaded
libraries) is replaced by one ``ThreadpoolController``'s ``limit`` (9 us), as it was timed with
every run of both engines. Figures, load 0.6-0.8 (ratio simulator / numpy float32, wall):
    old method, old kernels: GRU 0.589 / 0.461, LSTM 0.645 / 0.515, RNN tanh 0.708 / 0.602
      (2 threads / 1 thread)
    new method, old kernels: GRU 0.289 / 0.376, LSTM 0.280 / 0.396, RNN tanh 0.402 / 0.522
    new method, new wrapper: GRU 0.294 / 0.361, LSTM 0.269 / 0.391, RNN tanh 0.368 / 0.497
The wrapper change: the input's range check (a min and a max pass) and its int16 conversion are
one kernel pass (``int16_operands``) on the int16 path (RNN 5.83 -> 5.49 ms at 1 thread). The
tanh RNN at 1 thread stays above 0.4: its profile (1 thread, 8 tiles x 50 steps) is the int16 GEMMs
2.83 ms at the int16 peak (116 G MAC per CPU second, measured), the pointwise passes 1.35 ms (of
which the table reads 0.61: ``vpgatherdd`` at 0.33 ns a read, the 16-lane zmm gather 0.38 and
scalar reads 0.65, so the 8-lane gather stays on AVX-512 too; the scattered int16 h rows 0.25), the
int64 copy of h for the result 0.28 ms and the input pass 0.31 ms, against 11.1 ms of float.
Writing the int64 h rows in the kernel instead of copying them after was measured and dropped: a
sequence's rows lie a step apart, and the int64 rows cost 1.1 ms more than the sequential copy.
Rejected:
- exact float GEMM through BLAS: provably exact in float64 here (|sum| <= 5933 * 2**15 < 2**53)
  but not in float32 (the bound is 1.9e8 > 2**24, so the per-accumulation float32 path would
  never be taken on this workload), and even where float32 is exact its GEMMs run 2.3x slower
  than ``gemm_i16`` (float64: 5x). Not kept.
- int8 weight codes with int16 activations: the int16 GEMM is compute-bound at ~1 vpdpwssd per
  cycle (each weight vector is reused from a register by the 4 rows of a block; the packed
  weights are L2-resident), and there is no int8 x int16 multiply-add (``vpdpbusd`` is u8 x s8),
  so int8 weights would add a ``vpmovsxbw`` per weight vector to save bandwidth that is not the
  limit. Not built.
- previous per-sequence matrix-vector variants (transposed weights, column unrolling by 2-8,
  several rows or vectors per pass, scalar row tiles): none beat ~30 G MAC/s per core.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit, jit_parallel, prange
from ._simd import HAS_AVX2, HAS_AVX512F, LANES, add32, lut8, and32, lut16, max32, min32, mul32, shl32, sra32, vdot, vload, vstore, vzero

#: Table reads by ``vpgatherdd`` (a compile-time constant of the kernels).
GATHER = HAS_AVX512F
#: int32 table reads 8 at a time by AVX2 ``vpgatherdd`` (``lut32_pass``).
GATHER8 = HAS_AVX2

# ---- parameter vector of a layer (int64), filled by hwsim.sim._sim._layer_params ---------------------
P_CELL = 0  # 0 rnn_tanh, 1 rnn_relu, 2 gru, 3 lstm
P_ROUND = 1  # _config.ROUNDING_CODE
P_OVF = 2  # _config.OVERFLOW_CODE
P_ACT = 3  # _config.ACTIVATION_CODE: 0 lut, 1 pwl
P_ACC_FRAC = 4
P_SHIFT_IN = 5
P_SHIFT_REC = 6
P_PRE_BITS = 7
P_PRE_FRAC = 8
P_ACT_BITS = 9
P_ACT_FRAC = 10
P_H_BITS = 11
P_H_FRAC = 12
P_C_BITS = 13
P_C_FRAC = 14
P_SIG_R = 15  # sigmoid_range_log2
P_TANH_R = 16
P_SIG_SHIFT = 17  # LUT index shift, docs "Activation units"
P_TANH_SHIFT = 18
P_NARROW = 19  # 1: int16 operands, int32 dot products
P_RECORD = 20  # 1: write the activated gates
P_HIDDEN = 21
P_I32 = 22  # 1: the tile's pointwise passes run in int32 (the wrapper proved every value fits)
N_PARAMS = 23

# ---- parameter vector of the head ----------------------------------------------------------------
Q_ROUND = 0
Q_OVF = 1
Q_ACC_FRAC = 2
Q_SHIFT = 3
Q_OUT_BITS = 4
Q_OUT_FRAC = 5
Q_NARROW = 6
Q_T0 = 7  # first step the head reads (T-1: last step only; 0: every step)
N_HEAD_PARAMS = 8



# ---- requantization (docs/datapath.md, "Requantization") ---------------------------------------
# A requantization point has fixed shifts and modes, so its constants are worked out once per step
# (``rq_site``); ``rq`` then does the per-value work. For a right shift by k every rounding mode is
# ``(v + c) >> k`` with a correction c:
#   floor      c = 0
#   half_up    c = 2**(k-1)                           (ties towards +inf)
#   half_even  c = 2**(k-1) - 1 + (bit k of v)        (a tie rounds up exactly when v >> k is odd)
#   zero       c = 2**k - 1 if v < 0 else 0           (negative values round up, towards zero)
# A move to more fraction bits is the exact left shift ``ls`` (and no right shift).
# The mode branches are loop-invariant and predict perfectly; they measured faster than a
# branch-free select of all four corrections.


@jit
def rq_site(from_frac, bits, frac, rounding, overflow):
    """Constants (ls, rs, rounding, half, lo, hi, wrap) of requantizing from ``from_frac`` fraction
    bits into ``s{bits}.{frac}`` with rounding code ``rounding`` and overflow code ``overflow``."""
    k = np.int64(from_frac) - np.int64(frac)
    ls = max(-k, np.int64(0))
    rs = max(k, np.int64(0))
    half = (np.int64(1) << rs) >> 1
    lo = -(np.int64(1) << (bits - 1))
    hi = (np.int64(1) << (bits - 1)) - 1
    return ls, rs, np.int64(rounding), half, lo, hi, np.int64(overflow)


@jit
def rq(v, site):
    """Requantize ``v`` at ``site`` (from ``rq_site``): (value, 1 if it left the range else 0)."""
    ls, rs, rounding, half, lo, hi, wrap = site
    q = np.int64(v) << ls
    if rs > 0:
        if rounding == 0:
            q = q >> rs
        elif rounding == 1:
            q = (q + half) >> rs
        elif rounding == 2:
            q = (q + half - 1 + ((q >> rs) & 1)) >> rs
        else:
            q = (q + ((q >> 63) & (2 * half - 1))) >> rs
    if q < lo or q > hi:
        if wrap == 1:  # keep the low bits: two's complement wrap-around (hi - lo = 2**bits - 1)
            return ((q - lo) & (hi - lo)) + lo, np.int64(1)
        return (lo if q < lo else hi), np.int64(1)
    return q, np.int64(0)


@jit
def requant(v, from_frac, bits, frac, rounding, overflow):
    """Move ``v`` (``from_frac`` fraction bits) into ``s{bits}.{frac}``: (value, out-of-range flag)."""
    return rq(v, rq_site(from_frac, bits, frac, rounding, overflow))


# ---- activation units (docs/datapath.md, "Activation units") -----------------------------------
@jit
def lut_index(x, r, pre_frac, index_shift):
    """LUT unit address: clamp to [-R, R) in pre units, offset by R, keep the top lut_bits bits."""
    lo = -(np.int64(1) << (r + pre_frac))
    hi = -lo - 1
    xc = min(max(np.int64(x), lo), hi)
    return (xc - lo) >> index_shift


@jit
def _shr(a, k):
    return a >> k if k >= 0 else a << (-k)


@jit
def plan_positive(a, fp, fa):
    """PLAN sigmoid on a = |x| >= 0 (pre units in, act units out): slopes are shifts."""
    if a >= (np.int64(5) << fp):
        return np.int64(1) << fa
    if a >= (np.int64(19) << (fp - 3)):
        return _shr(a, fp + 5 - fa) + (np.int64(27) << (fa - 5))
    if a >= (np.int64(1) << fp):
        return _shr(a, fp + 3 - fa) + (np.int64(5) << (fa - 3))
    return _shr(a, fp + 2 - fa) + (np.int64(1) << (fa - 1))


@jit
def sigmoid_pwl(x, fp, fa):
    """PWL sigmoid: PLAN(|x|), mirrored as ONE - PLAN(|x|) for x < 0."""
    x = np.int64(x)
    y = plan_positive(abs(x), fp, fa)
    return (np.int64(1) << fa) - y if x < 0 else y


@jit
def tanh_pwl(x, fp, fa):
    """PWL tanh: 2 * PLAN(2|x|) - ONE, negated for x < 0."""
    x = np.int64(x)
    t = 2 * plan_positive(2 * abs(x), fp, fa) - (np.int64(1) << fa)
    return -t if x < 0 else t


# ---- integer matrix-vector products --------------------------------------------------------------
@jit
def matvec_narrow(w, v, out):
    """out[j] = sum_c w[j, c] * v[c] with int16 operands and an int32 sum (vpmaddwd).

    Only called when the wrapper proved |sum| < 2**31 for every row and every v in the format.
    """
    rows, cols = w.shape
    for j in range(rows):
        acc = np.int32(0)
        for c in range(cols):
            acc = np.int32(acc + np.int32(w[j, c]) * np.int32(v[c]))
        out[j] = acc


@jit
def matvec_wide(w, v, out):
    """out[j] = sum_c w[j, c] * v[c] in int64 (exact: the plan bounds the sum by 2**62)."""
    rows, cols = w.shape
    for j in range(rows):
        acc = np.int64(0)
        for c in range(cols):
            acc += np.int64(w[j, c]) * np.int64(v[c])
        out[j] = acc


@jit
def matvec(w, v, out, narrow):
    if narrow:
        matvec_narrow(w, v, out)
    else:
        matvec_wide(w, v, out)


# ---- register-blocked int16 GEMM (hwsim.sim._simd) -----------------------------------------------------
#: Rows (sequences) and column vectors of one register block. AVX-512 (16 lanes): 4 x 4 int32
#: accumulators, 4 weight vectors and one broadcast per pair of columns, 21 of the 32 zmm
#: registers. AVX2 (8 lanes, 16 ymm registers): 4 x 2 accumulators, 2 weight vectors and a
#: broadcast, 11 registers (4 x 4 would need 21 and spill to the stack every step).
MR = 4
NR = 4 if LANES == 16 else 2
#: Output columns of one register block; the packed weights' column count is a multiple of it.
NB = NR * LANES


@jit
def gemm_i16(dot, a, s, r0, m_rows, wp, n_cols, c):
    """c[m, j] = sum_k A[r0 + m, s, k] * W[k, j] for m < m_rows, j < n_cols, exactly in int32.

    ``a`` is (R, S, K/2) int32: int16 operand pairs (k = 2q, 2q + 1) as the low and high halves of
    ``a[r, s, q]``. ``wp`` is the packed (K/2, n_cols) int32 weights, flattened: ``wp[q * n_cols +
    j]`` holds W[2q, j] (low half) and W[2q + 1, j] (high half), so one 16-lane load of ``wp``
    meets one broadcast ``a[r, s, q]`` in the dot primitive ``dot`` (``hwsim.sim._simd.dot_vnni`` or
    ``dot_portable``, called through ``vdot``). m_rows is a multiple of MR, n_cols of 4 * LANES. ``c`` is (>= m_rows, >= n_cols)
    int32. Only called when the wrapper proved every sum (and so every partial sum) below 2**31.
    """
    n_pairs = a.shape[2]
    for nb in range(0, n_cols, 4 * LANES):
        for mb in range(0, m_rows, MR):
            a0, a1, a2, a3 = a[r0 + mb, s], a[r0 + mb + 1, s], a[r0 + mb + 2, s], a[r0 + mb + 3, s]
            c00, c01, c02, c03 = vzero(), vzero(), vzero(), vzero()
            c10, c11, c12, c13 = vzero(), vzero(), vzero(), vzero()
            c20, c21, c22, c23 = vzero(), vzero(), vzero(), vzero()
            c30, c31, c32, c33 = vzero(), vzero(), vzero(), vzero()
            for q in range(n_pairs):
                o = q * n_cols + nb
                w0 = vload(wp, o)
                w1 = vload(wp, o + LANES)
                w2 = vload(wp, o + 2 * LANES)
                w3 = vload(wp, o + 3 * LANES)
                x = a0[q]
                c00, c01 = vdot(dot, c00, x, w0), vdot(dot, c01, x, w1)
                c02, c03 = vdot(dot, c02, x, w2), vdot(dot, c03, x, w3)
                x = a1[q]
                c10, c11 = vdot(dot, c10, x, w0), vdot(dot, c11, x, w1)
                c12, c13 = vdot(dot, c12, x, w2), vdot(dot, c13, x, w3)
                x = a2[q]
                c20, c21 = vdot(dot, c20, x, w0), vdot(dot, c21, x, w1)
                c22, c23 = vdot(dot, c22, x, w2), vdot(dot, c23, x, w3)
                x = a3[q]
                c30, c31 = vdot(dot, c30, x, w0), vdot(dot, c31, x, w1)
                c32, c33 = vdot(dot, c32, x, w2), vdot(dot, c33, x, w3)
            for i, (v0, v1, v2, v3) in enumerate(((c00, c01, c02, c03), (c10, c11, c12, c13),
                                                  (c20, c21, c22, c23), (c30, c31, c32, c33))):
                row = c[mb + i]
                vstore(row, nb, v0)
                vstore(row, nb + LANES, v1)
                vstore(row, nb + 2 * LANES, v2)
                vstore(row, nb + 3 * LANES, v3)


@jit
def gemm_i16_n2(dot, a, s, r0, m_rows, wp, n_cols, c):
    """``gemm_i16`` with 4 x 2 vector blocks (NR = 2: AVX2's 16 registers); same arguments and
    result, n_cols a multiple of 2 * LANES."""
    n_pairs = a.shape[2]
    for nb in range(0, n_cols, 2 * LANES):
        for mb in range(0, m_rows, MR):
            a0, a1, a2, a3 = a[r0 + mb, s], a[r0 + mb + 1, s], a[r0 + mb + 2, s], a[r0 + mb + 3, s]
            c00, c01, c10, c11 = vzero(), vzero(), vzero(), vzero()
            c20, c21, c30, c31 = vzero(), vzero(), vzero(), vzero()
            for q in range(n_pairs):
                o = q * n_cols + nb
                w0 = vload(wp, o)
                w1 = vload(wp, o + LANES)
                x = a0[q]
                c00, c01 = vdot(dot, c00, x, w0), vdot(dot, c01, x, w1)
                x = a1[q]
                c10, c11 = vdot(dot, c10, x, w0), vdot(dot, c11, x, w1)
                x = a2[q]
                c20, c21 = vdot(dot, c20, x, w0), vdot(dot, c21, x, w1)
                x = a3[q]
                c30, c31 = vdot(dot, c30, x, w0), vdot(dot, c31, x, w1)
            for i, (v0, v1) in enumerate(((c00, c01), (c10, c11), (c20, c21), (c30, c31))):
                row = c[mb + i]
                vstore(row, nb, v0)
                vstore(row, nb + LANES, v1)


#: The GEMM of this CPU's register block (a compile-time choice).
gemm = gemm_i16 if NR == 4 else gemm_i16_n2


@jit
def dot_store(dot, acc, x, w, out):
    """out = dot(acc, x, w) on 16-lane int32 arrays: the dot primitive alone, for its tests."""
    vstore(out, 0, vdot(dot, vload(acc, 0), x, vload(w, 0)))


# ---- pointwise cell updates: one step of one sequence, all H rows ---------------------------------
# Each takes the layer's parameter vector p and the step's dot products: gi = W_in u_t (G*H),
# gh = W_rec h (G*H). It updates h (and c) in place, writes h_out / c_out / gates rows for this
# (n, t), and adds the out-of-range counts of its nodes to cnt (the sequence's row of counts).


@jit
def rnn_step(p, gi, gh, b_in, tanh_table, h, h_out, gates, cnt, t):
    """RNN: h' = requant(tanh(p_a), act -> h) or requant(max(p_a, 0), pre -> h)."""
    rnd, ovf, acc_frac, s_in, s_rec = p[P_ROUND], p[P_OVF], p[P_ACC_FRAC], p[P_SHIFT_IN], p[P_SHIFT_REC]
    pre_b, pre_f, act_f, h_b, h_f = p[P_PRE_BITS], p[P_PRE_FRAC], p[P_ACT_FRAC], p[P_H_BITS], p[P_H_FRAC]
    use_lut, tanh_r, tanh_sh = p[P_ACT] == 0, p[P_TANH_R], p[P_TANH_SHIFT]
    relu, record = p[P_CELL] == 1, p[P_RECORD] == 1
    s_pre = rq_site(acc_frac, pre_b, pre_f, rnd, ovf)
    s_h_act = rq_site(act_f, h_b, h_f, rnd, ovf)
    s_h_pre = rq_site(pre_f, h_b, h_f, rnd, ovf)
    n0 = np.int64(0)
    n1 = np.int64(0)
    for j in range(h.shape[0]):
        pa, o0 = rq(b_in[j] + (gi[j] << s_in) + (gh[j] << s_rec), s_pre)
        if relu:
            a = max(pa, np.int64(0))
            hn, o1 = rq(a, s_h_pre)
        else:
            a = tanh_table[lut_index(pa, tanh_r, pre_f, tanh_sh)] if use_lut else tanh_pwl(pa, pre_f, act_f)
            hn, o1 = rq(a, s_h_act)
        n0 += o0
        n1 += o1
        h[j] = hn
        h_out[t, j] = hn
        if record:
            gates[0, t, j] = a
    cnt[0] += n0
    cnt[1] += n1


@jit
def gru_step(p, gi, gh, b_in, b_rec, sig_table, tanh_table, h, h_out, gates, cnt, t):
    """GRU: r, z, n_x, n_h leave their accumulators; p_n, n, h' as docs/datapath.md."""
    rnd, ovf, acc_frac, s_in, s_rec = p[P_ROUND], p[P_OVF], p[P_ACC_FRAC], p[P_SHIFT_IN], p[P_SHIFT_REC]
    pre_b, pre_f, act_f, h_b, h_f = p[P_PRE_BITS], p[P_PRE_FRAC], p[P_ACT_FRAC], p[P_H_BITS], p[P_H_FRAC]
    use_lut, sig_r, sig_sh, tanh_r, tanh_sh = p[P_ACT] == 0, p[P_SIG_R], p[P_SIG_SHIFT], p[P_TANH_R], p[P_TANH_SHIFT]
    record = p[P_RECORD] == 1
    one = np.int64(1) << act_f
    align = act_f + max(act_f, h_f)  # (ONE - z) * n and z * h meet at this many fraction bits
    sh_n = align - 2 * act_f
    sh_h = align - act_f - h_f
    s_pre = rq_site(acc_frac, pre_b, pre_f, rnd, ovf)
    s_pn = rq_site(pre_f + act_f, pre_b, pre_f, rnd, ovf)
    s_h_gru = rq_site(align, h_b, h_f, rnd, ovf)
    H = h.shape[0]
    n0 = np.int64(0)
    n1 = np.int64(0)
    n2 = np.int64(0)
    n3 = np.int64(0)
    n4 = np.int64(0)
    n5 = np.int64(0)
    for j in range(H):
        jz = H + j
        jn = 2 * H + j
        pr, o0 = rq(b_in[j] + (gi[j] << s_in) + (gh[j] << s_rec), s_pre)
        pz, o1 = rq(b_in[jz] + (gi[jz] << s_in) + (gh[jz] << s_rec), s_pre)
        pnx, o2 = rq(b_in[jn] + (gi[jn] << s_in), s_pre)
        pnh, o3 = rq(b_rec[jn] + (gh[jn] << s_rec), s_pre)
        if use_lut:
            r = sig_table[lut_index(pr, sig_r, pre_f, sig_sh)]
            z = sig_table[lut_index(pz, sig_r, pre_f, sig_sh)]
        else:
            r = sigmoid_pwl(pr, pre_f, act_f)
            z = sigmoid_pwl(pz, pre_f, act_f)
        pn, o4 = rq((pnx << act_f) + r * pnh, s_pn)
        nn = tanh_table[lut_index(pn, tanh_r, pre_f, tanh_sh)] if use_lut else tanh_pwl(pn, pre_f, act_f)
        v = (((one - z) * nn) << sh_n) + ((z * np.int64(h[j])) << sh_h)
        hn, o5 = rq(v, s_h_gru)
        n0 += o0
        n1 += o1
        n2 += o2
        n3 += o3
        n4 += o4
        n5 += o5
        h[j] = hn
        h_out[t, j] = hn
        if record:
            gates[0, t, j] = r
            gates[1, t, j] = z
            gates[2, t, j] = nn
    cnt[0] += n0
    cnt[1] += n1
    cnt[2] += n2
    cnt[3] += n3
    cnt[4] += n4
    cnt[5] += n5


# ---- branch-free requantization, for loops the compiler vectorizes --------------------------------
# The same arithmetic as ``rq``, with the mode selected by masks instead of branches:
#   (v + a0 + (bit rs of v & e1) + (sign of v & m2)) >> rs
# floor: all 0; half_up: a0 = half; half_even: a0 = half - 1, e1 = 1; zero: m2 = 2**rs - 1; with
# rs = 0 all are 0 (no right shift, no rounding). Overflow: saturate and wrap are both computed and
# ``wm`` (all ones for wrap) selects.


@jit
def rqv_site(from_frac, bits, frac, rounding, overflow):
    """Constants (ls, rs, a0, e1, m2, lo, hi, wm) of the branch-free requantizer ``rqv_pass``."""
    k = np.int64(from_frac) - np.int64(frac)
    ls = max(-k, np.int64(0))
    rs = max(k, np.int64(0))
    half = (np.int64(1) << rs) >> 1
    a0 = np.int64(0)
    e1 = np.int64(0)
    m2 = np.int64(0)
    if rs > 0:
        if rounding == 1:
            a0 = half
        elif rounding == 2:
            a0 = half - 1
            e1 = np.int64(1)
        elif rounding == 3:
            m2 = 2 * half - 1
    lo = -(np.int64(1) << (bits - 1))
    hi = (np.int64(1) << (bits - 1)) - 1
    wm = -np.int64(overflow == 1)
    return ls, rs, a0, e1, m2, lo, hi, wm


@jit
def rqv_pass(v, s, out, n):
    """out[j] = rq(v[j]) for j < n at site ``s`` (from ``rqv_site``), branch-free so the loop
    vectorizes; returns the number of values that left the range."""
    ls, rs, a0, e1, m2, lo, hi, wm = s
    o = np.int64(0)
    if e1 == 0 and m2 == 0 and wm == 0:  # floor or half_up, saturate: the other terms are all 0
        for j in range(n):
            q = ((v[j] << ls) + a0) >> rs
            qs = min(max(q, lo), hi)
            o += np.int64(qs != q)
            out[j] = qs
        return o
    for j in range(n):
        q = v[j] << ls
        q = (q + a0 + ((q >> rs) & e1) + ((q >> 63) & m2)) >> rs
        o += np.int64(q < lo) | np.int64(q > hi)
        qs = min(max(q, lo), hi)
        qw = ((q - lo) & (hi - lo)) + lo
        out[j] = qs + ((qw - qs) & wm)
    return o


@jit
def lut_pass(table, x, lo, hi, index_shift, out, n):
    """out[j] = LUT(x[j]) for j < n, with ``lut_index``'s clamp bounds lo, hi precomputed.

    The wrapper passes int32 tables (act words are at most 24 bits). With AVX-512F 16 reads at a time are one ``vpgatherdd`` (``_simd.lut16``;
    0.55 against 0.71 ns a read for LLVM's own loop, which reads lane by lane); the loop below
    does the rest (and everything elsewhere).
    """
    j0 = 0
    if GATHER:
        j0 = n - n % LANES
        for i in range(0, j0, LANES):
            lut16(table, x, out, i, lo, hi, index_shift)
    for j in range(j0, n):
        out[j] = table[(min(max(x[j], lo), hi) - lo) >> index_shift]


@jit
def gru_step_lut(p, gi, gh, b_in, b_rec, sig_table, tanh_table, h, h_out, cnt, t, sc):
    """``gru_step`` for the LUT unit without recording, as passes over the units that vectorize.

    sc is int64 scratch of shape (4, >= 4 * H). Same results and counts as ``gru_step``.
    """
    rnd, ovf, acc_frac, s_in, s_rec = p[P_ROUND], p[P_OVF], p[P_ACC_FRAC], p[P_SHIFT_IN], p[P_SHIFT_REC]
    pre_b, pre_f, act_f, h_b, h_f = p[P_PRE_BITS], p[P_PRE_FRAC], p[P_ACT_FRAC], p[P_H_BITS], p[P_H_FRAC]
    sig_r, sig_sh, tanh_r, tanh_sh = p[P_SIG_R], p[P_SIG_SHIFT], p[P_TANH_R], p[P_TANH_SHIFT]
    one = np.int64(1) << act_f
    align = act_f + max(act_f, h_f)
    sh_n = align - 2 * act_f
    sh_h = align - act_f - h_f
    s_pre = rqv_site(acc_frac, pre_b, pre_f, rnd, ovf)
    s_pn = rqv_site(pre_f + act_f, pre_b, pre_f, rnd, ovf)
    s_h_gru = rqv_site(align, h_b, h_f, rnd, ovf)
    sig_lo = -(np.int64(1) << (sig_r + pre_f))
    tanh_lo = -(np.int64(1) << (tanh_r + pre_f))
    H = h.shape[0]
    pre, act, nx, nh = sc[0], sc[1], sc[2], sc[3]
    # r, z, n_x, n_h leave their accumulators (nh[:4H]) into pre (r | z) and nx (n_x | n_h)
    acc_pass(b_in, gi, s_in, gh, s_rec, nh, 2 * H)
    for j in range(H):
        nh[2 * H + j] = b_in[2 * H + j] + (np.int64(gi[2 * H + j]) << s_in)
        nh[3 * H + j] = b_rec[2 * H + j] + (np.int64(gh[2 * H + j]) << s_rec)
    o_r = rqv_pass(nh, s_pre, pre, H)
    o_z = rqv_pass(nh[H:], s_pre, pre[H:], H)
    o_nx = rqv_pass(nh[2 * H :], s_pre, nx, H)
    o_nh = rqv_pass(nh[3 * H :], s_pre, nx[H:], H)
    lut_pass(sig_table, pre, sig_lo, -sig_lo - 1, sig_sh, act, 2 * H)  # act = r | z
    for j in range(H):
        nh[j] = (nx[j] << act_f) + act[j] * nx[H + j]
    o_pn = rqv_pass(nh, s_pn, pre, H)
    lut_pass(tanh_table, pre, tanh_lo, -tanh_lo - 1, tanh_sh, nh, H)  # nh[:H] = n
    for j in range(H):
        z = act[H + j]
        nx[j] = (((one - z) * nh[j]) << sh_n) + ((z * np.int64(h[j])) << sh_h)
    o_h = rqv_pass(nx, s_h_gru, pre, H)
    for j in range(H):
        h[j] = pre[j]
        h_out[t, j] = pre[j]
    cnt[0] += o_r
    cnt[1] += o_z
    cnt[2] += o_nx
    cnt[3] += o_nh
    cnt[4] += o_pn
    cnt[5] += o_h


@jit
def rqv_rows(v, s, out, rows, valid, width):
    """``rqv_pass`` over ``rows`` rows of ``width`` values; only the first ``valid`` rows count
    (the rest are padding sequences of the batch-major kernel)."""
    o = rqv_pass(v, s, out, valid * width)
    rqv_pass(v[valid * width :], s, out[valid * width :], (rows - valid) * width)
    return o


# Loops over a tile's rows x units take 1-D row views and index them from 0: with the flat index
# i * width + j LLVM cannot rule out Numba's negative-index wrap-around and keeps the loop scalar
# (measured 7x slower).


@jit
def acc_rows(b, g, g0, s, out, rows, width):
    """out[i * width + j] = b[j] + (g[i, g0 + j] << s): one part's accumulators, row by row."""
    for i in range(rows):
        gr = g[i, g0:]
        o = out[i * width :]
        for j in range(width):
            o[j] = b[j] + (np.int64(gr[j]) << s)


@jit
def gru_tile_lut(p, gi, gh, b_in, b_rec, sig_table, tanh_table, hp, h_out, cnt, n0, valid, t, sc):
    """``gru_step_lut`` for a whole tile of the batch-major kernel: every pass runs over all
    rows x H units at once (no per-sequence calls). gi, gh (rows, >= 3H) int32; hp (rows, 1, >= H)
    int16 state; h_out rows n0.. written at step t; cnt (nodes,) gets the counts of the first
    ``valid`` rows; sc int64 scratch (8, >= rows * H). Same results and counts as ``gru_step``.
    """
    rnd, ovf, acc_frac, s_in, s_rec = p[P_ROUND], p[P_OVF], p[P_ACC_FRAC], p[P_SHIFT_IN], p[P_SHIFT_REC]
    pre_b, pre_f, act_f, h_b, h_f = p[P_PRE_BITS], p[P_PRE_FRAC], p[P_ACT_FRAC], p[P_H_BITS], p[P_H_FRAC]
    sig_lo = -(np.int64(1) << (p[P_SIG_R] + pre_f))
    tanh_lo = -(np.int64(1) << (p[P_TANH_R] + pre_f))
    one = np.int64(1) << act_f
    align = act_f + max(act_f, h_f)
    sh_n = align - 2 * act_f
    sh_h = align - act_f - h_f
    s_pre = rqv_site(acc_frac, pre_b, pre_f, rnd, ovf)
    H = p[P_HIDDEN]
    R = gi.shape[0]
    acc, pr, pz, pnx, pnh, r, z, v = sc[0], sc[1], sc[2], sc[3], sc[4], sc[5], sc[6], sc[7]
    acc2_rows(b_in, gi, gh, 0, s_in, s_rec, acc, R, H)  # r and z read both parts
    cnt[0] += rqv_rows(acc, s_pre, pr, R, valid, H)
    acc2_rows(b_in, gi, gh, H, s_in, s_rec, acc, R, H)
    cnt[1] += rqv_rows(acc, s_pre, pz, R, valid, H)
    acc_rows(b_in[2 * H :], gi, 2 * H, s_in, acc, R, H)
    cnt[2] += rqv_rows(acc, s_pre, pnx, R, valid, H)
    acc_rows(b_rec[2 * H :], gh, 2 * H, s_rec, acc, R, H)
    cnt[3] += rqv_rows(acc, s_pre, pnh, R, valid, H)
    n = R * H
    lut_pass(sig_table, pr, sig_lo, -sig_lo - 1, p[P_SIG_SHIFT], r, n)
    lut_pass(sig_table, pz, sig_lo, -sig_lo - 1, p[P_SIG_SHIFT], z, n)
    for j in range(n):
        acc[j] = (pnx[j] << act_f) + r[j] * pnh[j]
    cnt[4] += rqv_rows(acc, rqv_site(pre_f + act_f, pre_b, pre_f, rnd, ovf), pr, R, valid, H)
    lut_pass(tanh_table, pr, tanh_lo, -tanh_lo - 1, p[P_TANH_SHIFT], pz, n)  # pz = n
    for i in range(R):
        hr, zr, nr, vr = hp[i, 0], z[i * H :], pz[i * H :], v[i * H :]
        for j in range(H):
            vr[j] = (((one - zr[j]) * nr[j]) << sh_n) + ((zr[j] * np.int64(hr[j])) << sh_h)
    cnt[5] += rqv_rows(v, rqv_site(align, h_b, h_f, rnd, ovf), acc, R, valid, H)
    store_rows(acc, hp, h_out, n0, t, R, H)


@jit
def acc_pass(b, gi, s_in, gh, s_rec, out, n):
    """out[j] = b[j] + (gi[j] << s_in) + (gh[j] << s_rec) for j < n: accumulators of both parts."""
    for j in range(n):
        out[j] = b[j] + (np.int64(gi[j]) << s_in) + (np.int64(gh[j]) << s_rec)


@jit
def acc2_rows(b, gi, gh, g0, s_in, s_rec, out, rows, width):
    """out[i * width + j] = b[g0 + j] + (gi[i, g0 + j] << s_in) + (gh[i, g0 + j] << s_rec):
    accumulators that read both parts, row by row."""
    br = b[g0:]
    for i in range(rows):
        gir, ghr = gi[i, g0:], gh[i, g0:]
        o = out[i * width :]
        for j in range(width):
            o[j] = br[j] + (np.int64(gir[j]) << s_in) + (np.int64(ghr[j]) << s_rec)


@jit
def store_rows(v, hp, h_out, n0, t, rows, width):
    """The new state v (rows * width) into hp (rows, 1, >= width) and h_out rows n0.. at step t."""
    for i in range(rows):
        vr, hr, hor = v[i * width :], hp[i, 0], h_out[n0 + i, t]
        for j in range(width):
            hr[j] = vr[j]
            hor[j] = vr[j]


@jit
def rnn_tile_lut(p, gi, gh, b_in, tanh_table, hp, h_out, cnt, n0, valid, t, sc):
    """``rnn_step`` for the LUT unit (or ReLU) without recording, for a whole tile as passes
    over rows x H units (arguments as ``gru_tile_lut``). Same results and counts."""
    rnd, ovf, acc_frac, s_in, s_rec = p[P_ROUND], p[P_OVF], p[P_ACC_FRAC], p[P_SHIFT_IN], p[P_SHIFT_REC]
    pre_b, pre_f, act_f, h_b, h_f = p[P_PRE_BITS], p[P_PRE_FRAC], p[P_ACT_FRAC], p[P_H_BITS], p[P_H_FRAC]
    tanh_lo = -(np.int64(1) << (p[P_TANH_R] + pre_f))
    H = p[P_HIDDEN]
    R = gi.shape[0]
    n = R * H
    acc, pre, act = sc[0], sc[1], sc[2]
    acc2_rows(b_in, gi, gh, 0, s_in, s_rec, acc, R, H)
    cnt[0] += rqv_rows(acc, rqv_site(acc_frac, pre_b, pre_f, rnd, ovf), pre, R, valid, H)
    if p[P_CELL] == 1:
        for j in range(n):
            act[j] = max(pre[j], np.int64(0))
        cnt[1] += rqv_rows(act, rqv_site(pre_f, h_b, h_f, rnd, ovf), acc, R, valid, H)
    else:
        lut_pass(tanh_table, pre, tanh_lo, -tanh_lo - 1, p[P_TANH_SHIFT], act, n)
        cnt[1] += rqv_rows(act, rqv_site(act_f, h_b, h_f, rnd, ovf), acc, R, valid, H)
    store_rows(acc, hp, h_out, n0, t, R, H)


@jit
def lstm_tile_lut(p, gi, gh, b_in, sig_table, tanh_table, hp, c, h_out, c_out, cnt, n0, valid, t, sc):
    """``lstm_step`` for the LUT unit without recording, for a whole tile as passes over rows x H
    units (arguments as ``gru_tile_lut``; c (rows * H) int64 cell state, c_out rows n0..). Same
    results and counts."""
    rnd, ovf, acc_frac, s_in, s_rec = p[P_ROUND], p[P_OVF], p[P_ACC_FRAC], p[P_SHIFT_IN], p[P_SHIFT_REC]
    pre_b, pre_f, act_f, h_b, h_f = p[P_PRE_BITS], p[P_PRE_FRAC], p[P_ACT_FRAC], p[P_H_BITS], p[P_H_FRAC]
    c_b, c_f = p[P_C_BITS], p[P_C_FRAC]
    sig_sh, tanh_sh = p[P_SIG_SHIFT], p[P_TANH_SHIFT]
    sig_lo = -(np.int64(1) << (p[P_SIG_R] + pre_f))
    tanh_lo = -(np.int64(1) << (p[P_TANH_R] + pre_f))
    align = act_f + max(c_f, act_f)
    sh_fc = align - act_f - c_f
    sh_ig = align - 2 * act_f
    s_pre = rqv_site(acc_frac, pre_b, pre_f, rnd, ovf)
    H = p[P_HIDDEN]
    R = gi.shape[0]
    n = R * H
    acc, pre, ig, fg, gg, og, v = sc[0], sc[1], sc[2], sc[3], sc[4], sc[5], sc[6]
    for g in range(4):  # i, f, g, o leave their accumulators; one count each
        acc2_rows(b_in, gi, gh, g * H, s_in, s_rec, acc, R, H)
        cnt[g] += rqv_rows(acc, s_pre, pre, R, valid, H)
        if g == 2:
            lut_pass(tanh_table, pre, tanh_lo, -tanh_lo - 1, tanh_sh, gg, n)
        else:
            lut_pass(sig_table, pre, sig_lo, -sig_lo - 1, sig_sh, ig if g == 0 else fg if g == 1 else og, n)
    for j in range(n):
        v[j] = ((fg[j] * c[j]) << sh_fc) + ((ig[j] * gg[j]) << sh_ig)
    cnt[4] += rqv_rows(v, rqv_site(align, c_b, c_f, rnd, ovf), c, R, valid, H)
    for i in range(R):
        cr, cor = c[i * H :], c_out[n0 + i, t]
        for j in range(H):
            cor[j] = cr[j]
    cnt[5] += rqv_rows(c, rqv_site(c_f, pre_b, pre_f, rnd, ovf), pre, R, valid, H)
    lut_pass(tanh_table, pre, tanh_lo, -tanh_lo - 1, tanh_sh, v, n)  # v = tanh(c')
    for j in range(n):
        acc[j] = og[j] * v[j]
    cnt[6] += rqv_rows(acc, rqv_site(2 * act_f, h_b, h_f, rnd, ovf), pre, R, valid, H)
    store_rows(pre, hp, h_out, n0, t, R, H)


# ---- int32 tile passes (AVX2: 8 native lanes instead of 4 emulated int64 ones) ---------------------
# The same arithmetic as the int64 passes above, in the int32 operations of ``hwsim.sim._simd``
# (``add32`` ...), which keep LLVM's loops on 32-bit lanes. Only taken when the wrapper proved
# (``hwsim.sim._sim.int32_ok``) that every accumulator, product, rounding sum and wrap-around
# difference of the layer stays inside int32: then no operation wraps and every result equals the
# int64 one bit for bit (the tests compare both with the naive twin).


@jit
def rq32_site(from_frac, bits, frac, rounding, overflow):
    """``rqv_site``'s constants as int32 (hi - lo is the wrap mask)."""
    ls, rs, a0, e1, m2, lo, hi, wm = rqv_site(from_frac, bits, frac, rounding, overflow)
    return (np.int32(ls), np.int32(rs), np.int32(a0), np.int32(e1), np.int32(m2), np.int32(lo), np.int32(hi),
            np.int32(wm), np.int32(hi - lo))


@jit
def rq32_pass(v, s, out, n):
    """``rqv_pass`` on int32 arrays: out[j] = rq(v[j]) for j < n; returns the out-of-range count."""
    ls, rs, a0, e1, m2, lo, hi, wm, span = s
    o = np.int32(0)
    if e1 == 0 and m2 == 0 and wm == 0:
        for j in range(n):
            q = sra32(add32(shl32(v[j], ls), a0), rs)
            qs = min32(max32(q, lo), hi)
            o = add32(o, qs != q)
            out[j] = qs
        return np.int64(o)
    for j in range(n):
        q = shl32(v[j], ls)
        q = sra32(add32(add32(add32(q, a0), and32(sra32(q, rs), e1)), and32(sra32(q, 31), m2)), rs)
        o = add32(o, (q < lo) | (q > hi))
        qs = min32(max32(q, lo), hi)
        qw = add32(and32(add32(q, -lo), span), lo)
        out[j] = add32(qs, and32(add32(qw, -qs), wm))
    return np.int64(o)


@jit
def rq32_rows(v, s, out, rows, valid, width):
    """``rq32_pass`` over ``rows`` rows; only the first ``valid`` count (``rqv_rows``)."""
    o = rq32_pass(v, s, out, valid * width)
    rq32_pass(v[valid * width :], s, out[valid * width :], (rows - valid) * width)
    return o


@jit
def lut32_pass(table, x, lo, hi, index_shift, out, n):
    """``lut_pass`` on int32 arrays: 8 reads at a time by AVX2's ``vpgatherdd`` where present, AVX-512
    machines included (measured on Zen 4: 0.33 ns a read against 0.38 for the 16-lane zmm gather
    and 0.65 for LLVM's own loop)."""
    lo32, hi32, sh = np.int32(lo), np.int32(hi), np.int32(index_shift)
    j0 = 0
    if GATHER8:
        j0 = n - n % 8
        for i in range(0, j0, 8):
            lut8(table, x, out, i, lo32, hi32, sh)
    for j in range(j0, n):
        out[j] = table[sra32(add32(min32(max32(x[j], lo32), hi32), -lo32), sh)]


@jit
def acc32_rows(b, bg, g, g0, s, out, rows, width):
    """out[i * width + j] = b[bg + j] + (g[i, g0 + j] << s) in int32: one part's accumulators."""
    br = b[bg:]
    s32 = np.int32(s)
    for i in range(rows):
        gr = g[i, g0:]
        o = out[i * width :]
        for j in range(width):
            o[j] = add32(br[j], shl32(gr[j], s32))


@jit
def acc32_2rows(b, gi, gh, g0, s_in, s_rec, out, rows, width):
    """``acc2_rows`` in int32: accumulators that read both parts."""
    br = b[g0:]
    si, sr = np.int32(s_in), np.int32(s_rec)
    for i in range(rows):
        gir, ghr = gi[i, g0:], gh[i, g0:]
        o = out[i * width :]
        for j in range(width):
            o[j] = add32(add32(br[j], shl32(gir[j], si)), shl32(ghr[j], sr))


@jit
def gru_tile32(p, gi, gh, b_in, b_rec, sig_table, tanh_table, hp, h_out, cnt, n0, valid, t, sc):
    """``gru_tile_lut`` in int32 (b_in, b_rec int32; sc int32 scratch (8, >= rows * H))."""
    rnd, ovf, acc_frac, s_in, s_rec = p[P_ROUND], p[P_OVF], p[P_ACC_FRAC], p[P_SHIFT_IN], p[P_SHIFT_REC]
    pre_b, pre_f, act_f, h_b, h_f = p[P_PRE_BITS], p[P_PRE_FRAC], p[P_ACT_FRAC], p[P_H_BITS], p[P_H_FRAC]
    sig_lo = -(np.int64(1) << (p[P_SIG_R] + pre_f))
    tanh_lo = -(np.int64(1) << (p[P_TANH_R] + pre_f))
    one = np.int32(np.int64(1) << act_f)
    align = act_f + max(act_f, h_f)
    sh_n = np.int32(align - 2 * act_f)
    sh_h = np.int32(align - act_f - h_f)
    af = np.int32(act_f)
    s_pre = rq32_site(acc_frac, pre_b, pre_f, rnd, ovf)
    H = p[P_HIDDEN]
    R = gi.shape[0]
    acc, pr, pz, pnx, pnh, r, z, v = sc[0], sc[1], sc[2], sc[3], sc[4], sc[5], sc[6], sc[7]
    acc32_2rows(b_in, gi, gh, 0, s_in, s_rec, acc, R, H)
    cnt[0] += rq32_rows(acc, s_pre, pr, R, valid, H)
    acc32_2rows(b_in, gi, gh, H, s_in, s_rec, acc, R, H)
    cnt[1] += rq32_rows(acc, s_pre, pz, R, valid, H)
    acc32_rows(b_in, 2 * H, gi, 2 * H, s_in, acc, R, H)
    cnt[2] += rq32_rows(acc, s_pre, pnx, R, valid, H)
    acc32_rows(b_rec, 2 * H, gh, 2 * H, s_rec, acc, R, H)
    cnt[3] += rq32_rows(acc, s_pre, pnh, R, valid, H)
    n = R * H
    lut32_pass(sig_table, pr, sig_lo, -sig_lo - 1, p[P_SIG_SHIFT], r, n)
    lut32_pass(sig_table, pz, sig_lo, -sig_lo - 1, p[P_SIG_SHIFT], z, n)
    for j in range(n):
        acc[j] = add32(shl32(pnx[j], af), mul32(r[j], pnh[j]))
    cnt[4] += rq32_rows(acc, rq32_site(pre_f + act_f, pre_b, pre_f, rnd, ovf), pr, R, valid, H)
    lut32_pass(tanh_table, pr, tanh_lo, -tanh_lo - 1, p[P_TANH_SHIFT], pz, n)  # pz = n
    for i in range(R):
        hr, zr, nr, vr = hp[i, 0], z[i * H :], pz[i * H :], v[i * H :]
        for j in range(H):
            vr[j] = add32(shl32(mul32(add32(one, -zr[j]), nr[j]), sh_n), shl32(mul32(zr[j], hr[j]), sh_h))
    cnt[5] += rq32_rows(v, rq32_site(align, h_b, h_f, rnd, ovf), acc, R, valid, H)
    store_rows(acc, hp, h_out, n0, t, R, H)


@jit
def rnn_tile32(p, gi, gh, b_in, tanh_table, hp, h_out, cnt, n0, valid, t, sc):
    """``rnn_tile_lut`` in int32 (arguments as ``gru_tile32``)."""
    rnd, ovf, acc_frac, s_in, s_rec = p[P_ROUND], p[P_OVF], p[P_ACC_FRAC], p[P_SHIFT_IN], p[P_SHIFT_REC]
    pre_b, pre_f, act_f, h_b, h_f = p[P_PRE_BITS], p[P_PRE_FRAC], p[P_ACT_FRAC], p[P_H_BITS], p[P_H_FRAC]
    tanh_lo = -(np.int64(1) << (p[P_TANH_R] + pre_f))
    H = p[P_HIDDEN]
    R = gi.shape[0]
    n = R * H
    acc, pre, act = sc[0], sc[1], sc[2]
    acc32_2rows(b_in, gi, gh, 0, s_in, s_rec, acc, R, H)
    cnt[0] += rq32_rows(acc, rq32_site(acc_frac, pre_b, pre_f, rnd, ovf), pre, R, valid, H)
    if p[P_CELL] == 1:
        z = np.int32(0)
        for j in range(n):
            act[j] = max32(pre[j], z)
        cnt[1] += rq32_rows(act, rq32_site(pre_f, h_b, h_f, rnd, ovf), acc, R, valid, H)
    else:
        lut32_pass(tanh_table, pre, tanh_lo, -tanh_lo - 1, p[P_TANH_SHIFT], act, n)
        cnt[1] += rq32_rows(act, rq32_site(act_f, h_b, h_f, rnd, ovf), acc, R, valid, H)
    store_rows(acc, hp, h_out, n0, t, R, H)


@jit
def lstm_tile32(p, gi, gh, b_in, sig_table, tanh_table, hp, c, h_out, c_out, cnt, n0, valid, t, sc, v64):
    """``lstm_tile_lut`` with the gates and h in int32 (arguments as ``gru_tile32``); the cell
    update f * c + i * g and c itself stay int64 (c is usually wider: ``v64`` int64 scratch)."""
    rnd, ovf, acc_frac, s_in, s_rec = p[P_ROUND], p[P_OVF], p[P_ACC_FRAC], p[P_SHIFT_IN], p[P_SHIFT_REC]
    pre_b, pre_f, act_f, h_b, h_f = p[P_PRE_BITS], p[P_PRE_FRAC], p[P_ACT_FRAC], p[P_H_BITS], p[P_H_FRAC]
    c_b, c_f = p[P_C_BITS], p[P_C_FRAC]
    sig_sh, tanh_sh = p[P_SIG_SHIFT], p[P_TANH_SHIFT]
    sig_lo = -(np.int64(1) << (p[P_SIG_R] + pre_f))
    tanh_lo = -(np.int64(1) << (p[P_TANH_R] + pre_f))
    align = act_f + max(c_f, act_f)
    sh_fc = align - act_f - c_f
    sh_ig = align - 2 * act_f
    s_pre = rq32_site(acc_frac, pre_b, pre_f, rnd, ovf)
    H = p[P_HIDDEN]
    R = gi.shape[0]
    n = R * H
    acc, pre, ig, fg, gg, og, tc = sc[0], sc[1], sc[2], sc[3], sc[4], sc[5], sc[6]
    for g in range(4):
        acc32_2rows(b_in, gi, gh, g * H, s_in, s_rec, acc, R, H)
        cnt[g] += rq32_rows(acc, s_pre, pre, R, valid, H)
        if g == 2:
            lut32_pass(tanh_table, pre, tanh_lo, -tanh_lo - 1, tanh_sh, gg, n)
        else:
            lut32_pass(sig_table, pre, sig_lo, -sig_lo - 1, sig_sh, ig if g == 0 else fg if g == 1 else og, n)
    for j in range(n):
        v64[j] = ((np.int64(fg[j]) * c[j]) << sh_fc) + (np.int64(mul32(ig[j], gg[j])) << sh_ig)
    cnt[4] += rqv_rows(v64, rqv_site(align, c_b, c_f, rnd, ovf), c, R, valid, H)
    for i in range(R):
        cr, cor = c[i * H :], c_out[n0 + i, t]
        for j in range(H):
            cor[j] = cr[j]
    cnt[5] += rqv_rows(c, rqv_site(c_f, pre_b, pre_f, rnd, ovf), pre, R, valid, H)  # int64 -> int32 pre
    lut32_pass(tanh_table, pre, tanh_lo, -tanh_lo - 1, tanh_sh, tc, n)
    for j in range(n):
        acc[j] = mul32(og[j], tc[j])
    cnt[6] += rq32_rows(acc, rq32_site(2 * act_f, h_b, h_f, rnd, ovf), pre, R, valid, H)
    store_rows(pre, hp, h_out, n0, t, R, H)


@jit
def lstm_step(p, gi, gh, b_in, sig_table, tanh_table, h, c, h_out, c_out, gates, cnt, t):
    """LSTM: i, f, g, o leave their accumulators; c', tanh(c'), h' as docs/datapath.md."""
    rnd, ovf, acc_frac, s_in, s_rec = p[P_ROUND], p[P_OVF], p[P_ACC_FRAC], p[P_SHIFT_IN], p[P_SHIFT_REC]
    pre_b, pre_f, act_f, h_b, h_f = p[P_PRE_BITS], p[P_PRE_FRAC], p[P_ACT_FRAC], p[P_H_BITS], p[P_H_FRAC]
    c_b, c_f = p[P_C_BITS], p[P_C_FRAC]
    use_lut, sig_r, sig_sh, tanh_r, tanh_sh = p[P_ACT] == 0, p[P_SIG_R], p[P_SIG_SHIFT], p[P_TANH_R], p[P_TANH_SHIFT]
    record = p[P_RECORD] == 1
    align = act_f + max(c_f, act_f)  # f * c and i * g meet at this many fraction bits
    sh_fc = align - act_f - c_f
    sh_ig = align - 2 * act_f
    s_pre = rq_site(acc_frac, pre_b, pre_f, rnd, ovf)
    s_c = rq_site(align, c_b, c_f, rnd, ovf)
    s_pc = rq_site(c_f, pre_b, pre_f, rnd, ovf)
    s_h_lstm = rq_site(2 * act_f, h_b, h_f, rnd, ovf)
    H = h.shape[0]
    n0 = np.int64(0)
    n1 = np.int64(0)
    n2 = np.int64(0)
    n3 = np.int64(0)
    n4 = np.int64(0)
    n5 = np.int64(0)
    n6 = np.int64(0)
    for j in range(H):
        jf = H + j
        jg = 2 * H + j
        jo = 3 * H + j
        pi, o0 = rq(b_in[j] + (gi[j] << s_in) + (gh[j] << s_rec), s_pre)
        pf, o1 = rq(b_in[jf] + (gi[jf] << s_in) + (gh[jf] << s_rec), s_pre)
        pg, o2 = rq(b_in[jg] + (gi[jg] << s_in) + (gh[jg] << s_rec), s_pre)
        po, o3 = rq(b_in[jo] + (gi[jo] << s_in) + (gh[jo] << s_rec), s_pre)
        if use_lut:
            ig = sig_table[lut_index(pi, sig_r, pre_f, sig_sh)]
            fg = sig_table[lut_index(pf, sig_r, pre_f, sig_sh)]
            gg = tanh_table[lut_index(pg, tanh_r, pre_f, tanh_sh)]
            og = sig_table[lut_index(po, sig_r, pre_f, sig_sh)]
        else:
            ig = sigmoid_pwl(pi, pre_f, act_f)
            fg = sigmoid_pwl(pf, pre_f, act_f)
            gg = tanh_pwl(pg, pre_f, act_f)
            og = sigmoid_pwl(po, pre_f, act_f)
        cn, o4 = rq(((fg * c[j]) << sh_fc) + ((ig * gg) << sh_ig), s_c)
        pc, o5 = rq(cn, s_pc)
        tc = tanh_table[lut_index(pc, tanh_r, pre_f, tanh_sh)] if use_lut else tanh_pwl(pc, pre_f, act_f)
        hn, o6 = rq(og * tc, s_h_lstm)
        n0 += o0
        n1 += o1
        n2 += o2
        n3 += o3
        n4 += o4
        n5 += o5
        n6 += o6
        c[j] = cn
        c_out[t, j] = cn
        h[j] = hn
        h_out[t, j] = hn
        if record:
            gates[0, t, j] = ig
            gates[1, t, j] = fg
            gates[2, t, j] = gg
            gates[3, t, j] = og
    cnt[0] += n0
    cnt[1] += n1
    cnt[2] += n2
    cnt[3] += n3
    cnt[4] += n4
    cnt[5] += n5
    cnt[6] += n6


# ---- one layer over every sequence ---------------------------------------------------------------
@jit_parallel
def layer_kernel(u, w_in, w_rec, b_in, b_rec, p, sig_table, tanh_table, h_out, c_out, gates, counts, acc_proto):
    """Run one recurrent layer over all sequences and steps.

    u (N, T, n_in) layer input (operand dtype); w_in (G*H, n_in), w_rec (G*H, H) multipliers in
    PyTorch's gate-block order; b_in, b_rec (G*H,) int64 biases in accumulator
    format (b_in enters the accumulations that read the input, b_rec those that read only h: GRU's
    n_h). Writes h_out (N, T, H) (operand dtype), c_out (N, T, H) int64 (LSTM), gates (G, N, T, H)
    int64 when p[P_RECORD] (else a (G, 1, 1, 1) dummy), and adds out-of-range counts to counts
    (N, nodes). acc_proto's dtype is the dot products' (int32 on the narrow path, else int64).
    """
    n_seq, n_steps, _ = u.shape
    rows = w_rec.shape[0]
    H = p[P_HIDDEN]
    cell = p[P_CELL]
    narrow = p[P_NARROW] == 1
    record = p[P_RECORD] == 1
    fast_gru = cell == 2 and p[P_ACT] == 0 and not record
    for n in prange(n_seq):
        gi = np.empty((n_steps, rows), dtype=acc_proto.dtype)
        for t in range(n_steps):  # the input projection does not depend on h: all steps first
            matvec(w_in, u[n, t], gi[t], narrow)
        gh = np.empty(rows, dtype=acc_proto.dtype)
        sc = np.empty((4, 4 * H), dtype=np.int64)
        h = np.zeros(H, dtype=h_out.dtype)
        c = np.zeros(H, dtype=np.int64)
        g_n = gates[:, n] if record else gates[:, 0]
        c_n = c_out[n] if cell == 3 else c_out[0]
        for t in range(n_steps):
            matvec(w_rec, h, gh, narrow)
            if fast_gru:
                gru_step_lut(p, gi[t], gh, b_in, b_rec, sig_table, tanh_table, h, h_out[n], counts[n], t, sc)
            elif cell <= 1:
                rnn_step(p, gi[t], gh, b_in, tanh_table, h, h_out[n], g_n, counts[n], t)
            elif cell == 2:
                gru_step(p, gi[t], gh, b_in, b_rec, sig_table, tanh_table, h, h_out[n], g_n, counts[n], t)
            else:
                lstm_step(p, gi[t], gh, b_in, sig_table, tanh_table, h, c, h_out[n], c_n, g_n, counts[n], t)


@jit_parallel
def layer_kernel_gemm(dot, u, wp_in, wp_rec, b_in, b_rec, p, sig_table, tanh_table, tile, n_valid, h_out, c_out, gates, counts):
    """``layer_kernel`` on the int16 path, batch-major: a step is one GEMM per tile of sequences.

    The sequences are cut into tiles of ``tile`` rows (a multiple of MR; the wrapper pads the
    batch to a multiple of ``tile`` with zero sequences, whose results it drops); tiles run in
    parallel. Per step a tile computes (tile x K_in) @ W_in and (tile x H) @ W_rec with
    ``gemm_i16`` and then the pointwise update of each of its sequences. u is (N, T, K_in / 2)
    int32 (int16 pairs, K_in even: the wrapper pads a zero column); wp_in, wp_rec are packed by
    ``hwsim.sim._sim._pack_pairs`` with ``n_cols`` (G*H rounded up to NB) columns; the first n_valid
    sequences are real (a GRU tile counts into its first row). Other arguments as
    ``layer_kernel``; h_out is int16.
    """
    n_seq, n_steps, _ = u.shape
    H = p[P_HIDDEN]
    n_cols = wp_rec.shape[0] // ((H + 1) // 2)
    cell = p[P_CELL]
    record = p[P_RECORD] == 1
    # the tile passes that vectorize: LUT unit (ReLU RNN: any unit), gates not recorded
    fast = not record and (p[P_ACT] == 0 or cell == 1)
    i32 = fast and p[P_I32] == 1
    b_in32, b_rec32 = b_in.astype(np.int32), b_rec.astype(np.int32)  # used only when i32 (values proved to fit)
    for k in prange(n_seq // tile):
        n0 = k * tile
        gi = np.empty((tile, n_cols), dtype=np.int32)
        gh = np.empty((tile, n_cols), dtype=np.int32)
        hp = np.zeros((tile, 1, 2 * ((H + 1) // 2)), dtype=np.int16)  # h of the tile, even width
        h32 = hp.view(np.int32)
        c = np.zeros((tile, H), dtype=np.int64)
        sc = np.empty((8, tile * H) if fast and not i32 else (1, 1), dtype=np.int64)
        sc32 = np.empty((8, tile * H) if i32 else (1, 1), dtype=np.int32)
        v64 = np.empty(tile * H if i32 and cell == 3 else 1, dtype=np.int64)
        valid = min(tile, n_valid - n0)  # the rest of the tile is padding: not counted
        for t in range(n_steps):
            gemm(dot, u, t, n0, tile, wp_in, n_cols, gi)
            gemm(dot, h32, 0, 0, tile, wp_rec, n_cols, gh)
            cnt = counts[n0]  # a tile's passes count into its first row
            if i32 and cell <= 1:
                rnn_tile32(p, gi, gh, b_in32, tanh_table, hp, h_out, cnt, n0, valid, t, sc32)
            elif i32 and cell == 2:
                gru_tile32(p, gi, gh, b_in32, b_rec32, sig_table, tanh_table, hp, h_out, cnt, n0, valid, t, sc32)
            elif i32:
                lstm_tile32(p, gi, gh, b_in32, sig_table, tanh_table, hp, c.reshape(-1), h_out, c_out, cnt, n0, valid, t, sc32, v64)
            elif fast and cell <= 1:
                rnn_tile_lut(p, gi, gh, b_in, tanh_table, hp, h_out, cnt, n0, valid, t, sc)
            elif fast and cell == 2:
                gru_tile_lut(p, gi, gh, b_in, b_rec, sig_table, tanh_table, hp, h_out, cnt, n0, valid, t, sc)
            elif fast:
                lstm_tile_lut(p, gi, gh, b_in, sig_table, tanh_table, hp, c.reshape(-1), h_out, c_out, cnt, n0, valid, t, sc)
            else:
                for i in range(tile):
                    n = n0 + i
                    h = hp[i, 0, :H]
                    g_n = gates[:, n] if record else gates[:, 0]
                    c_n = c_out[n] if cell == 3 else c_out[0]
                    if cell <= 1:
                        rnn_step(p, gi[i], gh[i], b_in, tanh_table, h, h_out[n], g_n, counts[n], t)
                    elif cell == 2:
                        gru_step(p, gi[i], gh[i], b_in, b_rec, sig_table, tanh_table, h, h_out[n], g_n, counts[n], t)
                    else:
                        lstm_step(p, gi[i], gh[i], b_in, sig_table, tanh_table, h, c[i], h_out[n], c_n, g_n, counts[n], t)


@jit
def int16_operands(x, lo, hi, out):
    """out[n, t, :K] = x[n, t] as int16 where every value lies in [lo, hi]: one pass that checks the
    input format's range and converts (``out`` (>= N, T, >= K) int16, its padding already zero).
    Returns the number of values outside [lo, hi] (the caller raises)."""
    n_seq, n_steps, k = x.shape
    bad = np.int64(0)
    for n in range(n_seq):
        for t in range(n_steps):
            xr, orow = x[n, t], out[n, t]
            for j in range(k):
                v = np.int64(xr[j])
                bad += np.int64(v < lo) | np.int64(v > hi)
                orow[j] = min(max(v, lo), hi)  # = v when in range; clamped, never wrapped
    return bad


@jit_parallel
def head_kernel(h_seq, w, bias, q, y_out, counts):
    """Head on steps q[Q_T0].. of h_seq (N, T, H): y_out (N, T - t0, C) int64, counts (N, 1)."""
    n_seq, n_steps, _ = h_seq.shape
    classes = w.shape[0]
    t0 = q[Q_T0]
    narrow = q[Q_NARROW] == 1
    shift = q[Q_SHIFT]
    site = rq_site(q[Q_ACC_FRAC], q[Q_OUT_BITS], q[Q_OUT_FRAC], q[Q_ROUND], q[Q_OVF])
    for n in prange(n_seq):
        acc = np.empty(classes, dtype=np.int64)
        for t in range(t0, n_steps):
            matvec(w, h_seq[n, t], acc, narrow)
            for j in range(classes):
                y, o = rq(bias[j] + (acc[j] << shift), site)
                y_out[n, t - t0, j] = y
                counts[n, 0] += o
