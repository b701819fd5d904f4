"""The vectorized kernel paths of hwsim/_kernels.py, exactly against the twin and the scalar code.

``simulate`` without ``record_gates`` sends layers with the LUT unit (and ReLU RNNs) through the
branch-free passes ``rnn_step_lut``, ``gru_step_lut`` and ``lstm_step_lut``; the twin tests of
test_sim.py record gates and so take the scalar steps. Here the unrecorded runs meet the twin, on
the int16 path once with each dot primitive of the batch-major GEMM (``hwsim.sim._simd``: VNNI where
the CPU has it, and the portable fallback everywhere); the primitives and ``gemm_i16`` meet their
definitions, and the branch-free requantizer ``rqv_pass`` meets ``rq`` in every mode.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from numpy.testing import assert_array_equal

import naive
from hwsim.sim import _kernels as K
from hwsim.sim import _sim
from hwsim.sim import _simd as S
from hwsim.sim._sim import _pack_pairs, simulate
from test_sim import cases  # the twin tests' random contracts, models and inputs


def assert_same_unrecorded(plan, x_int, head_all_steps):
    sim = simulate(plan, x_int, head_all_steps=head_all_steps)
    ref = naive.simulate(plan, x_int, head_all_steps=head_all_steps)
    for k in range(len(plan.layers)):
        assert_array_equal(sim.h_layers_int[k], ref["h_layers"][k], err_msg=f"h of layer {k}")
        if plan.cell == "lstm":
            assert_array_equal(sim.c_layers_int[k], ref["c_layers"][k], err_msg=f"c of layer {k}")
    if plan.head is not None:
        assert_array_equal(sim.y_int, ref["y"], err_msg="head")
    assert sim.saturations == ref["saturations"]


@settings(max_examples=naive.examples(1500))
@given(cases())
def test_unrecorded_kernel_equals_twin(case):
    assert_same_unrecorded(*case)


#: The dot primitives this CPU can run: the portable one always, VNNI where the CPU has it.
DOT_PATHS = ["portable"] + (["vnni"] if S.HAS_VNNI else [])


@pytest.mark.parametrize("dot_path", DOT_PATHS)
@settings(max_examples=naive.examples(1000))
@given(case=cases(narrow=True, max_steps=12))
def test_unrecorded_kernel_equals_twin_int16_path(dot_path, case):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_sim, "dot_path", dot_path)
        assert_same_unrecorded(*case)


def _int32_pairs(rng, shape):
    """int32 words whose int16 halves include the extremes (-32768 * -32768 pairs wrap int32)."""
    h = rng.integers(-(1 << 15), 1 << 15, size=shape + (2,)).astype(np.int16)
    h.reshape(-1)[:4] = -(1 << 15)
    return h.view(np.int32)[..., 0]


@pytest.mark.parametrize("dot", [S.dot_portable] + ([S.dot_vnni] if S.HAS_VNNI else []), ids=lambda d: d.__name__)
def test_dot_primitive_equals_definition(dot):
    """lane j of dot(acc, x, w) = acc_j + x.lo * w_j.lo + x.hi * w_j.hi, wrapped to int32."""
    rng = np.random.default_rng(0)
    w = _int32_pairs(rng, (S.LANES,))
    acc = rng.integers(-(1 << 31), 1 << 31, size=S.LANES).astype(np.int32)
    out = np.empty(S.LANES, dtype=np.int32)
    for x in (np.int32(-(1 << 31)), np.int32(0x7FFF7FFF), np.int32(12345), np.int32(-1)):
        K.dot_store(dot, acc, x, w, out)
        xl, xh = np.array([x], dtype=np.int32).view(np.int16).astype(np.int64)
        wl, wh = w.view(np.int16).astype(np.int64).reshape(-1, 2).T
        want = (acc.astype(np.int64) + xl * wl + xh * wh + (1 << 31)) % (1 << 32) - (1 << 31)
        assert_array_equal(out, want)


@pytest.mark.parametrize("dot", [S.dot_portable] + ([S.dot_vnni] if S.HAS_VNNI else []), ids=lambda d: d.__name__)
@pytest.mark.parametrize("k", [1, 2, 7])
@pytest.mark.parametrize("rows", [1, 65])
@pytest.mark.parametrize("nr", [4, 2], ids=["4x4", "4x2"])
def test_gemm_i16_equals_matmul(dot, k, rows, nr):
    """Both register blocks (4 x 4 vectors for AVX-512, 4 x 2 for AVX2; the CPU's own is ``K.gemm``)
    on packed weights (odd K and a column count that is not a multiple of the block padded by
    _pack_pairs) equal the int64 matrix product, in int32 where the sums fit."""
    rng = np.random.default_rng(k * rows)
    m = rng.integers(-64, 65, size=(rows, k))
    a16 = rng.integers(-(1 << 15), 1 << 15, size=(2 * K.MR, 3, k + (k & 1))).astype(np.int16)
    a16[..., k:] = 0
    wp = _pack_pairs(m, nr * S.LANES)
    n_cols = wp.size // ((k + 1) // 2)
    c = np.zeros((K.MR, n_cols), dtype=np.int32)
    (K.gemm_i16 if nr == 4 else K.gemm_i16_n2)(dot, a16.view(np.int32), 1, K.MR, K.MR, wp, n_cols, c)
    assert_array_equal(c[:, :rows], a16[K.MR :, 1, :k].astype(np.int64) @ m.T)
    assert not c[:, rows:].any()


@pytest.mark.parametrize("rounding", range(4))
@pytest.mark.parametrize("overflow", range(2))
def test_branch_free_requant_equals_rq(rounding, overflow):
    """rqv_pass gives rq's values and out-of-range count for shifts either way and every mode."""
    v = np.concatenate([np.arange(-300, 301), [-(1 << 40), (1 << 40) - 1, 1 << 20, -(1 << 20) - 3]]).astype(np.int64)
    out = np.empty_like(v)
    for from_frac, (bits, frac) in itertools.product((0, 3, 8, 12), ((4, 2), (8, 0), (8, 6), (16, 12))):
        s_rq = K.rq_site(from_frac, bits, frac, rounding, overflow)
        s_v = K.rqv_site(from_frac, bits, frac, rounding, overflow)
        want = np.array([K.rq(x, s_rq) for x in v])
        assert K.rqv_pass(v, s_v, out, v.size) == want[:, 1].sum()
        assert_array_equal(out, want[:, 0], err_msg=f"{from_frac} -> s{bits}.{frac}")
