"""PyTorch modules that train with the seed paper's quantizers in the loop (needs the [train] extra).

The scheme of Ott et al. (arXiv 1608.06902), after BinaryConnect / TernaryConnect: the module keeps
float "shadow" weights; every forward pass uses their quantized copy; the gradient with respect to
the quantized copy reaches the float weights unchanged (straight-through); stochastic quantizers are
used in training mode and their deterministic twins in evaluation mode; after every optimizer step
``clip_weights()`` clamps the float weights to the quantizer's range.

``QuantRNN`` / ``QuantGRU`` / ``QuantLSTM`` subclass ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` and
``QuantLinear`` subclasses ``nn.Linear``, so their parameters and state_dict keys are PyTorch's own
(``weight_ih_l0``, ...) and a trained state_dict loads into the plain PyTorch module.
They take ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM``'s constructor arguments, positional or keyword, with
PyTorch's defaults (``batch_first=False``: (T, N, I); hwsim's data are (N, T, I), so pass
``batch_first=True`` for them); ``dropout`` drops between layers in training as PyTorch does (the
datapath runs evaluation mode, where it drops nothing). ``bidirectional=True`` and ``proj_size``
have no datapath and are refused. A quantized weight tensor that is more than ``ZERO_WARN_SHARE``
zeros gets a ``QuantizationWarning`` at the first forward pass in each mode; docs/training.md
walks through training, saving and checking a model. ``QuantSeqModel`` adds a quantized linear head (keys ``rnn.*``,
``head.*``), the layout ``hwsim.model._modelfile`` reads. The quantizers here mirror ``hwsim.model._quant``
formula for formula; the deterministic ones give identical values (tests/hwsim/training/test_torch.py).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from ..model._codes import CODE_KIND
from ..datapath._config import DatapathConfig  # noqa: F401 (QuantConfig.datapath's type)
from .._errors import QuantError
from ..model._model import TRAIN_METHODS

__all__ = [
    "QuantConfig",
    "TensorQuantizer",
    "quantize",
    "round_half_away",
    "glorot",
    "StraightThrough",
    "QuantRNN",
    "QuantGRU",
    "QuantLSTM",
    "QuantLinear",
    "QuantSeqModel",
    "init_weights_",
    "init_bound",
    "TRAIN_METHODS",
    "QuantizationWarning",
    "ZERO_WARN_SHARE",
    "SCALES",
    "ROW_SCALES",
]

#: Scale choices: "tensor" (one power of two per tensor, the paper's; "pow2" is its old name), "row"
#: (one power of two per output row: binary and ternary methods), and the training-only ternary
#: ablations "exact" (the float Glorot bound) and "row-pow2" (an independent level per row of each matrix).
SCALES = ("tensor", "row", "exact", "row-pow2")
#: How "row" scales are found: "learned" (a log2 parameter per row, straight-through round, LSQ's
#: gradient) or "stat" (the row's mean magnitude, hwsim.model._quant.row_offsets).
ROW_SCALES = ("learned", "stat")
_SCALE_ALIASES = {"pow2": "tensor"}
#: A quantized weight tensor with more than this share of zeros warns (``QuantizationWarning``): a
#: trained ternary layer has about half; PyTorch's default initialization ternarizes to all zeros.
ZERO_WARN_SHARE = 0.9


class QuantizationWarning(UserWarning):
    """Quantization zeroes (almost) all of a weight tensor: the layer passes almost no signal."""


#: The deterministic twin used in evaluation mode (and in the saved model) of each method.
DETERMINISTIC = {"binary-stoch": "binary", "ternary-stoch": "ternary", "exp-stoch": "exp"}


def round_half_away(x: torch.Tensor) -> torch.Tensor:
    """C ``round`` (halves away from zero), exactly: ``trunc`` plus a carry, as hwsim.model._quant does.

    ``floor(|x| + 0.5)`` is not exact near 0.5 and torch.round rounds halves to even.
    """
    t = torch.trunc(x)
    return t + torch.where(torch.abs(x - t) >= 0.5, torch.sign(x), torch.zeros_like(x))


def _floor_log2(a: torch.Tensor) -> torch.Tensor:
    """Exact ``floor(log2 a)`` (frexp, not log2, which rounds near powers of two); -1 for 0."""
    return torch.frexp(a).exponent.to(torch.int64) - 1


def _top_exponent(w: torch.Tensor, stochastic: bool) -> int:
    """hwsim.model._quant._top_exponent on a torch tensor: the exponent max|w| quantizes to."""
    top = float(torch.max(torch.abs(w))) if w.numel() else 0.0
    if top == 0.0:
        return 0
    mant, ex = math.frexp(top)
    k = ex - 1
    if stochastic:
        return k if mant == 0.5 else k + 1
    return k + (2.0 * mant - 1.0 > 0.5)


@dataclass(frozen=True)
class TensorQuantizer:
    """How one tensor is quantized: the method and the per-tensor constants it needs.

    ``s`` is log2 of the binary level H or of the ternary level W0 (already a power of two);
    ``bits`` the code width (exp, uniform); ``e_min`` / ``e_max`` a fixed exponent range of the
    exponential methods, or None for the range hwsim.model._quant.exp_range derives from the tensor
    itself (its largest weight sets e_max); ``zero`` whether exp has a zero code.

    ``scale`` (see ``SCALES``) is "tensor", the level ``2**s`` of the whole tensor; "row", a
    power of two per output row that the caller passes to :func:`quantize` as ``row_s``; or one of
    the ternary ablations no hwsim model file holds ("exact": the paper's float Glorot level
    ``w0``; "row-pow2": a power of two per output row of each matrix on its own).
    """

    method: str
    s: int = 0
    bits: int = 4
    e_min: int | None = None
    e_max: int | None = None
    zero: bool = True
    scale: str = "tensor"
    w0: float = 1.0

    def __post_init__(self) -> None:
        if self.method not in TRAIN_METHODS:
            raise QuantError(f"method must be one of {', '.join(TRAIN_METHODS)}, not {self.method!r}")
        object.__setattr__(self, "scale", _check_scale(self.scale))

    @property
    def stochastic(self) -> bool:
        return self.method in DETERMINISTIC

    @property
    def bound(self) -> float:
        """Largest magnitude the quantizer produces: the float weights are clipped to +-bound.

        Exponential quantization with a range taken from the tensor itself has no fixed bound (inf).
        """
        m = self.method
        if m == "full":
            return math.inf
        if m.startswith("ternary") and self.scale == "exact":
            return self.w0
        if self.scale in ("row-pow2", "row") and m != "full" and not m.startswith(("exp", "uniform")):
            return math.ldexp(1.0, self.base_s + 1)  # rows may double their level, not more
        if m.startswith("binary") or m.startswith("ternary"):
            return math.ldexp(1.0, self.s)
        if m == "pow2-ternary":
            return 0.5
        if m.startswith("exp"):
            return math.inf if self.e_max is None else math.ldexp(1.0, self.e_max)
        half = 1 << (self.bits - 1)
        return (half - 1) / half  # uniform

    @property
    def base_s(self) -> int:
        """The tensor's own scale: ``s``, or -1 for pow2-ternary (its fixed level 1/2)."""
        return -1 if self.method == "pow2-ternary" else self.s

    def exp_range(self, w: torch.Tensor, stochastic: bool) -> tuple[int, int]:
        """``(e_min, e_max)`` for ``w``, as hwsim.model._quant.exp_range resolves it."""
        span = (1 << (self.bits - 1)) - 2
        if self.e_min is not None and self.e_max is not None:
            return self.e_min, self.e_max
        if self.e_min is not None:
            return self.e_min, self.e_min + span
        e_max = self.e_max if self.e_max is not None else _top_exponent(w, stochastic)
        return e_max - span, e_max


