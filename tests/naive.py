"""The slow, obviously-correct twin of the simulator: plain Python ints, straight from docs/datapath.md.

It reads only the ``Plan`` (multipliers, shifts, biases, formats) and the LUT words that
``hwsim.datapath._activation.lut_table`` made (the exporter writes the same words to ROM); it shares no code
with ``hwsim.datapath._fixed`` or ``hwsim.sim._kernels``. Every product is written as the doc writes it,
``(m * v) << shift``, one at a time, and every requantization is spelled out.
"""

from __future__ import annotations

import numpy as np

GATES = {"rnn_tanh": ("a",), "rnn_relu": ("a",), "gru": ("r", "z", "n"), "lstm": ("i", "f", "g", "o")}


def shift_round(v: int, k: int, rounding: str) -> int:
    """v / 2**k rounded to an integer (k >= 0), Python ints (>> is floor for negatives too)."""
    if k == 0:
        return v
    if rounding == "floor":
        return v >> k
    if rounding == "half_up":
        return (v + (1 << (k - 1))) >> k
    if rounding == "half_even":
        q, rem = v >> k, v - ((v >> k) << k)
        half = 1 << (k - 1)
        return q + 1 if rem > half or (rem == half and q % 2 == 1) else q
    if rounding == "zero":
        return v >> k if v >= 0 else -((-v) >> k)
    raise ValueError(rounding)


def requant(v: int, from_frac: int, fmt, rounding: str, overflow: str) -> tuple[int, bool]:
    """(value in fmt, whether it left fmt's range)."""
    k = from_frac - fmt.frac
    q = v << -k if k < 0 else shift_round(v, k, rounding)
    lo, hi = -(1 << (fmt.bits - 1)), (1 << (fmt.bits - 1)) - 1
    if lo <= q <= hi:
        return q, False
    if overflow == "saturate":
        return (lo if q < lo else hi), True
    return (q - lo) % (1 << fmt.bits) + lo, True


def lut(x: int, table, r: int, cfg) -> int:
    R = 1 << (r + cfg.pre.frac)  # R in pre units
    xc = min(max(x, -R), R - 1)
    return int(table[(xc + R) >> (cfg.pre.frac + r + 1 - cfg.lut_bits)])


def _shr(a: int, k: int) -> int:
    return a >> k if k >= 0 else a << -k


def plan_y(a: int, cfg) -> int:
    """PLAN on a = |x| >= 0 in pre units, result in act units (docs/datapath.md table)."""
    fp, fa = cfg.pre.frac, cfg.act.frac
    one = 1 << fa
    if a >= 5 * (1 << fp):
        return one
    if 8 * a >= 19 * (1 << fp):  # a >= 2.375
        return _shr(a, fp + 5 - fa) + 27 * one // 32
    if a >= 1 << fp:
        return _shr(a, fp + 3 - fa) + 5 * one // 8
    return _shr(a, fp + 2 - fa) + one // 2


def _layer(plan, k: int):
    """Layer ``k``'s contract and tables, made from its own config (not the plan's table choice)."""
    from hwsim.datapath._activation import lut_table

    cfg = plan.config.layer_config(k)
    if cfg == plan.config:
        return cfg, plan.sigmoid_table, plan.tanh_table
    return cfg, lut_table("sigmoid", cfg), lut_table("tanh", cfg)


def sigmoid(x: int, plan, k: int = 0) -> int:
    cfg, table, _ = _layer(plan, k)
    if cfg.activation == "lut":
        return lut(x, table, cfg.sigmoid_range_log2, cfg)
    y = plan_y(abs(x), cfg)
    return (1 << cfg.act.frac) - y if x < 0 else y


def tanh(x: int, plan, k: int = 0) -> int:
    cfg, _, table = _layer(plan, k)
    if cfg.activation == "lut":
        return lut(x, table, cfg.tanh_range_log2, cfg)
    t = 2 * plan_y(2 * abs(x), cfg) - (1 << cfg.act.frac)
    return -t if x < 0 else t


