"""Sixteen-lane int32 vectors for Numba kernels: the int16 multiply-accumulate at the SIMD limit.

Numba has no vector type, and LLVM's auto-vectorizer does not turn a GEMM written with scalars
into a register-blocked one (hwsim/_kernels.py lists what was measured). This module gives Numba
a value type ``I32x16`` whose LLVM type is ``<16 x i32>`` (one zmm register), and the handful of
operations a register-blocked int16 GEMM needs:

``vzero()``                     all lanes 0
``vload(a, i)``                 a[i : i + 16] of a 1-D int32 array (unaligned load)
``vstore(a, i, v)``             a[i : i + 16] = v
``vdot_vnni(acc, x, w)``        VNNI ``vpdpwssd``: lane j += x.lo * w[j].lo + x.hi * w[j].hi, the
                                int16 halves of the int32 ``x`` (broadcast to every lane) and of
                                lane j of ``w``; exact (the caller proves the sums fit int32)
``vdot_portable(acc, x, w)``    the same sum in plain LLVM IR (sign-extend, multiply, add the even
                                and odd lanes): LLVM selects ``vpmaddwd`` + ``vpaddd`` on AVX-512BW
                                and splits it into narrower vectors elsewhere

A kernel takes the dot primitive as an argument (a jitted function is a first-class value in
Numba, and each one compiles its own specialization), so the VNNI instruction is only ever
compiled when ``HAS_VNNI`` says the CPU Numba compiles for has it; ``vdot_portable`` is the
fallback and is tested on every machine. Every operation is a plain Python function on NumPy
arrays as well, which is what runs under ``NUMBA_DISABLE_JIT=1``.

The accumulation is exact either way: both instructions add the two int32 products and the
accumulator without saturation (``vpdpwssd``, not ``vpdpwssds``), wrapping modulo 2**32 like
int32 arithmetic, and the wrapper only takes this path when the plan bounds every sum below
2**31.
"""

from __future__ import annotations

import numpy as np
from llvmlite import binding as llvm_binding
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, overload, register_model

from ._jit import jit_inline

LANES = 16

#: True when the CPU that Numba compiles for has AVX-512 VNNI (``vpdpwssd`` on zmm registers).
HAS_VNNI = bool(llvm_binding.get_host_cpu_features().get("avx512vnni", False))


class I32x16Type(types.Type):
    """Numba type of a ``<16 x i32>`` value (one AVX-512 register)."""

    def __init__(self):
        super().__init__(name="I32x16")


i32x16 = I32x16Type()
_V = ir.VectorType(ir.IntType(32), LANES)
_V16 = ir.VectorType(ir.IntType(16), 2 * LANES)


@register_model(I32x16Type)
class _I32x16Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _V)


# ---- pure Python semantics (NUMBA_DISABLE_JIT=1, and the definition the JIT must match) ---------
def vzero():
    return np.zeros(LANES, dtype=np.int32)


def vload(a, i):
    return np.array(a[i : i + LANES], dtype=np.int32)


def vstore(a, i, v):
    a[i : i + LANES] = v


def _pairs(v):
    """Lane j of an int32 vector -> its int16 halves (low, high) as int64."""
    h = np.asarray(v, dtype=np.int32).view(np.int16).astype(np.int64).reshape(-1, 2)
    return h[:, 0], h[:, 1]


def _vdot(acc, x, w):
    xl, xh = _pairs(np.full(LANES, x, dtype=np.int32))
    wl, wh = _pairs(w)
    s = np.asarray(acc, dtype=np.int64) + xl * wl + xh * wh
    return ((s + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)  # int32 wrap, no saturation


def vdot_vnni(acc, x, w):
    return _vdot(acc, x, w)


def vdot_portable(acc, x, w):  # the same function of the operands; only the instructions differ
    return _vdot(acc, x, w)


# ---- Numba implementations -------------------------------------------------------------------------
@intrinsic
def _vzero(typingctx):
    def codegen(context, builder, sig, args):
        return ir.Constant(_V, [0] * LANES)

    return i32x16(), codegen


def _elem_ptr(context, builder, aryty, ary, idx):
    arr = context.make_array(aryty)(context, builder, ary)
    return cgutils.get_item_pointer(context, builder, aryty, arr, [idx], wraparound=False)


@intrinsic
def _vload(typingctx, a, i):
    if not (isinstance(a, types.Array) and a.dtype == types.int32 and a.ndim == 1):
        return None

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], args[1])
        vptr = builder.bitcast(ptr, _V.as_pointer())
        return builder.load(vptr, align=4)

    return i32x16(a, i), codegen


@intrinsic
def _vstore(typingctx, a, i, v):
    if not (isinstance(a, types.Array) and a.dtype == types.int32 and a.ndim == 1 and v == i32x16):
        return None

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], args[1])
        vptr = builder.bitcast(ptr, _V.as_pointer())
        builder.store(args[2], vptr, align=4)
        return context.get_dummy_value()

    return types.none(a, i, v), codegen


def _broadcast(builder, x):
    """The int32 scalar x (any integer type, truncated) in every lane."""
    x32 = builder.trunc(x, ir.IntType(32)) if x.type.width > 32 else builder.sext(x, ir.IntType(32)) if x.type.width < 32 else x
    v = builder.insert_element(ir.Constant(_V, ir.Undefined), x32, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(v, ir.Constant(_V, ir.Undefined), ir.Constant(_V, [0] * LANES))


@intrinsic
def _vdot_vnni(typingctx, acc, x, w):
    if not (acc == i32x16 and w == i32x16 and isinstance(x, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        a, xs, wv = args
        fnty = ir.FunctionType(_V, [_V, _V16, _V16])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.avx512.vpdpwssd.512")
        xb = builder.bitcast(_broadcast(builder, xs), _V16)
        return builder.call(fn, [a, xb, builder.bitcast(wv, _V16)])

    return i32x16(acc, x, w), codegen


@intrinsic
def _vdot_portable(typingctx, acc, x, w):
    if not (acc == i32x16 and w == i32x16 and isinstance(x, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        a, xs, wv = args
        v32 = ir.VectorType(ir.IntType(32), 2 * LANES)
        xe = builder.sext(builder.bitcast(_broadcast(builder, xs), _V16), v32)
        we = builder.sext(builder.bitcast(wv, _V16), v32)
        p = builder.mul(xe, we)
        even = builder.shuffle_vector(p, p, ir.Constant(_V, list(range(0, 2 * LANES, 2))))
        odd = builder.shuffle_vector(p, p, ir.Constant(_V, list(range(1, 2 * LANES, 2))))
        return builder.add(a, builder.add(even, odd))

    return i32x16(acc, x, w), codegen


@overload(vzero, inline="always")
def _ov_vzero():
    return lambda: _vzero()


@overload(vload, inline="always")
def _ov_vload(a, i):
    return lambda a, i: _vload(a, i)


@overload(vstore, inline="always")
def _ov_vstore(a, i, v):
    return lambda a, i, v: _vstore(a, i, v)


@overload(vdot_vnni, inline="always")
def _ov_vdot_vnni(acc, x, w):
    return lambda acc, x, w: _vdot_vnni(acc, x, w)


@overload(vdot_portable, inline="always")
def _ov_vdot_portable(acc, x, w):
    return lambda acc, x, w: _vdot_portable(acc, x, w)


# The dot primitives as jitted function values: a GEMM kernel takes one as an argument and
# compiles one specialization per primitive.
@jit_inline
def dot_vnni(acc, x, w):
    return vdot_vnni(acc, x, w)


@jit_inline
def dot_portable(acc, x, w):
    return vdot_portable(acc, x, w)
