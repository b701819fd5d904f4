"""The schema of the quantization record a model file carries (safetensors metadata, the
``__hwsim_quant__`` member of an ``.npz``), checked by ``hwsim._validate`` before ``QuantSpec``
applies its own rules. Imported only when a record is read (pydantic loads on first use)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt

from .._validate import Name, Open, Scale
from ._kinds import METHODS


class QuantRecord(Open):
    """``QuantSpec.to_json()`` as read back from a model file."""

    method: Literal[METHODS]
    bits: Annotated[StrictInt, Field(ge=1, le=32)]
    scales: dict[Name, Scale | Annotated[list[Scale], Field(min_length=1)]]  # a list: one scale per row
    biases: Literal["fixed", "quantized"] = "fixed"
    e_min: Scale | None = None
    e_max: Scale | None = None
    zero: StrictBool = True
    params: dict[str, Any] = Field(default_factory=dict)
