"""Simulation: the float reference (``float_forward``) and the bit-accurate Numba simulator of the
shift-add datapath (kernels, SIMD helpers, ``run_fixed`` / ``simulate``)."""
