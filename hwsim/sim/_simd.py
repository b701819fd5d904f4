"""int32 vectors for Numba kernels: the int16 multiply-accumulate at the SIMD limit, per ISA.

Numba has no vector type, and LLVM's auto-vectorizer does not turn a GEMM written with scalars
into a register-blocked one (hwsim/_kernels.py lists what was measured). This module gives Numba
a value type whose LLVM type is ``<LANES x i32>``: one zmm register (16 lanes) where the CPU has
AVX-512BW, one ymm register (8 lanes) elsewhere (AVX2), chosen at import for the CPU Numba
compiles for, and the handful of operations a register-blocked int16 GEMM needs:

``vzero()``                     all lanes 0
``vload(a, i)``                 a[i : i + LANES] of a 1-D int32 array (unaligned load)
``vstore(a, i, v)``             a[i : i + LANES] = v
``vdot(dot_vnni, acc, x, w)``   VNNI ``vpdpwssd`` (AVX-512 VNNI on zmm, AVX-VNNI on ymm): lane j += x.lo * w[j].lo + x.hi * w[j].hi, the
                                int16 halves of the int32 ``x`` (broadcast to every lane) and of
                                lane j of ``w``; exact (the caller proves the sums fit int32)
``vdot(dot_portable, ...)``     the same sum in plain LLVM IR (sign-extend, multiply, add the even
                                and odd lanes): LLVM selects ``vpmaddwd`` + ``vpaddd`` (zmm on
                                AVX-512BW, fused into ``vpdpwssd`` where VNNI is present; ymm
                                on AVX2)
``lut16(table, x, out, i, ...)``  16 table reads (clamp, offset, shift, one ``vpgatherdd``), for
                                the LUT activation unit; AVX-512F only (``HAS_AVX512F``)
``lut8(table, x, out, i, ...)``   the same for int32 x, 8 reads by AVX2's ``vpgatherdd``
``add32``, ``mul32``, ``shl32``, ``sra32``, ``min32``, ``max32``, ``and32``
                                scalar int32 arithmetic that Numba does not widen to int64,
                                so loops over int32 arrays vectorize to 8 native AVX2 lanes

A kernel takes the dot primitive as an argument (``dot_vnni`` or ``dot_portable``, values whose
Numba type names the primitive; ``vdot(dot, acc, x, w)`` calls it), and each compiles its own
specialization, so the VNNI instruction is only ever compiled when ``HAS_VNNI`` says the CPU
Numba compiles for has it; ``dot_portable`` is the fallback and is tested on every machine.
Every operation is a plain Python function on NumPy arrays as well, which is what runs under
``NUMBA_DISABLE_JIT=1``.

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
from numba.extending import NativeValue, intrinsic, models, overload, register_model, typeof_impl, unbox


_FEATURES = llvm_binding.get_host_cpu_features()
#: True when the CPU that Numba compiles for has AVX-512BW (``vpmaddwd`` on zmm registers): the
#: vector type is then one zmm register (16 lanes), else one ymm register (8 lanes: AVX2, where
#: a 16-lane value would take two of the 16 ymm registers and the GEMM's blocks would spill).
HAS_AVX512BW = bool(_FEATURES.get("avx512bw", False))
#: int32 lanes of the vector type, chosen for the CPU at import.
LANES = 16 if HAS_AVX512BW else 8
#: True when the CPU has a ``vpdpwssd`` of the vector type's width: AVX-512 VNNI (zmm) with
#: 16 lanes, AVX-VNNI (VEX, ymm) with 8.
HAS_VNNI = bool(_FEATURES.get("avx512vnni", False)) if LANES == 16 else bool(_FEATURES.get("avxvnni", False))
#: True when it has AVX-512F (``vpgatherdd`` on zmm registers, used by ``lut16``).
HAS_AVX512F = bool(_FEATURES.get("avx512f", False)) and LANES == 16
#: The CPU's vector features as the benchmarks print them.
VECTOR_FEATURES = tuple(sorted(k for k, v in _FEATURES.items() if v and k.startswith(("avx", "fma", "sse4"))))


class I32x16Type(types.Type):
    """Numba type of a ``<LANES x i32>`` value (one AVX-512 or AVX2 register)."""

    def __init__(self):
        super().__init__(name=f"I32x{LANES}")


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


def lut16(table, x, out, i, lo, hi, shift):
    """out[i + l] = table[(min(max(x[i + l], lo), hi) - lo) >> shift] for the 16 lanes l: one
    ``vpgatherdd``. table int32 (every index the clamp allows must lie in it), x and out int64."""
    idx = (np.minimum(np.maximum(x[i : i + LANES], lo), hi) - lo) >> shift
    out[i : i + LANES] = table[idx]


def _vdot(acc, x, w):
    xl, xh = _pairs(np.full(LANES, x, dtype=np.int32))
    wl, wh = _pairs(w)
    s = np.asarray(acc, dtype=np.int64) + xl * wl + xh * wh
    return ((s + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int32)  # int32 wrap, no saturation


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
        fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.x86.avx512.vpdpwssd.{32 * LANES}")
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


@intrinsic
def _lut16(typingctx, table, x, out, i, lo, hi, shift):
    ok = (
        isinstance(table, types.Array) and table.dtype == types.int32 and table.ndim == 1 and table.layout == "C"
        and all(isinstance(a, types.Array) and a.dtype == types.int64 and a.ndim == 1 and a.layout == "C" for a in (x, out))
    )  # fmt: skip
    if not ok:
        return None

    def codegen(context, builder, sig, args):
        tab, xa, oa, ii, lo_, hi_, sh_ = args
        i64 = ir.IntType(64)
        v64 = ir.VectorType(i64, LANES)

        def splat(s):
            s = builder.sext(s, i64) if s.type.width < 64 else s
            v = builder.insert_element(ir.Constant(v64, ir.Undefined), s, ir.Constant(ir.IntType(32), 0))
            return builder.shuffle_vector(v, ir.Constant(v64, ir.Undefined), ir.Constant(_V, [0] * LANES))

        xp = builder.bitcast(_elem_ptr(context, builder, sig.args[1], xa, ii), v64.as_pointer())
        xv = builder.load(xp, align=8)
        lo_v, hi_v = splat(lo_), splat(hi_)
        c = builder.select(builder.icmp_signed("<", xv, lo_v), lo_v, xv)
        c = builder.select(builder.icmp_signed(">", c, hi_v), hi_v, c)
        idx = builder.trunc(builder.ashr(builder.sub(c, lo_v), splat(sh_)), _V)
        base = builder.bitcast(_elem_ptr(context, builder, sig.args[0], tab, ir.Constant(i64, 0)), ir.IntType(8).as_pointer())
        fnty = ir.FunctionType(_V, [_V, ir.IntType(8).as_pointer(), _V, ir.IntType(16), ir.IntType(32)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.avx512.gather.dpi.512")
        zero, all_lanes, scale = ir.Constant(_V, [0] * LANES), ir.Constant(ir.IntType(16), 0xFFFF), ir.Constant(ir.IntType(32), 4)
        g = builder.call(fn, [zero, base, idx, all_lanes, scale])
        op = builder.bitcast(_elem_ptr(context, builder, sig.args[2], oa, ii), v64.as_pointer())
        builder.store(builder.sext(g, v64), op, align=8)
        return context.get_dummy_value()

    return types.none(table, x, out, i, lo, hi, shift), codegen


@overload(lut16, inline="always")
def _ov_lut16(table, x, out, i, lo, hi, shift):
    return lambda table, x, out, i, lo, hi, shift: _lut16(table, x, out, i, lo, hi, shift)


@overload(vzero, inline="always")
def _ov_vzero():
    return lambda: _vzero()


@overload(vload, inline="always")
def _ov_vload(a, i):
    return lambda a, i: _vload(a, i)


@overload(vstore, inline="always")
def _ov_vstore(a, i, v):
    return lambda a, i, v: _vstore(a, i, v)


# ---- the dot primitive as a value -----------------------------------------------------------------
class Dot:
    """Which dot primitive a kernel uses: ``dot_vnni`` or ``dot_portable`` (pass one as an argument,
    call ``vdot(dot, acc, x, w)``). Its Numba type carries the choice, so every kernel compiles
    one specialization per primitive with a type name that is the same in every process (Numba's
    on-disk cache keys on it; a jitted function passed as a value would not be)."""

    def __init__(self, kind: str):
        self.kind = kind
        self.__name__ = f"dot_{kind}"

    def __repr__(self):
        return self.__name__


class DotType(types.Type):
    def __init__(self, kind: str):
        self.kind = kind
        super().__init__(name=f"Dot({kind})")


@typeof_impl.register(Dot)
def _typeof_dot(val, c):
    return DotType(val.kind)


register_model(DotType)(models.OpaqueModel)


@unbox(DotType)
def _unbox_dot(typ, obj, c):
    return NativeValue(c.context.get_constant_null(typ))


dot_vnni = Dot("vnni")
dot_portable = Dot("portable")


def vdot(dot, acc, x, w):
    """acc + the pairwise int16 dot of the broadcast x with w, lane by lane, wrapped to int32, by
    the primitive ``dot`` (``dot_vnni`` or ``dot_portable``: the same integers)."""
    return _vdot(acc, x, w)


@overload(vdot, inline="always")
def _ov_vdot(dot, acc, x, w):
    if isinstance(dot, DotType):
        fn = _vdot_vnni if dot.kind == "vnni" else _vdot_portable
        return lambda dot, acc, x, w: fn(acc, x, w)
    return None


# ---- int32 scalar arithmetic that stays int32 -------------------------------------------------------
# Numba widens every integer operation to int64 (at least intp), and LLVM cannot narrow an arithmetic
# right shift, a clamp or a comparison of the widened values back: a loop over int32 arrays then runs
# on 4 int64 lanes of an AVX2 register, with the 64-bit shift, min/max and multiply that AVX2 lacks
# emulated in several instructions each. These operations take any integers, truncate them to int32
# and compute in int32 (two's complement wrap, as the int32 instructions do), so the loops that use
# them vectorize to 8 lanes of native vpaddd / vpmulld / vpsrad / vpminsd. A caller uses them only
# where the wrapper proved that no value leaves int32 (then the wrap never happens and the results
# equal the int64 arithmetic); under NUMBA_DISABLE_JIT they are the same functions on NumPy int32.
def _w32(v):
    return np.int32(((int(v) + (1 << 31)) % (1 << 32)) - (1 << 31))


def add32(a, b):
    """a + b in int32."""
    return _w32(int(a) + int(b))


def mul32(a, b):
    """a * b in int32."""
    return _w32(int(a) * int(b))


def shl32(a, s):
    """a << s in int32 (0 <= s < 32)."""
    return _w32(int(a) << int(s))


def sra32(a, s):
    """a >> s (arithmetic) in int32 (0 <= s < 32)."""
    return np.int32(int(_w32(a)) >> int(s))


def min32(a, b):
    return np.int32(min(int(_w32(a)), int(_w32(b))))


def max32(a, b):
    return np.int32(max(int(_w32(a)), int(_w32(b))))


_I32 = ir.IntType(32)


def _to32(builder, v):
    w = v.type.width
    return builder.trunc(v, _I32) if w > 32 else builder.sext(v, _I32) if w < 32 else v


def _int32_op(emit):
    """An intrinsic (a, b) -> int32 of two integers: ``emit(builder, a32, b32)``."""

    @intrinsic
    def op(typingctx, a, b):
        if not (isinstance(a, (types.Integer, types.Boolean)) and isinstance(b, (types.Integer, types.Boolean))):
            return None

        def codegen(context, builder, sig, args):
            a32 = _to32(builder, builder.zext(args[0], _I32) if args[0].type.width == 1 else args[0])
            b32 = _to32(builder, builder.zext(args[1], _I32) if args[1].type.width == 1 else args[1])
            return emit(builder, a32, b32)

        return types.int32(a, b), codegen

    return op


_add32 = _int32_op(lambda b, x, y: b.add(x, y))
_mul32 = _int32_op(lambda b, x, y: b.mul(x, y))
_shl32 = _int32_op(lambda b, x, y: b.shl(x, y))
_sra32 = _int32_op(lambda b, x, y: b.ashr(x, y))
_min32 = _int32_op(lambda b, x, y: b.select(b.icmp_signed("<", x, y), x, y))
_max32 = _int32_op(lambda b, x, y: b.select(b.icmp_signed(">", x, y), x, y))

_and32 = _int32_op(lambda b, x, y: b.and_(x, y))


def and32(a, b):
    """a & b in int32."""
    return np.int32(int(_w32(a)) & int(_w32(b)))


def _register(py, nb):
    @overload(py, inline="always")
    def _ov(a, b):
        return lambda a, b: nb(a, b)


for _py, _nb in ((add32, _add32), (mul32, _mul32), (shl32, _shl32), (sra32, _sra32), (min32, _min32), (max32, _max32),
                 (and32, _and32)):
    _register(_py, _nb)


#: True when the CPU has AVX2 (``vpgatherdd`` on ymm registers, used by ``lut8``).
HAS_AVX2 = bool(_FEATURES.get("avx2", False))


def lut8(table, x, out, i, lo, hi, shift):
    """out[i + l] = table[(min(max(x[i + l], lo), hi) - lo) >> shift] for the 8 lanes l of int32
    ``x`` and ``out``: one AVX2 ``vpgatherdd``. Every index the clamp allows must lie in ``table``."""
    idx = (np.minimum(np.maximum(x[i : i + 8].astype(np.int64), lo), hi) - lo) >> shift
    out[i : i + 8] = table[idx]


@intrinsic
def _lut8(typingctx, table, x, out, i, lo, hi, shift):
    ok = all(isinstance(a, types.Array) and a.dtype == types.int32 and a.ndim == 1 for a in (table, x, out))
    if not ok:
        return None

    def codegen(context, builder, sig, args):
        tab, xa, oa, ii, lo_, hi_, sh_ = args
        v8 = ir.VectorType(_I32, 8)

        def splat(s):
            s = _to32(builder, s)
            v = builder.insert_element(ir.Constant(v8, ir.Undefined), s, ir.Constant(_I32, 0))
            return builder.shuffle_vector(v, ir.Constant(v8, ir.Undefined), ir.Constant(v8, [0] * 8))

        xp = builder.bitcast(_elem_ptr(context, builder, sig.args[1], xa, ii), v8.as_pointer())
        xv = builder.load(xp, align=4)
        lo_v, hi_v = splat(lo_), splat(hi_)
        c = builder.select(builder.icmp_signed("<", xv, lo_v), lo_v, xv)
        c = builder.select(builder.icmp_signed(">", c, hi_v), hi_v, c)
        idx = builder.ashr(builder.sub(c, lo_v), splat(sh_))
        base = builder.bitcast(_elem_ptr(context, builder, sig.args[0], tab, ir.Constant(ir.IntType(64), 0)),
                               ir.IntType(8).as_pointer())
        fnty = ir.FunctionType(v8, [v8, ir.IntType(8).as_pointer(), v8, v8, ir.IntType(8)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.avx2.gather.d.d.256")
        g = builder.call(fn, [ir.Constant(v8, [0] * 8), base, idx, ir.Constant(v8, [-1] * 8), ir.Constant(ir.IntType(8), 4)])
        op = builder.bitcast(_elem_ptr(context, builder, sig.args[2], oa, ii), v8.as_pointer())
        builder.store(g, op, align=4)
        return context.get_dummy_value()

    return types.none(table, x, out, i, lo, hi, shift), codegen


@overload(lut8, inline="always")
def _ov_lut8(table, x, out, i, lo, hi, shift):
    return lambda table, x, out, i, lo, hi, shift: _lut8(table, x, out, i, lo, hi, shift)