def _check_scale(scale: str) -> str:
    scale = _SCALE_ALIASES.get(scale, scale)
    if scale not in SCALES:
        raise QuantError(f"scale must be one of {', '.join(SCALES)}, not {scale!r}")
    return scale


def quantize(
    w: torch.Tensor, q: TensorQuantizer, *, stochastic: bool = False, generator: torch.Generator | None = None,
    row_s: torch.Tensor | None = None,
) -> torch.Tensor:
    """The quantized copy of ``w`` (no gradient); formulas of hwsim.model._quant, value for value.

    ``stochastic`` applies to the -stoch methods only (training mode); otherwise the deterministic
    twin runs (evaluation mode, the saved model). ``row_s`` (binary and ternary methods): one
    int64 scale per row of ``w``, replacing the tensor's (per-row scales).
    """
    m = q.method
    if m == "full":
        return w
    stoch = stochastic and q.stochastic
    with torch.no_grad():
        zero = torch.zeros_like(w)
        one = torch.ones_like(w)

        def rand() -> torch.Tensor:
            return torch.rand(w.shape, generator=generator, dtype=w.dtype, device=w.device)

        row = None if row_s is None else torch.ldexp(torch.ones((len(row_s), 1), dtype=w.dtype, device=w.device),
                                                      row_s.reshape(-1, 1).to(w.device))
        if m.startswith("binary"):
            level = torch.ldexp(torch.ones((), dtype=w.dtype, device=w.device), torch.tensor(q.s)) if row is None else row
            u = w / level
            if stoch:
                p = torch.clamp((u + 1.0) / 2.0, 0.0, 1.0)
                mm = torch.where(rand() < p, one, -one)
            else:
                mm = torch.where(w >= 0, one, -one)
            return mm * level
        if m.startswith("ternary"):
            level = _ternary_level(w, q) if row is None else row
            u = w / level  # w / W0, exact for a power-of-two level
            if stoch:
                mm = torch.where(rand() < torch.clamp(torch.abs(u), 0.0, 1.0), torch.sign(u), zero)
            else:
                mm = torch.where(u > 0.5, one, torch.where(u <= -0.5, -one, zero))
            return mm * level
        if m == "pow2-ternary":
            if row is not None:
                return torch.clamp(round_half_away(w / row), -1.0, 1.0) * row
            return torch.clamp(round_half_away(2.0 * w), -1.0, 1.0) / 2.0
        if m.startswith("exp"):
            e_min, e_max = q.exp_range(w, stoch)
            a = torch.abs(w)
            k = torch.clamp(torch.where(a > 0, _floor_log2(a), e_min), e_min, e_max)  # w = 0 at the bottom
            p = torch.ldexp(a, -k) - 1.0
            if stoch:
                u = rand()
                e = k + (u < torch.clamp(p, 0.0, 1.0)).to(torch.int64)
            else:
                e = k + (p > 0.5).to(torch.int64)
            mag = torch.ldexp(one, torch.clamp(e, max=e_max))
            if q.zero:
                if stoch:
                    small = a < math.ldexp(1.0, e_min)
                    mag = torch.where(small & (u >= torch.ldexp(a, torch.tensor(-e_min))), zero, mag)
                else:
                    mag = torch.where(a < math.ldexp(1.0, e_min - 1), zero, mag)
                sign = torch.where(w < 0, -one, one)
            else:
                sign = torch.where(w > 0, one, -one)
            return sign * mag
        half = 1 << (q.bits - 1)  # uniform
        mm = torch.clamp(round_half_away(w * half), -(half - 1), half - 1)
        return mm / half