def simulate(plan, x_int: np.ndarray, *, head_all_steps: bool = False) -> dict:
    """Run ``plan`` on integer inputs (N, T, I). Returns h_layers, c_layers, y, saturations, gates."""
    cfg = plan.config
    rnd, ovf = cfg.rounding, cfg.overflow
    af = cfg.act.frac
    ONE = 1 << af
    N, T, _ = x_int.shape
    H = plan.hidden_size
    L = len(plan.layers)
    sat: dict[str, int] = {"x": 0}
    for lp in plan.layers:
        for a in lp.accums:
            sat[f"l{lp.index}.pre_{a.name}"] = 0
        for extra in {"gru": ["pre_n"], "lstm": ["c", "pre_c"]}.get(plan.cell, []):
            sat[f"l{lp.index}.{extra}"] = 0
        sat[f"l{lp.index}.h"] = 0
    if plan.head is not None:
        sat["out"] = 0

    def rq(v, from_frac, fmt, node):
        q, out = requant(v, from_frac, fmt, rnd, ovf)
        sat[node] += out
        return q

    h_layers = [np.zeros((N, T, H), np.int64) for _ in range(L)]
    c_layers = [np.zeros((N, T, H), np.int64) for _ in range(L)]
    gates = [{g: np.zeros((N, T, H), np.int64) for g in GATES[plan.cell]} for _ in range(L)]
    for n in range(N):
        hs = [[0] * H for _ in range(L)]
        cs = [[0] * H for _ in range(L)]
        for t in range(T):
            u = [int(v) for v in x_int[n, t]]
            for lp in plan.layers:
                k = lp.index
                cfg = plan.config.layer_config(k)  # per-layer precision: this layer's own contract
                rnd, ovf = cfg.rounding, cfg.overflow
                af = cfg.act.frac
                ONE = 1 << af
                h, c = hs[k], cs[k]
                p = {}  # accumulation name -> list of pre-format values
                for a in lp.accums:
                    vals = []
                    e = a.shifts()  # per-row scales: row j requantizes from acc_frac + e[j]
                    for j in range(a.rows):
                        acc = int(a.bias[j])
                        for col in range(a.n_in):
                            acc += (int(a.m[j, col]) * u[col]) << lp.shift_in
                        for col in range(a.n_rec):
                            acc += (int(a.m[j, a.n_in + col]) * h[col]) << lp.shift_rec
                        vals.append(rq(acc, lp.acc_frac + int(e[j]), cfg.pre, f"l{k}.pre_{a.name}"))
                    p[a.name] = vals
                new_h = [0] * H
                for j in range(H):
                    if plan.cell == "rnn_tanh":
                        a = tanh(p["a"][j], plan, k)
                        new_h[j] = rq(a, af, cfg.h, f"l{k}.h")
                        g = {"a": a}
                    elif plan.cell == "rnn_relu":
                        a = max(p["a"][j], 0)
                        new_h[j] = rq(a, cfg.pre.frac, cfg.h, f"l{k}.h")
                        g = {"a": a}
                    elif plan.cell == "gru":
                        r = sigmoid(p["r"][j], plan, k)
                        z = sigmoid(p["z"][j], plan, k)
                        pn = rq((p["n_x"][j] << af) + r * p["n_h"][j], cfg.pre.frac + af, cfg.pre, f"l{k}.pre_n")
                        nn = tanh(pn, plan, k)
                        F = af + max(af, cfg.h.frac)
                        v = (((ONE - z) * nn) << (F - 2 * af)) + ((z * h[j]) << (F - af - cfg.h.frac))
                        new_h[j] = rq(v, F, cfg.h, f"l{k}.h")
                        g = {"r": r, "z": z, "n": nn}
                    else:
                        i, f = sigmoid(p["i"][j], plan, k), sigmoid(p["f"][j], plan, k)
                        gg, o = tanh(p["g"][j], plan, k), sigmoid(p["o"][j], plan, k)
                        F = af + max(cfg.c.frac, af)
                        v = ((f * c[j]) << (F - af - cfg.c.frac)) + ((i * gg) << (F - 2 * af))
                        c[j] = rq(v, F, cfg.c, f"l{k}.c")
                        pc = rq(c[j], cfg.c.frac, cfg.pre, f"l{k}.pre_c")
                        new_h[j] = rq(o * tanh(pc, plan, k), 2 * af, cfg.h, f"l{k}.h")
                        c_layers[k][n, t, j] = c[j]
                        g = {"i": i, "f": f, "g": gg, "o": o}
                    for name, val in g.items():
                        gates[k][name][n, t, j] = val
                h[:] = new_h
                h_layers[k][n, t] = h
                u = list(h)

    y = None
    hd = plan.head
    if hd is not None:
        hc = plan.config.head_config(L)
        rnd, ovf = hc.rounding, hc.overflow
        steps = range(T) if head_all_steps else [T - 1]
        y = np.zeros((N, len(steps) if T else (0 if head_all_steps else 1), hd.m.shape[0]), np.int64)
        for n in range(N):
            for ti, t in enumerate(steps if T else ([] if head_all_steps else [None])):
                hT = [0] * H if t is None else [int(v) for v in h_layers[-1][n, t]]
                for j in range(hd.m.shape[0]):
                    acc = int(hd.bias[j])
                    for col in range(H):
                        acc += (int(hd.m[j, col]) * hT[col]) << hd.shift
                    y[n, ti, j] = rq(acc, hd.acc_frac + int(hd.shifts()[j]), hc.out, "out")
        if not head_all_steps:
            y = y[:, 0]
    lstm = plan.cell == "lstm"
    return {
        "h_layers": h_layers,
        "c_layers": c_layers if lstm else None,
        "y": y,
        "saturations": sat,
        "gates": gates,
    }


