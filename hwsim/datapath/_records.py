"""The schema of the datapath contract as read from TOML or a manifest's ``contract``: the keys of
``DatapathConfig`` with their types (its ranges are ``DatapathConfig``'s own rules). Imported only
when a contract is read (pydantic loads on first use)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, StrictStr
from pydantic_core import PydanticCustomError

from .._validate import Int64, Strict


class FormatTable(Strict):
    bits: Int64
    frac: Int64


def _format_pair(v: Any) -> Any:
    """``[B, F]`` is the short form of ``{bits = B, frac = F}``; anything else of another shape is refused."""
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return {"bits": v[0], "frac": v[1]}
    if not isinstance(v, dict):
        raise PydanticCustomError("format", "must be {bits = B, frac = F} or [B, F]")
    return v


FormatValue = Annotated[FormatTable, BeforeValidator(_format_pair)]


class ContractRecord(Strict):
    """The keys of ``DatapathConfig`` with their types; the ranges are ``DatapathConfig``'s own rules.
    A key may be absent (its default applies), never null."""

    x: FormatValue = None  # type: ignore[assignment]
    h: FormatValue = None  # type: ignore[assignment]
    c: FormatValue = None  # type: ignore[assignment]
    pre: FormatValue = None  # type: ignore[assignment]
    act: FormatValue = None  # type: ignore[assignment]
    out: FormatValue = None  # type: ignore[assignment]
    rounding: StrictStr = None  # type: ignore[assignment]
    overflow: StrictStr = None  # type: ignore[assignment]
    activation: StrictStr = None  # type: ignore[assignment]
    lut_bits: Int64 = None  # type: ignore[assignment]
    sigmoid_range_log2: Int64 = None  # type: ignore[assignment]
    tanh_range_log2: Int64 = None  # type: ignore[assignment]
    bias_int_bits: Int64 = None  # type: ignore[assignment]
    word_bits: Int64 = None  # type: ignore[assignment]
    lanes: Int64 = None  # type: ignore[assignment]
    rows: Int64 = None  # type: ignore[assignment]
    pointwise_units: Int64 = None  # type: ignore[assignment]
    mul_stages: Int64 = None  # type: ignore[assignment]
    weight_scales: StrictStr = None  # type: ignore[assignment]
    in_elems: Int64 = None  # type: ignore[assignment]
    out_elems: Int64 = None  # type: ignore[assignment]
    out_mode: StrictStr = None  # type: ignore[assignment]
    weights: StrictStr = None  # type: ignore[assignment]