def _ternary_level(w: torch.Tensor, q: TensorQuantizer) -> torch.Tensor:
    """TernaryConnect's level W0 for ``w`` under ``q.scale``: a scalar, or one per output row.

    "row-pow2" sets row r's level to ``2**round(log2(2 * mean|w_r|))``: for Glorot-uniform
    weights, ``2 * mean|w|`` is the Glorot bound itself, so every row starts at the tensor's level
    and then follows its own weights.
    """
    if q.scale == "exact":
        return torch.tensor(q.w0, dtype=w.dtype)
    if q.scale == "row-pow2" and w.dim() == 2:
        a = 2.0 * torch.abs(w).mean(dim=1, keepdim=True)
        e = torch.where(a > 0, torch.round(torch.log2(torch.clamp(a, min=1e-30))), torch.full_like(a, q.s))
        return torch.ldexp(torch.ones_like(a), e.to(torch.int64))
    return torch.ldexp(torch.ones((), dtype=w.dtype), torch.tensor(q.s))


class StraightThrough(torch.autograd.Function):
    """Forward: ``quantize(w)``; backward: the gradient passes to ``w`` unchanged (straight-through)."""

    @staticmethod
    def forward(ctx, w, q, stochastic, generator, row_s=None):  # noqa: D102
        return quantize(w, q, stochastic=stochastic, generator=generator, row_s=row_s)

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        return grad, None, None, None, None


class LearnedRowScale(torch.autograd.Function):
    """Forward: ``quantize(w)`` with row ``r`` at level ``2**(s + round(p_r))``; backward: the
    gradient passes to ``w`` unchanged, and reaches ``p`` as in LSQ (Esser et al. 2020).

    With ``u = w / level`` and ``m`` the code, ``dq/dlevel = m - u`` where ``|u| <= 1`` and ``m``
    beyond it (binary: ``m``); ``dlevel/dp = level * ln 2`` through the straight-through round,
    and LSQ's gradient scale ``1 / sqrt(columns)`` keeps the step of ``p`` independent of the width.
    """

    @staticmethod
    def forward(ctx, w, p, q, stochastic, generator):  # noqa: D102
        row_s = q.base_s + round_half_away(p.detach()).to(torch.int64)
        out = quantize(w, q, stochastic=stochastic, generator=generator, row_s=row_s)
        ctx.save_for_backward(w, out, row_s)
        ctx.binary = q.method.startswith("binary")
        return out

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        w, out, row_s = ctx.saved_tensors
        level = torch.ldexp(torch.ones((len(row_s), 1), dtype=w.dtype, device=w.device), row_s.reshape(-1, 1))
        m = out / level
        u = w / level
        dq = m if ctx.binary else torch.where(torch.abs(u) <= 1.0, m - u, m)
        gp = (grad * dq).sum(dim=1) * level.reshape(-1) * (math.log(2.0) / math.sqrt(w.shape[1]))
        return grad, gp, None, None, None


def row_offsets(parts: list[tuple[torch.Tensor, int]], method: str) -> torch.Tensor:
    """hwsim.model._quant.row_offsets in PyTorch: float64 and the same frexp rounding, so equal offsets."""
    from ..model._quant import ROW_OFFSET_LIMIT, SQRT_HALF

    with torch.no_grad():
        u = torch.cat([torch.abs(w.detach().double()) * math.ldexp(1.0, -s) for w, s in parts], dim=1)
        a = u.mean(dim=1) * (1.0 if method.startswith("binary") else 2.0)
        mant, ex = torch.frexp(torch.where(a > 0, a, torch.ones_like(a)))
        d = ex.to(torch.int64) - 1 + (mant >= SQRT_HALF).to(torch.int64)
        d = torch.where(a > 0, d, torch.zeros_like(d))
        return torch.clamp(d, -ROW_OFFSET_LIMIT, ROW_OFFSET_LIMIT)


def _row_weights(ws: list[torch.Tensor], qs: list[TensorQuantizer], p: torch.nn.Parameter | None,
                 training: bool, generator) -> list[torch.Tensor]:
    """The quantized copies of the matrices ``ws`` that share per-row scales (learned ``p`` or the statistic)."""
    if any(q is None for q in qs):  # quantizers switched off (the float shadow's evaluation)
        return list(ws)
    if p is not None:
        return [LearnedRowScale.apply(w, p, q, training, generator) for w, q in zip(ws, qs)]
    d = row_offsets([(w, q.base_s) for w, q in zip(ws, qs)], qs[0].method)
    return [StraightThrough.apply(w, q, training, generator, (q.base_s + d).to(w.device)) for w, q in zip(ws, qs)]


