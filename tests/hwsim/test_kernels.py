"""The vectorized kernel paths of hwsim/_kernels.py, exactly against the twin and the scalar code.

``simulate`` without ``record_gates`` sends GRU layers with the LUT unit through ``gru_step_lut``
(branch-free passes over the units); the twin tests of test_sim.py record gates and so take the
scalar ``gru_step``. Here the unrecorded runs meet the twin, and the branch-free requantizer
``rqv_pass`` meets ``rq`` in every rounding and overflow mode.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from numpy.testing import assert_array_equal

import naive
from hwsim import _kernels as K
from hwsim._sim import simulate
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


@settings(max_examples=naive.examples(1500))
@given(cases(narrow=True, max_steps=12))
def test_unrecorded_kernel_equals_twin_int16_path(case):
    assert_same_unrecorded(*case)


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
