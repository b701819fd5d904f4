"""Weight codes: the integers the ROMs store and the multiplier-free value each one means.

Every quantized weight is ``m * 2**s``: ``s`` is one integer per tensor (QuantSpec.scales) and ``m``
an integer that the code below encodes (docs/datapath.md, "Weight codes"):

=============  =====  =====================================================================
method         bits   code -> m
=============  =====  =====================================================================
binary*        1      0 -> +1, 1 -> -1
ternary*,      2      two's complement: 00 -> 0, 01 -> +1, 11 -> -1 (10 is never written)
pow2-ternary
exp*           n      MSB sign, low n-1 bits f: f = 0 -> 0, f >= 1 -> (+/-) 2**(f-1)
                      (so the weight is (+/-) 2**(e_min + f - 1)); sign set with f = 0 never written
uniform        k      two's complement, m in [-(2**(k-1) - 1), 2**(k-1) - 1]
=============  =====  =====================================================================

The hardware turns a code into a product with x: a negate/zero mux (binary, ternary), an arithmetic
left shift by f-1 (exp), or a k-bit multiplier (uniform, the baseline).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import QuantError

#: Code family of each method: how the RTL decodes it (KIND parameter of the shift-add lane).
CODE_KIND = {
    "binary": "binary",
    "binary-stoch": "binary",
    "ternary": "ternary",
    "ternary-stoch": "ternary",
    "pow2-ternary": "ternary",
    "exp": "exp",
    "exp-stoch": "exp",
    "uniform": "uniform",
}
#: Integer code of each code kind, as written into RTL parameters (CODE_KIND) and kernels.
KIND_CODE = {"binary": 0, "ternary": 1, "exp": 2, "uniform": 3}


@dataclass(frozen=True)
class WeightCodec:
    """Encode/decode between the integer multiplier ``m`` and the stored code, for one method."""

    kind: str
    bits: int

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or not isinstance(self.bits, int):
            raise TypeError(f"code width must be an int, not {type(self.bits).__name__}")
        if self.kind not in KIND_CODE:
            raise QuantError(f"code kind must be one of {', '.join(KIND_CODE)}, not {self.kind!r}")
        fixed = {"binary": 1, "ternary": 2}
        if self.kind in fixed and self.bits != fixed[self.kind]:
            raise QuantError(f"{self.kind} codes must be {fixed[self.kind]} bits wide, not {self.bits}")
        if self.kind == "exp" and not 2 <= self.bits <= 6:
            raise QuantError(f"exponential codes must be 2 to 6 bits wide, not {self.bits}")
        if self.kind == "uniform" and not 2 <= self.bits <= 16:
            raise QuantError(f"uniform codes must be 2 to 16 bits wide, not {self.bits}")

    @classmethod
    def for_method(cls, method: str, bits: int) -> "WeightCodec":
        try:
            kind = CODE_KIND[method]
        except KeyError:
            raise QuantError(f"method must be one of {', '.join(CODE_KIND)}, not {method!r}") from None
        return cls(kind, bits)

    @property
    def m_min(self) -> int:
        return {"binary": -1, "ternary": -1, "exp": -self.m_max, "uniform": -self.m_max}[self.kind]

    @property
    def m_max(self) -> int:
        if self.kind in ("binary", "ternary"):
            return 1
        if self.kind == "exp":
            return 1 << ((1 << (self.bits - 1)) - 2)
        return (1 << (self.bits - 1)) - 1

    @property
    def max_shift(self) -> int:
        """Largest left shift an exp code asks for (0 for the other kinds)."""
        return (1 << (self.bits - 1)) - 2 if self.kind == "exp" else 0

    def valid_m(self) -> np.ndarray:
        """Every representable m, ascending."""
        if self.kind == "binary":
            return np.array([-1, 1], dtype=np.int64)
        if self.kind == "exp":
            mags = 1 << np.arange(self.max_shift + 1, dtype=np.int64)
            return np.concatenate([-mags[::-1], [0], mags])
        return np.arange(self.m_min, self.m_max + 1, dtype=np.int64)

    def encode(self, m: np.ndarray) -> np.ndarray:
        """Integer multipliers -> unsigned codes (uint32). Raises QuantError off the grid."""
        m_in = np.asarray(m)
        if m_in.dtype.kind not in "iu":
            frac = m_in != np.floor(m_in) if m_in.dtype.kind == "f" else np.ones(m_in.shape, bool)
            if m_in.dtype.kind != "f" or frac.any():
                bad = m_in[frac].flat[0] if frac.any() else m_in.dtype
                raise QuantError(f"weight multipliers must be integers, not {bad}")
        m = m_in.astype(np.int64)
        ok = np.isin(m, self.valid_m())
        if not ok.all():
            bad = m[~ok].flat[0]
            raise QuantError(
                f"{self.kind} {self.bits}-bit codes hold m in {{{_grid_text(self.valid_m())}}}, not {bad}"
            )
        mask = (1 << self.bits) - 1
        if self.kind == "binary":
            return (m < 0).astype(np.uint32)
        if self.kind == "exp":
            mag = np.abs(m)
            f = np.zeros_like(mag)
            nz = mag > 0
            f[nz] = np.log2(mag[nz]).astype(np.int64) + 1
            return (((m < 0).astype(np.int64) << (self.bits - 1)) | f).astype(np.uint32)
        return (m & mask).astype(np.uint32)

    def decode(self, code: np.ndarray) -> np.ndarray:
        """Unsigned codes -> integer multipliers (int64). Never-written codes raise QuantError."""
        code = np.asarray(code, dtype=np.int64)
        out = (code < 0) | ((code >> self.bits) != 0)
        if out.any():
            raise QuantError(f"{self.bits}-bit codes must lie in [0, {(1 << self.bits) - 1}], not {code[out].flat[0]}")
        if self.kind == "binary":
            return 1 - 2 * code
        if self.kind == "exp":
            sign = code >> (self.bits - 1)
            f = code & ((1 << (self.bits - 1)) - 1)
            if ((sign == 1) & (f == 0)).any():
                raise QuantError(f"exp code {1 << (self.bits - 1):#x} (negative zero) is never written")
            mag = np.where(f > 0, np.left_shift(1, np.maximum(f - 1, 0)), 0)
            return np.where(sign == 1, -mag, mag)
        m = np.where(code >> (self.bits - 1) == 1, code - (1 << self.bits), code)
        if self.kind == "ternary" and (m == -2).any():
            raise QuantError("ternary code 0b10 is never written")
        if self.kind == "uniform" and (m < self.m_min).any():
            raise QuantError(f"uniform code {1 << (self.bits - 1):#x} (-2**{self.bits - 1}) is never written")
        return m

    def table(self) -> list[tuple[int, int]]:
        """(code, m) for every code that may be written, ascending by code: the manifest's table."""
        ms = self.valid_m()
        codes = self.encode(ms)
        order = np.argsort(codes)
        return [(int(codes[i]), int(ms[i])) for i in order]


def _grid_text(ms: np.ndarray) -> str:
    vals = [int(v) for v in ms]
    return ", ".join(map(str, vals)) if len(vals) <= 9 else f"{vals[0]}, ..., {vals[-1]}"