@torch.no_grad()
def _clip_rows(ws: list[torch.Tensor], qs: list[TensorQuantizer], p: torch.nn.Parameter | None) -> None:
    """Clamp matrices with per-row scales: learned, to each row's level (TernaryConnect's clip at W0);
    the statistic, to twice the tensor's level (a row may double its level, as ``row-pow2`` did)."""
    for w, q in zip(ws, qs):
        if q is None:
            continue
        if p is None:
            w.clamp_(-q.bound, q.bound)
        else:
            row_s = q.base_s + round_half_away(p.detach()).to(torch.int64)
            b = torch.ldexp(torch.ones((len(row_s), 1), dtype=w.dtype, device=w.device), row_s.reshape(-1, 1))
            w.copy_(torch.maximum(torch.minimum(w, b), -b))


@dataclass(frozen=True)
class QuantConfig:
    """The options every quantized module shares (the ``hwsim train`` flags).

    ``bits``, ``e_min``, ``e_max``, ``zero``, ``biases`` and ``H`` mean what they mean to
    hwsim.model._quant.quantize_model; ``method="full"`` trains the float baseline. ``scale="row"``
    (binary and ternary methods) gives every output row its own power-of-two level, shared by a
    layer's two matrices: the row's mean magnitude (``row_scale="stat"``) or a learned log2 level
    (``row_scale="learned"``: a ``row_log2`` parameter per layer and head, LSQ's gradient).
    """

    method: str = "ternary"
    bits: int | None = None
    e_min: int | None = None
    e_max: int | None = None
    zero: bool = True
    biases: str = "fixed"  # "fixed": biases stay float; "quantized": quantized like the weights
    H: float = 1.0  # binary level, a power of two
    scale: str = "tensor"  # one of SCALES: "tensor" or "row" ("exact", "row-pow2": ternary ablations, no hwsim model)
    row_scale: str = "stat"  # scale="row": one of ROW_SCALES, the row statistic (measured better) or learned log2 levels
    #: Activation-aware QAT: QuantSeqModel's forward pass runs this contract's fixed-point formats
    #: and activation unit (hwsim.training._aqat); None: float activations (weight-only QAT).
    datapath: "DatapathConfig | None" = None

    def __post_init__(self) -> None:
        from ..model._quant import ROW_SCALE_METHODS, _check_bits, _log2_pow2, exp_range

        object.__setattr__(self, "scale", _check_scale(self.scale))
        if self.row_scale not in ROW_SCALES:
            raise QuantError(f"row_scale must be one of {', '.join(ROW_SCALES)}, not {self.row_scale!r}")
        if self.scale == "row" and self.method != "full" and DETERMINISTIC.get(self.method, self.method) not in ROW_SCALE_METHODS:
            raise QuantError(f"per-row scales apply to {', '.join(ROW_SCALE_METHODS)} (and -stoch), not {self.method}")
        if self.datapath is not None:
            from ._aqat import check_datapath

            check_datapath(self.method, self.scale, self.datapath)
        if self.method not in TRAIN_METHODS:
            raise QuantError(f"method must be one of {', '.join(TRAIN_METHODS)}, not {self.method!r}")
        if self.biases not in ("fixed", "quantized"):
            raise QuantError(f"biases must be 'fixed' or 'quantized', not {self.biases!r}")
        _log2_pow2("H", self.H)
        if self.method != "full" and self.bits is not None:
            _check_bits(self.method, self.bits)
        if self.method.startswith("exp") and self.e_min is not None and self.e_max is not None:
            exp_range(bits=self.bits, e_min=self.e_min, e_max=self.e_max)

    @property
    def learned_rows(self) -> bool:
        """Whether modules hold a learned log2 level per output row (``row_log2`` parameters)."""
        return self.method != "full" and self.scale == "row" and self.row_scale == "learned"

    @property
    def code_bits(self) -> int:
        from ..model._quant import DEFAULT_BITS, FIXED_BITS

        kind = CODE_KIND.get(self.method, "binary")
        return self.bits if self.bits is not None else {**FIXED_BITS, **DEFAULT_BITS}[kind]

    def tensor(self, w0: float) -> TensorQuantizer:
        """The quantizer of a tensor whose Glorot bound (TernaryConnect's W0) is ``w0``."""
        from ..model._quant import _log2_pow2, exp_range, pow2_round_w0

        m = self.method
        bits, e_min, e_max = self.code_bits, self.e_min, self.e_max
        if m.startswith("exp") and e_min is not None and e_max is not None:
            bits, e_min, e_max = exp_range(bits=self.bits, e_min=e_min, e_max=e_max)
        s = _log2_pow2("H", self.H) if m.startswith("binary") else pow2_round_w0(w0)
        return TensorQuantizer(m, s=s, bits=bits, e_min=e_min, e_max=e_max, zero=self.zero, scale=self.scale, w0=w0)


def glorot(n_in: int, n_units: int) -> float:
    """The Glorot/Xavier uniform bound ``sqrt(6 / (n_in + n_units))`` (hwsim.model._quant.glorot_bound)."""
    return math.sqrt(6.0 / (n_in + n_units))