# ---- random quantized models for the tests -------------------------------------------------------
METHOD_BITS = {"binary": (1,), "ternary": (2,), "exp": (2, 3, 4, 5, 6), "uniform": (2, 3, 4, 8, 12, 16)}


def random_quant_model(
    rng: np.random.Generator,
    cell: str,
    input_size: int,
    hidden: int,
    layers: int = 1,
    classes: int | None = 3,
    *,
    method: str = "exp",
    bits: int = 4,
    s_range: tuple[int, int] = (-6, 0),
    bias_bound: float = 1.0,
    bias: bool = True,
    row_span: int = 0,
):
    """A quantized RNNModel drawn directly on the code grid: every weight m * 2**s, m uniform over the
    codec's multipliers, s per tensor uniform in ``s_range``; biases uniform in +-``bias_bound``.
    ``row_span > 0`` gives every matrix per-row scales ``s + d_r``, ``d_r`` uniform in
    ``[-row_span, row_span]`` and shared by a layer's two matrices (hwsim.model._quant's per-row scales)."""
    from hwsim.model._codes import WeightCodec
    from hwsim.model._model import CELL_GATES, Head, Layer, QuantSpec, RNNModel

    codec = WeightCodec.for_method(method, bits)
    grid = codec.valid_m()
    G = CELL_GATES[cell]

    def w(shape, d=None):
        s = int(rng.integers(s_range[0], s_range[1] + 1))
        if d is None:
            return np.ldexp(rng.choice(grid, size=shape).astype(np.float64), s), s
        return np.ldexp(rng.choice(grid, size=shape).astype(np.float64), (s + d)[:, None]), tuple(int(v) for v in s + d)

    def offsets(rows):
        return rng.integers(-row_span, row_span + 1, size=rows) if row_span else None

    def b(n):
        return rng.uniform(-bias_bound, bias_bound, size=n) if bias else None

    stack, scales = [], {}
    for k in range(layers):
        d = offsets(G * hidden)
        w_ih, s_ih = w((G * hidden, input_size if k == 0 else hidden), d)
        w_hh, s_hh = w((G * hidden, hidden), d)
        scales[f"weight_ih_l{k}"], scales[f"weight_hh_l{k}"] = s_ih, s_hh
        stack.append(Layer(w_ih=w_ih, w_hh=w_hh, b_ih=b(G * hidden), b_hh=b(G * hidden)))
    head = None
    if classes is not None:
        hw, hs = w((classes, hidden), offsets(classes))
        scales["head.weight"] = hs
        head = Head(weight=hw, bias=b(classes))
    spec = QuantSpec(method=method, bits=bits, scales=scales)
    return RNNModel(cell=cell, layers=tuple(stack), head=head, quant=spec, prefix="", head_prefix="head.")


def examples(n: int) -> int:
    """``n`` hypothesis cases under the default profile (tests/conftest.py), proportionally
    fewer, at least 2, under the ``nojit`` profile."""
    from hypothesis import settings

    return max(2, n * settings.default.max_examples // 100)
