"""Every Numba option hwsim uses, in one place.

Kernels never use ``fastmath``: it licenses reassociation and other rewrites that break
bit-exactness (and the integer kernels gain nothing from it). ``cache=True`` keeps compiled code
on disk next to the sources, so a test run or a CLI call does not pay the compile time again;
``parallel=True`` kernels are cached too (Numba supports that since 0.45), and they only ever call
serial helpers, never another parallel function, which is the case Numba's cache cannot handle.

With ``NUMBA_DISABLE_JIT=1`` every decorator below returns the plain Python function and ``prange``
is ``range``, so coverage and the ``nojit`` test profile see the kernel bodies.
"""

from __future__ import annotations

import os

# Numba's OpenMP layer (libgomp) spin-waits between parallel regions by default; on a busy or small
# machine a spinning worker holds the core that the next region's other worker needs, and a tiny
# simulation took 23 ms instead of 0.2 ms. Passive waiting costs a futex wake per launch (tens of
# microseconds). It must be set before libgomp starts; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numba  # noqa: E402

#: Shared by all decorators. ``error_model="numpy"`` keeps integer division free of the Python
#: zero-division check (the kernels never divide, but the option documents the intent).
_COMMON = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")

#: Serial kernels (the matrix-vector products), called per row block.
jit = numba.njit(**_COMMON)
#: Per-element helpers (requant, activation units): inlined into the kernel at Numba IR level, so a
#: call passes no arrays (no reference counting) and LLVM optimizes across the call.
jit_inline = numba.njit(inline="always", **_COMMON)
#: Kernels parallel over sequences (``prange`` on the outermost loop only).
jit_parallel = numba.njit(parallel=True, **_COMMON)
#: Parallel loop; ``range`` when the JIT is disabled.
prange = numba.prange