def _check_zeros(module: nn.Module, name: str, w: torch.Tensor) -> None:
    """Warn once per mode when the quantized ``w`` is more than ``ZERO_WARN_SHARE`` zeros."""
    n = w.numel()
    zeros = n - int(torch.count_nonzero(w.detach()))
    if n and zeros > ZERO_WARN_SHARE * n:
        warnings.warn(
            f"{type(module).__name__}.{name}: {module.qconfig.method} quantization makes {zeros} of its {n} weights "
            f"zero ({100 * zeros / n:.0f} %, more than {100 * ZERO_WARN_SHARE:.0f} %), so the layer passes almost "
            "no signal and no gradient; initialize with hwsim.torch.init_weights_ (PyTorch's default "
            "initialization lies inside the zero band)",
            QuantizationWarning, stacklevel=4,
        )


class _QuantMixin:
    """Quantized forward for the nn.RNNBase subclasses: the _VF kernel on quantized weights."""

    def _init_rnn(self, base: type, config: QuantConfig, *args, bidirectional: bool, proj_size: int = 0,
                  **kwargs) -> None:
        """``base.__init__`` with PyTorch's arguments, refusing those the datapath cannot honour."""
        name = type(self).__name__
        if bidirectional:
            raise QuantError(f"{name}: bidirectional must be False: the datapath runs one direction, not both")
        if proj_size:
            raise QuantError(f"{name}: proj_size must be 0: the datapath has no projection, not {proj_size!r}")
        if not isinstance(config, QuantConfig):
            raise TypeError(f"{name}: config must be a QuantConfig, not {type(config).__name__}")
        base.__init__(self, *args, **kwargs)
        self._setup_quant(config)

    def _setup_quant(self, config: QuantConfig) -> None:
        self.qconfig = config
        self.quantizers: dict[str, TensorQuantizer | None] = {}
        H = self.hidden_size
        for name in self._flat_weights_names:
            k = int(name.rsplit("_l", 1)[1])
            n_in = self.input_size if k == 0 else H
            if name.startswith("weight_hh"):
                q = config.tensor(glorot(H, H))
            elif name.startswith("weight_ih") or config.biases == "quantized":
                q = config.tensor(glorot(n_in, H))
            else:
                q = None
            self.quantizers[name] = None if config.method == "full" else q
        self.generator: torch.Generator | None = None
        self._zeros_checked: set[bool] = set()  # the modes (training or not) whose weights were checked
        # per-row scales: layer k's w_ih and w_hh rows add up in one accumulator, so they share them
        self.row_groups = {}
        if config.method != "full" and config.scale == "row":
            self.row_groups = {k: [f"weight_ih_l{k}", f"weight_hh_l{k}"] for k in range(self.num_layers)}
        if config.learned_rows:  # log2 offsets to the tensor's level, one per gate row; 0 is the Glorot level
            rows = getattr(self, "weight_ih_l0").shape[0]
            self.row_log2 = nn.ParameterDict({f"l{k}": nn.Parameter(torch.zeros(rows)) for k in self.row_groups})

    def _row_p(self, k: int):
        return self.row_log2[f"l{k}"] if hasattr(self, "row_log2") else None

    def quantized_weights(self) -> list[torch.Tensor]:
        """The weights the forward pass uses: quantized copies (straight-through) or the floats."""
        done = {}
        for k, names in self.row_groups.items():
            ws = _row_weights([getattr(self, n) for n in names], [self.quantizers[n] for n in names], self._row_p(k),
                              self.training, self.generator)
            done.update(zip(names, ws))
        out = []
        check = self.training not in self._zeros_checked
        self._zeros_checked.add(self.training)
        for name in self._flat_weights_names:
            w = getattr(self, name)
            q = self.quantizers[name]
            out.append(done[name] if name in done else w if q is None
                       else StraightThrough.apply(w, q, self.training, self.generator))
            if check and q is not None and name.startswith("weight"):
                _check_zeros(self, name, out[-1])
        return out

    def row_scales(self) -> dict[str, torch.Tensor]:
        """The per-row scales (int64, one per row) of every matrix with per-row scales, by parameter name."""
        out = {}
        for k, names in self.row_groups.items():
            qs = [self.quantizers[n] for n in names]
            p = self._row_p(k)
            if p is not None:
                d = round_half_away(p.detach()).to(torch.int64)
            else:
                d = row_offsets([(getattr(self, n), q.base_s) for n, q in zip(names, qs)], qs[0].method)
            out.update({n: q.base_s + d.cpu() for n, q in zip(names, qs)})
        return out

    @torch.no_grad()
    def clip_weights(self) -> None:
        """Clamp each quantized float weight to its quantizer's range (after every optimizer step)."""
        for k, names in self.row_groups.items():
            _clip_rows([getattr(self, n) for n in names], [self.quantizers[n] for n in names], self._row_p(k))
        grouped = {n for names in self.row_groups.values() for n in names}
        for name in self._flat_weights_names:
            q = self.quantizers[name]
            if q is not None and name not in grouped:
                b = q.bound
                getattr(self, name).clamp_(-b, b)

    def _hx(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0 if self.batch_first else 1]
        return torch.zeros(self.num_layers, n, self.hidden_size, dtype=x.dtype, device=x.device)

    def _run(self, fn, x: torch.Tensor, hx, n_states: int):
        """``fn`` (a _VF kernel) on quantized weights, with dropout between layers in training.

        An unbatched input (T, I) runs as a batch of one, as in PyTorch; ``hx`` is the initial
        state (an (h, c) tuple for the LSTM), zeros when None.
        """
        _check_input(self, x)
        batched = x.dim() == 3
        if not batched:
            x = x.unsqueeze(0 if self.batch_first else 1)
            if hx is not None:
                hx = tuple(h.unsqueeze(1) for h in hx) if n_states == 2 else hx.unsqueeze(1)
        if hx is None:
            hx = (self._hx(x), self._hx(x)) if n_states == 2 else self._hx(x)
        res = fn(x, hx, self.quantized_weights(), self.bias, self.num_layers, float(self.dropout), self.training,
                 False, self.batch_first)
        out, states = res[0], res[1:]
        if not batched:
            out, states = out.squeeze(0 if self.batch_first else 1), tuple(h.squeeze(1) for h in states)
        return out, (states if n_states == 2 else states[0])

    def _packed(self, x, hx, vf):
        """``nn.utils.rnn.pack_padded_sequence`` input, as ``nn.RNN/GRU/LSTM`` take it, on the
        quantized weights: each sequence stops at its own last step, which is also hwsim's
        variable-length definition (docs/datapath.md), so ``h_n`` is what hwsim's head reads."""
        from torch.nn.utils.rnn import PackedSequence

        lstm = vf is torch._VF.lstm
        if hx is None:
            z = torch.zeros(self.num_layers, int(x.batch_sizes[0]), self.hidden_size, dtype=x.data.dtype,
                            device=x.data.device)
            hx = (z, z) if lstm else z
        elif x.sorted_indices is not None:  # the caller's order -> the packing's (longest first)
            hx = tuple(h.index_select(1, x.sorted_indices) for h in hx) if lstm else hx.index_select(1, x.sorted_indices)
        res = vf(x.data, x.batch_sizes, hx, self.quantized_weights(), self.bias, self.num_layers,
                 float(self.dropout), self.training, False)
        out = PackedSequence(res[0], x.batch_sizes, x.sorted_indices, x.unsorted_indices)
        states = tuple(h if x.unsorted_indices is None else h.index_select(1, x.unsorted_indices) for h in res[1:])
        return out, (states if lstm else states[0])


