"""Bit-accurate simulation of the shift-add datapath (docs/datapath.md).

``simulate`` runs a lowered ``Plan`` on integer inputs; ``run_fixed`` is the float-in, float-out
convenience that lowers a quantized model, quantizes the inputs (node ``x``), simulates and
dequantizes. The arithmetic lives in the Numba kernels of ``hwsim.sim._kernels``; this module only
validates, packs the plan into kernel arrays and names the results.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numba
import numpy as np

from . import _kernels as K
from . import _simd
from ..datapath._activation import lut_index_shift
from ..datapath._config import ACTIVATION_CODE, OVERFLOW_CODE, ROUNDING_CODE, DatapathConfig
from ..datapath._fixed import quantize_float, to_float
from ..model._model import RNNModel
from ..datapath._plan import ACCUMS, Plan, lower
from ._lengths import check_lengths, run_by_length
from ._reference import GATE_NAMES
from .._repr import short_repr

_CELL_CODE = {"rnn_tanh": 0, "rnn_relu": 1, "gru": 2, "lstm": 3}
_INT16_MAX = (1 << 15) - 1
_INT32_MAX = (1 << 31) - 1
#: Input dtypes that ``K.int16_operands`` reads exactly as int64 (not uint64: Numba would compare
#: it with int64 bounds in float64).
_NUMBA_INTS = tuple(np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32))


@dataclass(frozen=True, eq=False)
class SimResult:
    """Integer results of ``simulate`` for N sequences of T steps.

    Attributes
    ----------
    h_int, c_int
        Last layer's hidden state (``cfg.h`` integers) and LSTM cell state (``cfg.c``), (N, T, H);
        ``c_int`` is None unless LSTM.
    h_layers_int, c_layers_int
        The same for every layer, first to last (``c_layers_int`` None unless LSTM).
    y_int
        Head output (``cfg.out`` integers): (N, C) at the last step, (N, T, C) with
        ``head_all_steps``; None without a head.
    saturations
        Node name -> number of values that left their format's range (saturated or wrapped); every
        node of the datapath is present, in datapath order (``node_names``).
    gates_int
        With ``record_gates``: per layer a dict gate name -> (N, T, H) activated gate values in
        ``cfg.act`` integers (ReLU RNN: the ReLU output in ``cfg.pre`` integers); else None.
    """

    __repr__ = short_repr

    h_int: np.ndarray
    c_int: np.ndarray | None
    h_layers_int: tuple[np.ndarray, ...]
    c_layers_int: tuple[np.ndarray, ...] | None
    y_int: np.ndarray | None
    saturations: dict[str, int]
    gates_int: tuple[dict[str, np.ndarray], ...] | None = None


@dataclass(frozen=True, eq=False)
class FixedResult:
    """``run_fixed``'s results: dequantized floats, the integers they came from, and the plan."""

    __repr__ = short_repr

    h: np.ndarray
    c: np.ndarray | None
    y: np.ndarray | None
    h_int: np.ndarray
    c_int: np.ndarray | None
    y_int: np.ndarray | None
    saturations: dict[str, int]
    plan: Plan
    sim: SimResult
    gates: tuple[dict[str, np.ndarray], ...] | None = None


def layer_nodes(cell: str, k: int) -> list[str]:
    """Saturation-count node names of layer ``k``, in the order the kernel counts them."""
    names = [f"l{k}.pre_{a[0]}" for a in ACCUMS[cell]]
    extra = {"gru": ["pre_n"], "lstm": ["c", "pre_c"]}.get(cell, [])
    return names + [f"l{k}.{e}" for e in extra] + [f"l{k}.h"]


def node_names(plan: Plan) -> list[str]:
    """Every requantization node of ``plan`` in datapath order: x, each layer's nodes, out."""
    names = ["x"]
    for lp in plan.layers:
        names += layer_nodes(plan.cell, lp.index)
    if plan.head is not None:
        names.append("out")
    return names


def _dot_bound(m: np.ndarray, in_bits: int) -> int:
    """Largest |sum_c m[j, c] * v[c]| over rows j and all v of an ``in_bits``-wide format."""
    if m.size == 0:
        return 0
    return int(np.abs(m).sum(axis=1).max()) << (in_bits - 1)


