"""``hwsim infer``: run a model on a data set, float reference or bit-accurate fixed point.

Thin layer: ``load_model`` + ``load_data`` + ``float_forward`` / ``run_fixed``, then one ``.npz``
written atomically. Arrays written: ``h`` (N, T, H) last layer, ``c`` (LSTM), ``y`` (N, C) head
output at the last step; the fixed engine adds the integer codes ``h_int`` (``c_int``,
``y_int``). The data set's targets go in as ``target`` when it has them.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from ._options import (
    cell_option,
    config_option,
    data_option,
    limit_option,
    split_option,
)
from . import user_errors

ENGINES = ("float", "fixed")


@click.command("infer")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@data_option()
@click.option("--engine", type=click.Choice(ENGINES), default="float", show_default=True,
              help="float: PyTorch-exact float64 reference; fixed: the bit-accurate datapath.")
@config_option(help="Datapath contract (TOML) for --engine fixed (validated for both engines); the default contract otherwise.")
@cell_option()
@split_option()
@limit_option()
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output .npz file.")
@user_errors
def infer(model: Path, data: str, engine: str, config: Path | None, cell: str | None, split: str | None,
          limit: int | None, output: Path) -> None:
    """Run MODEL (.safetensors, .npz, a torch.save .pt / .pth state_dict, or .onnx) on a data set and write
    its states and outputs to an .npz."""
    from ..data._datasets import load_data, resolve_split
    from .._errors import DataError
    from ..model._modelfile import atomic_write, load_model
    from .._validate import targets_fit

    resolve_split(data, split)  # a --split the data cannot honour: refused before the model is read
    m = load_model(model, cell=cell)
    ds = load_data(data, split=split, input_size=m.input_size)
    if ds.input_size != m.input_size:
        raise DataError(f"{ds.name}: inputs must have {m.input_size} features for this model, not {ds.input_size}")
    if limit is not None:
        ds = ds.head(limit)
    targets_fit(m.num_classes, ds, error=DataError)  # refused exactly as check refuses them
    from ..datapath._config import DEFAULT_CONFIG, DatapathConfig

    # read and validated for both engines: a wrong --config is an error even where it is unused
    cfg = DEFAULT_CONFIG if config is None else DatapathConfig.from_toml(config)

    if engine == "float":
        from ..sim._reference import float_forward

        res = float_forward(m, ds.x, lengths=ds.lengths)
        arrays = {"h": res.h, "c": res.c, "y": res.y}
    else:
        try:
            from ..sim._sim import run_fixed
        except ModuleNotFoundError as e:
            if e.name != "hwsim.sim._sim":
                raise
            raise DataError("the fixed-point engine (hwsim.sim._sim) is not available in this install") from None
        res = run_fixed(m, ds.x, cfg, lengths=ds.lengths)
        arrays = {name: getattr(res, name, None) for name in ("h", "c", "y", "h_int", "c_int", "y_int")}
    if ds.y is not None:
        arrays["target"] = ds.y
    if ds.lengths is not None:  # states after a sequence's last step repeat it (docs/datapath.md)
        arrays["lengths"] = ds.lengths
    arrays = {k: np.asarray(v) for k, v in arrays.items() if v is not None}

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write(output, write)
    summary = f"wrote {output}: {engine} engine, {len(ds)} sequences of {ds.steps} steps from {ds.label}"
    if "y" in arrays and ds.task == "classify":
        acc = float(np.mean(np.argmax(arrays["y"], axis=1) == ds.y))
        summary += f", accuracy {acc:.4f}"
    elif "y" in arrays and ds.task == "regress":
        e = np.asarray(arrays["y"], np.float64) - ds.y
        summary += f", mse {float(np.mean(e * e)):.4g}, mae {float(np.mean(np.abs(e))):.4g}"
    click.echo(summary)