def _check_input(module: nn.Module, x: torch.Tensor) -> None:
    if x.dim() not in (2, 3) or x.shape[-1] != module.input_size:
        layout = "(N, T, {}) (batch_first)" if module.batch_first else "(T, N, {}) (batch_first=False)"
        raise ValueError(f"input must be {layout.format(module.input_size)} or unbatched (T, {module.input_size}), "
                         f"not {tuple(x.shape)}")


class QuantRNN(_QuantMixin, nn.RNN):
    """``nn.RNN`` whose forward uses quantized weights; see the module docstring."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None, *, config: QuantConfig = QuantConfig()) -> None:
        self._init_rnn(nn.RNN, config, input_size, hidden_size, num_layers, nonlinearity=nonlinearity, bias=bias,
                       batch_first=batch_first, dropout=dropout, bidirectional=bidirectional, device=device,
                       dtype=dtype)

    def forward(self, x, hx=None):  # noqa: D102
        fn = torch._VF.rnn_tanh if self.nonlinearity == "tanh" else torch._VF.rnn_relu
        if isinstance(x, nn.utils.rnn.PackedSequence):
            return self._packed(x, hx, fn)
        return self._run(fn, x, hx, 1)


class QuantGRU(_QuantMixin, nn.GRU):
    """``nn.GRU`` whose forward uses quantized weights; see the module docstring."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, device=None,
                 dtype=None, *, config: QuantConfig = QuantConfig()) -> None:
        self._init_rnn(nn.GRU, config, input_size, hidden_size, num_layers, bias=bias, batch_first=batch_first,
                       dropout=dropout, bidirectional=bidirectional, device=device, dtype=dtype)

    def forward(self, x, hx=None):  # noqa: D102
        if isinstance(x, nn.utils.rnn.PackedSequence):
            return self._packed(x, hx, torch._VF.gru)
        return self._run(torch._VF.gru, x, hx, 1)