def narrow_ok(plan: Plan) -> bool:
    """True when int16 operands and int32 dot products are exact for every product of ``plan``."""
    cfg = plan.config
    if cfg.x.bits > 16 or any(plan.layer_config(k).h.bits > 16 for k in range(len(plan.layers))):
        return False
    mats = []
    for lp in plan.layers:
        for a in lp.accums:
            mats.append((a.m[:, : a.n_in], lp.in_fmt.bits))
            mats.append((a.m[:, a.n_in :], plan.layer_config(lp.index).h.bits))
    if plan.head is not None:
        mats.append((plan.head.m, plan.head_config().h.bits))
    for m, bits in mats:
        if m.size and int(np.abs(m).max()) > _INT16_MAX:
            return False
        if _dot_bound(m, bits) > _INT32_MAX:
            return False
    return True


def int32_ok(plan: Plan, k: int, tables: tuple[np.ndarray, np.ndarray]) -> bool:
    """True when the int16 path's pointwise passes of layer ``k`` may run in int32 (``K.gru_tile32``
    ...): every accumulator, product, rounding sum and wrap difference of the layer is bounded
    below 2**31 and every shift below 31, so int32 arithmetic never wraps and equals int64's.

    Bounds: the dot products by ``_dot_bound`` (every operand of its format), the biases by their
    largest magnitude, formats by their ranges, activations by the tables' largest entry.
    """
    top = (1 << 31) - 1
    cfg = plan.layer_config(k)
    lp = plan.layers[k]
    cell = plan.cell
    in_bits = lp.in_fmt.bits
    b_in = max((int(np.abs(a.bias).max(initial=0)) for a in lp.accums), default=0)
    b_in_bits = max((_dot_bound(a.m[:, : a.n_in], in_bits) for a in lp.accums), default=0)
    b_rec_bits = max((_dot_bound(a.m[:, a.n_in :], cfg.h.bits) for a in lp.accums), default=0)
    pb, pf, af, hb, hf = cfg.pre.bits, cfg.pre.frac, cfg.act.frac, cfg.h.bits, cfg.h.frac
    P = 1 << (pb - 1)
    A = P if cell == "rnn_relu" else max(int(np.abs(t).max(initial=0)) for t in tables)
    shifts = [lp.shift_in, lp.shift_rec]
    sites = []  # (largest |value| in, from_frac, to format)

    def site(bound, from_frac, fmt):
        sites.append((bound, from_frac, fmt))

    site(b_in + (b_in_bits << lp.shift_in) + (b_rec_bits << lp.shift_rec), lp.acc_frac, cfg.pre)
    if cell == "gru":
        align = af + max(af, hf)
        sh_n, sh_h = align - 2 * af, align - af - hf
        shifts += [af, sh_n, sh_h]
        site((P << af) + A * P, pf + af, cfg.pre)
        site((((1 << af) + A) * A << sh_n) + (A * (1 << (hb - 1)) << sh_h), align, cfg.h)
    elif cell == "lstm":
        site(A * A, 2 * af, cfg.h)
        shifts.append(max(cfg.c.frac, af) - af)  # sh_ig of the int64 cell update (A * A in int32 first)
    elif cell == "rnn_relu":
        site(P, pf, cfg.h)
    else:
        site(A, af, cfg.h)
    for bound, from_frac, fmt in sites:
        d = from_frac - fmt.frac
        ls, rs = max(-d, 0), max(d, 0)
        shifts += [ls, rs]
        if (bound << ls) + (1 << rs) + (1 << fmt.bits) > top or fmt.bits > 31:
            return False
    r_max = max(cfg.sigmoid_range_log2, cfg.tanh_range_log2) + pf
    return max(shifts) <= 30 and r_max <= 30 and A * A <= top