class QuantLSTM(_QuantMixin, nn.LSTM):
    """``nn.LSTM`` whose forward uses quantized weights; returns ``out, (h, c)``. See the module docstring."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None, *, config: QuantConfig = QuantConfig()) -> None:
        self._init_rnn(nn.LSTM, config, input_size, hidden_size, num_layers, bias=bias, batch_first=batch_first,
                       dropout=dropout, bidirectional=bidirectional, proj_size=proj_size, device=device, dtype=dtype)

    def forward(self, x, hx=None):  # noqa: D102
        if isinstance(x, nn.utils.rnn.PackedSequence):
            return self._packed(x, hx, torch._VF.lstm)
        return self._run(torch._VF.lstm, x, hx, 2)


class QuantLinear(nn.Linear):
    """``nn.Linear`` whose forward uses the quantized weight (and bias when biases are quantized)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None, *,
                 config: QuantConfig = QuantConfig()) -> None:
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.qconfig = config
        q = None if config.method == "full" else config.tensor(glorot(in_features, out_features))
        self.quantizers = {"weight": q, "bias": q if config.biases == "quantized" and bias else None}
        self.generator: torch.Generator | None = None
        self._zeros_checked: set[bool] = set()
        self.rows = config.method != "full" and config.scale == "row"  # per-row scales of the weight
        if config.learned_rows:
            self.row_log2 = nn.Parameter(torch.zeros(out_features))

    def forward(self, x):  # noqa: D102
        ws = []
        for name in ("weight", "bias"):
            w, q = getattr(self, name), self.quantizers[name]
            if name == "weight" and self.rows:
                ws += _row_weights([w], [q], getattr(self, "row_log2", None), self.training, self.generator)
            else:
                ws.append(w if q is None else StraightThrough.apply(w, q, self.training, self.generator))
        if self.training not in self._zeros_checked:
            self._zeros_checked.add(self.training)
            if self.quantizers["weight"] is not None:
                _check_zeros(self, "weight", ws[0])
        return nn.functional.linear(x, ws[0], ws[1])

    def row_scales(self) -> dict[str, torch.Tensor]:
        """The per-row scales of the weight (int64, one per output), or {} without per-row scales."""
        if not self.rows:
            return {}
        q = self.quantizers["weight"]
        p = getattr(self, "row_log2", None)
        d = (round_half_away(p.detach()).to(torch.int64) if p is not None
             else row_offsets([(self.weight, q.base_s)], q.method))
        return {"weight": q.base_s + d.cpu()}

    @torch.no_grad()
    def clip_weights(self) -> None:
        """Clamp the quantized float tensors to their quantizer's range."""
        for name, q in self.quantizers.items():
            if name == "weight" and self.rows:
                _clip_rows([self.weight], [q], getattr(self, "row_log2", None))
            elif q is not None:
                getattr(self, name).clamp_(-q.bound, q.bound)


def init_bound(method: str, n_in: int, n_units: int) -> float:
    """Half-width of the uniform initialization of a weight tensor (see ``init_weights_``)."""
    b = glorot(n_in, n_units)
    return max(b, 0.5) if method == "pow2-ternary" else b


@torch.no_grad()
def init_weights_(module: nn.Module) -> nn.Module:
    """Glorot-uniform weights and zero biases for every hwsim.torch layer in ``module``; returns it.

    Call it once after building a model. PyTorch's default U(-1/sqrt(H), 1/sqrt(H)) lies inside
    W0/2 for most tensors, so deterministic ternarization would start from all zeros (TernaryConnect
    initializes with Glorot for this reason). Pow2-ternarization has the fixed levels {-0.5, 0, 0.5}
    whatever the layer size; where the Glorot bound is below its clip range 0.5, weights start
    uniform on [-0.5, 0.5] instead. Otherwise a wide layer starts with every quantized weight zero
    (|w| < 0.25), the hidden state and the output stay constant, and no gradient ever reaches the
    weights (a saddle the straight-through estimator cannot leave). Weights are clipped to their
    quantizer's range afterwards.
    """
    for m in module.modules():
        if isinstance(m, _QuantMixin):
            method, H = m.qconfig.method, m.hidden_size
            for name, p in m.named_parameters():
                if name.startswith("weight"):
                    n_in = H if name.startswith("weight_hh") or not name.endswith("_l0") else m.input_size
                    p.uniform_(-init_bound(method, n_in, H), init_bound(method, n_in, H))
                else:
                    p.zero_()
            m.clip_weights()
        elif isinstance(m, QuantLinear):
            b = init_bound(m.qconfig.method, m.in_features, m.out_features)
            m.weight.uniform_(-b, b)
            if m.bias is not None:
                m.bias.zero_()
            m.clip_weights()
    return module


CELLS = {"rnn": QuantRNN, "rnn_tanh": QuantRNN, "rnn_relu": QuantRNN, "gru": QuantGRU, "lstm": QuantLSTM}


class QuantSeqModel(nn.Module):
    """A quantized recurrent stack plus a quantized linear head (state_dict keys ``rnn.*``, ``head.*``).

    ``per_step=False`` (classification): the head reads the last layer's state at the last step and
    the output is (N, C). ``per_step=True`` (next-symbol prediction): the head reads every step and
    the output is (N, T, C).
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_classes: int, *, num_layers: int = 1,
                 config: QuantConfig = QuantConfig(), per_step: bool = False) -> None:
        super().__init__()
        if cell not in CELLS:
            raise QuantError(f"cell must be one of {', '.join(CELLS)}, not {cell!r}")
        kw = {"nonlinearity": "relu"} if cell == "rnn_relu" else {}
        self.cell = "rnn_tanh" if cell == "rnn" else cell
        self.config = config
        self.per_step = per_step
        self.rnn = CELLS[cell](input_size, hidden_size, num_layers, batch_first=True, config=config, **kw)
        self.head = QuantLinear(hidden_size, num_classes, config=config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if self.config.datapath is not None:
            return self._datapath_forward(x)
        out, _ = self.rnn(x)
        return self.head(out if self.per_step else out[:, -1])

    def _datapath_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The forward pass in the contract's arithmetic (``QuantConfig.datapath``; hwsim.training._aqat)."""
        from ._aqat import DatapathForward

        if getattr(self, "_dp", None) is None or self._dp.cfg is not self.config.datapath:
            self._dp = DatapathForward(self.config.datapath, self.cell, self.rnn.num_layers)
        _check_input(self.rnn, x)
        ws = dict(zip(self.rnn._flat_weights_names, self.rnn.quantized_weights()))

        def scale(q: TensorQuantizer) -> int:
            return -1 if q.method == "pow2-ternary" else q.s

        layers = []
        for k in range(self.rnn.num_layers):
            names = [f"{n}_l{k}" for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            w_ih, w_hh, b_ih, b_hh = (None if n not in ws else ws[n].double() for n in names)
            layers.append((w_ih, w_hh, b_ih, b_hh, scale(self.rnn.quantizers[names[0]]),
                           scale(self.rnn.quantizers[names[1]])))
        hw, hb = (StraightThrough.apply(w, q, self.training, self.head.generator) if q is not None else w
                  for w, q in ((self.head.weight, self.head.quantizers["weight"]),
                               (self.head.bias, self.head.quantizers["bias"])))
        seq = x if self.rnn.batch_first else x.transpose(0, 1)
        out = self._dp.run(seq, layers, (hw.double(), None if hb is None else hb.double(),
                                         scale(self.head.quantizers["weight"])), self.per_step)
        return out.to(x.dtype)

    def clip_weights(self) -> None:
        """Clamp every quantized float weight to its quantizer's range (call after each step)."""
        self.rnn.clip_weights()
        self.head.clip_weights()

    def set_generator(self, generator: torch.Generator | None) -> None:
        """Use ``generator`` for the stochastic quantizers (reproducible training)."""
        self.rnn.generator = generator
        self.head.generator = generator

    def float_model(self):
        """The float shadow weights as an ``RNNModel`` (no QuantSpec; learned row scales are not weights)."""
        from ..model._modelfile import model_from_tensors

        tensors = {k: v.detach().cpu().double().numpy() for k, v in self.state_dict().items() if "row_log2" not in k}
        return model_from_tensors(tensors, cell=self.cell)

    def quantized_model(self, *, seed: int = 0):
        """The deterministic quantized model hwsim reads: ``hwsim.model._quant.quantize_model`` on the shadows.

        Stochastic methods are saved with their deterministic twin (what evaluation mode uses);
        QuantSpec.params records the training method.
        """
        import dataclasses

        from ..model._quant import quantize_model

        c = self.config
        if c.method == "full":
            return self.float_model()
        if c.scale in ("exact", "row-pow2") and c.method.startswith("ternary"):
            raise QuantError(f"only the 'tensor' and 'row' ternary scales have an hwsim model, not {c.scale!r}")
        method = DETERMINISTIC.get(c.method, c.method)
        kw: dict = {"seed": seed, "biases": c.biases}
        if c.scale == "row":  # the scales the module uses, so the saved model equals its evaluation mode
            rows = {f"rnn.{n}": v.numpy() for n, v in self.rnn.row_scales().items()}
            rows.update({f"head.{n}": v.numpy() for n, v in self.head.row_scales().items()})
            kw.update(scale="row", row_scales=rows)
        if c.bits is not None:
            kw["bits"] = c.bits
        if method.startswith("exp"):
            kw.update(e_min=c.e_min, e_max=c.e_max, zero=c.zero)
        if method.startswith("binary"):
            kw["H"] = c.H
        model = quantize_model(self.float_model(), method, **kw)
        params = dict(model.quant.params)
        params["trained_with"] = c.method
        if c.scale == "row":
            params["row_scale"] = c.row_scale
        return dataclasses.replace(model, quant=dataclasses.replace(model.quant, params=params))

    @torch.no_grad()
    def load_model(self, model) -> None:
        """Copy the tensors of an ``RNNModel`` (same shapes) into this module's float weights."""
        from ..model._modelfile import model_to_tensors

        tensors = model_to_tensors(model)
        state = {}
        for key, arr in tensors.items():
            if key.startswith(model.head_prefix) and model.head is not None and key[len(model.head_prefix):] in (
                "weight", "bias"
            ):
                state["head." + key[len(model.head_prefix):]] = torch.from_numpy(arr)
            else:
                state["rnn." + key[len(model.prefix):]] = torch.from_numpy(arr)
        missing, unexpected = self.load_state_dict(state, strict=False)
        missing = [k for k in missing if "row_log2" not in k]
        if missing or unexpected:
            raise QuantError(f"model tensors must match the module's: missing {missing}, unexpected {unexpected}")
        self._load_row_scales(model)

    @torch.no_grad()
    def _load_row_scales(self, model) -> None:
        """Learned row levels from a row-scaled model's record (offsets to each matrix's tensor level);
        without one they stay where they are (0 after construction: the Glorot level)."""
        if not self.config.learned_rows or model.quant is None or model.quant.granularity != "row":
            return
        scales = model.quant.scales
        for k in self.rnn.row_groups:
            key = f"{model.prefix}weight_ih_l{k}"
            if isinstance(scales.get(key), tuple):
                base = self.rnn.quantizers[f"weight_ih_l{k}"].base_s
                self.rnn.row_log2[f"l{k}"].copy_(torch.tensor(scales[key], dtype=torch.float32) - base)
        key = f"{model.head_prefix}weight"
        if isinstance(scales.get(key), tuple):
            base = self.head.quantizers["weight"].base_s
            self.head.row_log2.copy_(torch.tensor(scales[key], dtype=torch.float32) - base)