def _pack_layer(plan: Plan, k: int, dtype: np.dtype):
    """PyTorch-order (G*H, n_in) and (G*H, H) multipliers and the two bias vectors of layer k."""
    lp = plan.layers[k]
    H = plan.hidden_size
    acc = {a.name: a for a in lp.accums}
    n_in = lp.accums[0].n_in
    if plan.cell == "gru":
        w_in = np.concatenate([acc["r"].m[:, :n_in], acc["z"].m[:, :n_in], acc["n_x"].m])
        w_rec = np.concatenate([acc["r"].m[:, n_in:], acc["z"].m[:, n_in:], acc["n_h"].m])
        b_in = np.concatenate([acc["r"].bias, acc["z"].bias, acc["n_x"].bias])
        b_rec = np.concatenate([np.zeros(2 * H, np.int64), acc["n_h"].bias])
    else:
        w_in = np.concatenate([a.m[:, : a.n_in] for a in lp.accums])
        w_rec = np.concatenate([a.m[:, a.n_in :] for a in lp.accums])
        b_in = np.concatenate([a.bias for a in lp.accums])
        b_rec = np.zeros_like(b_in)
    return (
        np.ascontiguousarray(w_in, dtype=dtype),
        np.ascontiguousarray(w_rec, dtype=dtype),
        np.ascontiguousarray(b_in, dtype=np.int64),
        np.ascontiguousarray(b_rec, dtype=np.int64),
    )


#: The int16 GEMM's dot primitive: VNNI where the CPU has it, else the portable one. Tests set it to
#: each in turn (both give the same integers; only the instructions differ).
DOT_PATHS = {"vnni": _simd.dot_vnni, "portable": _simd.dot_portable}
dot_path = "vnni" if _simd.HAS_VNNI else "portable"


def _pack_pairs(w: np.ndarray, nb: int = K.NB) -> np.ndarray:
    """(rows, K) multipliers -> ``gemm_i16``'s packed weights: W = w.T as int16 pairs along K,
    (ceil(K/2), n_cols) int32 flattened, zero-padded to an even K and n_cols = rows rounded up to
    ``nb`` (the register block's columns)."""
    rows, k = w.shape
    n_cols = -(-max(rows, 1) // nb) * nb
    wt = np.zeros((k + (k & 1), n_cols), dtype=np.int16)
    wt[:k, :rows] = w.T
    pairs = wt.reshape(-1, 2, n_cols).transpose(0, 2, 1)  # [q, j, 0 | 1] = W[2q | 2q + 1, j]
    return np.ascontiguousarray(pairs).view(np.int32).reshape(-1)


def _int16_pairs(u: np.ndarray, n_rows: int) -> np.ndarray:
    """(N, T, K) int16 operands -> (n_rows, T, ceil(K/2)) int32 pairs, zero-padded rows and column."""
    n, t, k = u.shape
    if n == n_rows and k % 2 == 0 and u.dtype == np.int16 and u.flags.c_contiguous:
        return u.view(np.int32)
    out = np.zeros((n_rows, t, k + (k & 1)), dtype=np.int16)
    out[:n, :, :k] = u
    return out.view(np.int32)


def _tile_rows(n_seq: int) -> int:
    """Sequences per tile of the batch-major kernel: a multiple of MR, at most 32, and at least
    as many tiles as Numba threads while the batch allows."""
    per_thread = -(-max(n_seq, 1) // numba.get_num_threads())
    return min(32, -(-per_thread // K.MR) * K.MR)


def _layer_params(plan: Plan, k: int, narrow: bool, record: bool) -> np.ndarray:
    cfg = plan.layer_config(k)
    lp = plan.layers[k]
    p = np.zeros(K.N_PARAMS, dtype=np.int64)
    p[K.P_CELL] = _CELL_CODE[plan.cell]
    p[K.P_ROUND] = ROUNDING_CODE[cfg.rounding]
    p[K.P_OVF] = OVERFLOW_CODE[cfg.overflow]
    p[K.P_ACT] = ACTIVATION_CODE[cfg.activation]
    p[K.P_ACC_FRAC] = lp.acc_frac
    p[K.P_SHIFT_IN] = lp.shift_in
    p[K.P_SHIFT_REC] = lp.shift_rec
    p[K.P_PRE_BITS], p[K.P_PRE_FRAC] = cfg.pre.bits, cfg.pre.frac
    p[K.P_ACT_BITS], p[K.P_ACT_FRAC] = cfg.act.bits, cfg.act.frac
    p[K.P_H_BITS], p[K.P_H_FRAC] = cfg.h.bits, cfg.h.frac
    p[K.P_C_BITS], p[K.P_C_FRAC] = cfg.c.bits, cfg.c.frac
    p[K.P_SIG_R], p[K.P_TANH_R] = cfg.sigmoid_range_log2, cfg.tanh_range_log2
    # The LUT shift only matters (and is only guaranteed >= 0) for the LUT unit.
    p[K.P_SIG_SHIFT] = max(lut_index_shift("sigmoid", cfg), 0)
    p[K.P_TANH_SHIFT] = max(lut_index_shift("tanh", cfg), 0)
    p[K.P_NARROW] = int(narrow)
    p[K.P_RECORD] = int(record)
    p[K.P_HIDDEN] = plan.hidden_size
    p[K.P_I32] = int(narrow and not record and int32_ok(plan, k, plan.layer_tables(k)))
    return p


def _head_params(plan: Plan, narrow: bool, t0: int) -> np.ndarray:
    cfg = plan.head_config()
    q = np.zeros(K.N_HEAD_PARAMS, dtype=np.int64)
    q[K.Q_ROUND] = ROUNDING_CODE[cfg.rounding]
    q[K.Q_OVF] = OVERFLOW_CODE[cfg.overflow]
    q[K.Q_ACC_FRAC] = plan.head.acc_frac
    q[K.Q_SHIFT] = plan.head.shift
    q[K.Q_OUT_BITS], q[K.Q_OUT_FRAC] = cfg.out.bits, cfg.out.frac
    q[K.Q_NARROW] = int(narrow)
    q[K.Q_T0] = t0
    return q


def fold_row_shifts(plan: Plan) -> Plan:
    """The plan with its per-row shifts folded into the multipliers, biases and accumulator fractions.

    Row ``j`` of an accumulation with row shift ``e_j`` holds ``acc_j * 2**-(acc_frac + e_j)``
    (docs/datapath.md, "Per-row scales"). With ``E`` the largest shift of the layer, the same real
    value is ``(acc_j << (E - e_j)) * 2**-(acc_frac + E)``: every row's multipliers and bias shifted
    left by ``E - e_j`` and one accumulator fraction ``acc_frac + E`` for all of them. The kernels
    then run unchanged; the requantization rounds the same real value, so the integers are the same
    as a requantization from ``acc_frac + e_j`` (tests/naive.py does it that way).
    """
    if not plan.row_scaled:
        return plan

    def fold(items, acc_frac):
        top = max(int(a.shifts().max()) for a in items)
        out = [dataclasses.replace(a, m=a.m << (top - a.shifts())[:, None], bias=a.bias << (top - a.shifts()),
                                   row_shift=None) for a in items]
        return out, acc_frac + top

    layers = []
    for lp in plan.layers:
        accums, acc_frac = fold(lp.accums, lp.acc_frac)
        layers.append(dataclasses.replace(lp, accums=tuple(accums), acc_frac=acc_frac))
    head = plan.head
    if head is not None and head.row_shift is not None:
        (head,), acc_frac = fold([head], head.acc_frac)
        head = dataclasses.replace(head, acc_frac=acc_frac)
    return dataclasses.replace(plan, layers=tuple(layers), head=head)


def simulate(plan: Plan, x_int: np.ndarray, *, record_gates: bool = False, head_all_steps: bool = False,
             lengths: np.ndarray | None = None) -> SimResult:
    """Run the integer datapath of ``plan`` on ``x_int`` (N, T, I), integers of ``cfg.x``.

    Parameters
    ----------
    plan
        From ``hwsim.datapath._plan.lower(model, cfg)``.
    x_int
        Integer inputs already in the ``x`` format; values outside its range are refused (they
        cannot come out of the input node).
    record_gates
        Also return every activated gate value (memory: L * G * N * T * H int64).
    head_all_steps
        Apply the head at every step (next-symbol tasks): ``y_int`` is (N, T, C) instead of the
        last step's (N, C).
    lengths
        Steps of each sequence, (N,) integers in [1, T]; None: all T. A sequence stops at its last
        step, as the RTL does at tlast: the padding is neither computed nor counted, later steps of
        every result repeat the last one, and the head reads it (docs/datapath.md).
    """
    if not isinstance(plan, Plan):
        raise TypeError(f"plan must be a Plan (from hwsim.lower), not {type(plan).__name__}")
    plan = fold_row_shifts(plan)
    cfg = plan.config
    x_int = np.asarray(x_int)
    if x_int.dtype.kind not in "iu":
        raise TypeError(f"x_int must be an integer array, not dtype {x_int.dtype}")
    if x_int.ndim != 3 or x_int.shape[2] != plan.input_size:
        raise ValueError(f"x_int must have shape (N, T, {plan.input_size}), not {x_int.shape}")
    n_seq, n_steps, n_in = x_int.shape
    H = plan.hidden_size
    narrow = narrow_ok(plan)
    op = np.dtype(np.int16 if narrow else np.int64)
    tile = _tile_rows(n_seq)
    n_rows = -(-n_seq // tile) * tile if narrow else n_seq  # the batch-major kernel's padded batch
    # the range check and the int16 operand pairs in one pass; with lengths the batch may be split
    # into groups that convert their own part, so only the check runs here
    if narrow and x_int.dtype in _NUMBA_INTS and lengths is None:
        u = np.zeros((n_rows, n_steps, n_in + (n_in & 1)), dtype=np.int16)
        in_range = K.int16_operands(x_int, cfg.x.min_int, cfg.x.max_int, u) == 0
    else:
        u = None
        in_range = not x_int.size or cfg.x.min_int <= x_int.min() and x_int.max() <= cfg.x.max_int
    if not in_range:
        raise ValueError(
            f"x_int must lie in the x format {cfg.x} range [{cfg.x.min_int}, {cfg.x.max_int}], "
            f"not [{int(x_int.min())}, {int(x_int.max())}]"
        )
    lengths = check_lengths(lengths, n_seq, n_steps)
    if lengths is not None and np.any(lengths < n_steps):
        return run_by_length(
            lambda idx, xs: simulate(plan, xs, record_gates=record_gates, head_all_steps=head_all_steps), x_int, lengths
        )
    lstm = plan.cell == "lstm"
    names = GATE_NAMES[plan.cell]
    sat = {"x": 0}

    acc_proto = np.empty(0, dtype=np.int32 if narrow else np.int64)  # dtype of the dot products
    if u is None:
        u = np.ascontiguousarray(x_int, dtype=op)
    h_layers, c_layers, gate_layers = [], [], []
    for k, lp in enumerate(plan.layers):
        w_in, w_rec, b_in, b_rec = _pack_layer(plan, k, op)
        # Operands of the next layer (and the head): a sequence's rows are written a step apart, so
        # the narrow int16 rows are much cheaper than int64 ones (measured: int64 rows cost 1.1 ms
        # more on the RNN benchmark than the sequential int64 copy below, 0.3 ms).
        h_out = np.empty((n_rows, n_steps, H), dtype=op)
        c_out = np.empty((n_rows, n_steps, H) if lstm else (1, 1, H), dtype=np.int64)
        gshape = (len(names), n_rows, n_steps, H) if record_gates else (len(names), 1, 1, H)
        gates = np.empty(gshape, dtype=np.int64)
        nodes = layer_nodes(plan.cell, k)
        counts = np.zeros((n_rows, len(nodes)), dtype=np.int64)
        p = _layer_params(plan, k, narrow, record_gates)
        # act words are at most 24 bits: int32 tables, which the kernels read 16 at a time (vpgatherdd)
        sig_table, tanh_table = (np.ascontiguousarray(tb, dtype=np.int32) for tb in plan.layer_tables(k))
        if narrow:
            K.layer_kernel_gemm(
                DOT_PATHS[dot_path], _int16_pairs(u, n_rows), _pack_pairs(w_in), _pack_pairs(w_rec), b_in, b_rec,
                p, sig_table, tanh_table, tile, n_seq, h_out, c_out, gates, counts,
            )  # fmt: skip
        else:
            K.layer_kernel(
                u, w_in, w_rec, b_in, b_rec, p, sig_table, tanh_table, h_out, c_out, gates, counts,
                acc_proto,
            )  # fmt: skip
        sat.update(zip(nodes, (int(v) for v in counts[:n_seq].sum(axis=0))))
        h_layers.append(h_out[:n_seq].astype(np.int64))
        if lstm:
            c_layers.append(c_out[:n_seq])
        if record_gates:
            gate_layers.append({g: gates[i, :n_seq] for i, g in enumerate(names)})
        u = h_out
    u = u[:n_seq]

    y = None
    if plan.head is not None:
        w = np.ascontiguousarray(plan.head.m, dtype=op)
        if head_all_steps:  # every step (none when T = 0)
            h_src, t0 = u, 0
        else:  # the last step; with no steps the head reads the zero initial state
            h_src = u if n_steps else np.zeros((n_seq, 1, H), dtype=op)
            t0 = h_src.shape[1] - 1
        y_out = np.empty((n_seq, h_src.shape[1] - t0, w.shape[0]), dtype=np.int64)
        counts = np.zeros((n_seq, 1), dtype=np.int64)
        K.head_kernel(h_src, w, plan.head.bias, _head_params(plan, narrow, t0), y_out, counts)
        sat["out"] = int(counts.sum())
        y = y_out if head_all_steps else y_out[:, 0]
    return SimResult(
        h_int=h_layers[-1],
        c_int=c_layers[-1] if lstm else None,
        h_layers_int=tuple(h_layers),
        c_layers_int=tuple(c_layers) if lstm else None,
        y_int=y,
        saturations=sat,
        gates_int=tuple(gate_layers) if record_gates else None,
    )


def gate_frac(plan: Plan, k: int = -1) -> int:
    """Fraction bits of layer ``k``'s recorded gates: act.frac (pre.frac for the ReLU RNN's 'a')."""
    lc = plan.layer_config(k % len(plan.layers))
    return lc.pre.frac if plan.cell == "rnn_relu" else lc.act.frac


def run_fixed(
    model: RNNModel,
    x: np.ndarray,
    config: DatapathConfig | None = None,
    *,
    record_gates: bool = False,
    head_all_steps: bool = False,
    plan: Plan | None = None,
    lengths: np.ndarray | None = None,
) -> FixedResult:
    """Lower ``model``, quantize the float inputs ``x`` (N, T, I) into node ``x``, simulate, dequantize.

    ``plan`` may be passed to skip lowering when it was made from the same model and config.
    ``lengths`` (N,) gives each sequence's steps (``simulate``); its padding may hold anything
    finite or not: it is never quantized, computed or counted.
    """
    cfg = config if config is not None else DatapathConfig()
    if not isinstance(cfg, DatapathConfig):
        raise TypeError(f"config must be a DatapathConfig, not {type(cfg).__name__}")
    if plan is None:
        plan = lower(model, cfg)
    x = np.asarray(x)
    if x.dtype.kind not in "fiu" or x.dtype.kind == "b":
        raise TypeError(f"x must be a real numeric array, not dtype {x.dtype}")
    if x.ndim != 3 or x.shape[2] != plan.input_size:
        raise ValueError(f"x must have shape (N, T, {plan.input_size}), not {x.shape}")
    lengths = check_lengths(lengths, x.shape[0], x.shape[1])
    if lengths is not None:  # the padding is never sent: zero it, so that it is neither checked nor counted
        x = np.where((np.arange(x.shape[1]) < lengths[:, None])[:, :, None], x, 0)
    if not np.isfinite(x).all():
        raise ValueError(f"x must be finite, but {int((~np.isfinite(x)).sum())} values are NaN or inf")
    x_int, out = quantize_float(x, cfg.x, cfg.rounding, cfg.overflow)
    sim = simulate(plan, x_int, record_gates=record_gates, head_all_steps=head_all_steps, lengths=lengths)
    sim.saturations["x"] = int(out.sum())
    gates = None
    if record_gates:
        gates = tuple({g: to_float(v, gate_frac(plan, k)) for g, v in layer.items()} for k, layer in enumerate(sim.gates_int))
    last = plan.layer_config(len(plan.layers) - 1)
    return FixedResult(
        h=to_float(sim.h_int, last.h.frac),
        c=None if sim.c_int is None else to_float(sim.c_int, last.c.frac),
        y=None if sim.y_int is None else to_float(sim.y_int, plan.head_config().out.frac),
        h_int=sim.h_int,
        c_int=sim.c_int,
        y_int=sim.y_int,
        saturations=sim.saturations,
        plan=plan,
        sim=sim,
        gates=gates,
    )
