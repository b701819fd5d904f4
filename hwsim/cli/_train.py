"""``hwsim train``: quantization-aware training of a recurrent model (needs the [train] extra)."""

from __future__ import annotations

from pathlib import Path

import click

from .._errors import QuantError
from ..training._train import SCHEDULES, TRAIN_METHODS
from ._options import cell_option
from . import fail, user_errors


@click.command("train")
@cell_option(default="gru", help="Recurrent cell.")
@click.option("--hidden", type=click.IntRange(min=1), default=32, show_default=True, help="Hidden size H.")
@click.option("--layers", type=click.IntRange(min=1), default=1, show_default=True, help="Stacked layers.")
@click.option("--method", type=click.Choice(TRAIN_METHODS), default="ternary", show_default=True,
              help="Quantizer in the loop; 'full' trains the float baseline.")
@click.option("--data", required=True,
              help="Built-in data set (digits, fashion, kjv) or an .npz file: per-split arrays x_train, y_train, "
              "x_test, y_test (x_valid, y_valid optional), or one set x, y that is split by a seeded, stratified "
              "holdout (--valid-fraction, --test-fraction, --split-seed).")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Model file to write (.safetensors or .npz); metrics go to the same name with .json.")
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--lr", type=float, default=1e-2, show_default=True, help="Adam learning rate.")
@click.option("--batch", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Train on this many sequences (seeded subset).")
@click.option("--eval-limit", type=click.IntRange(min=1), default=None,
              help="Validate and test on this many sequences (seeded subset).")
@click.option("--bits", type=int, default=None, help="Code width: exp 2-6 (default 4), uniform 2-16 (default 4).")
@click.option("--e-min", "e_min", type=int, default=None, help="exp: smallest exponent.")
@click.option("--e-max", "e_max", type=int, default=None, help="exp: largest exponent (default: per tensor).")
@click.option("--paper-exact", is_flag=True, help="exp: no zero code, as in the paper's code.")
@click.option("--H", "H", type=float, default=1.0, show_default=True, help="binary: level H (a power of two).")
@click.option("--biases", type=click.Choice(["fixed", "quantized"]), default="fixed", show_default=True,
              help="Keep biases in fixed point, or quantize them like the weights (as the paper did).")
@click.option("--scale", type=click.Choice(["tensor", "row"]), default="tensor", show_default=True,
              help="Power-of-two scales: one per tensor (the paper's), or one per output row (binary and ternary "
              "methods; a shift per row in hardware).")
@click.option("--row-scale", "row_scale", type=click.Choice(["stat", "learned"]), default="stat", show_default=True,
              help="--scale row: take each row's level from its mean magnitude, or learn its log2 (straight-through "
              "round, LSQ gradient); docs/training.md compares them.")
@click.option("--teacher", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Float model file to distil from: its outputs join the labels as training targets.")
@click.option("--distill-temperature", "distill_temperature", type=click.FloatRange(min=0, min_open=True), default=2.0,
              show_default=True, help="--teacher: softmax temperature T of teacher and student.")
@click.option("--distill-weight", "distill_weight", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="--teacher: loss = (1 - w) * cross-entropy + w * T^2 * KL(teacher || student).")
@click.option("--schedule", type=click.Choice(SCHEDULES), default="constant", show_default=True,
              help="Learning rate: constant, or halved after 2 epochs without a better validation metric.")
@click.option("--patience", type=click.IntRange(min=0), default=0, show_default=True,
              help="Stop after this many epochs without a better validation metric (0: run every epoch).")
@click.option("--valid-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.1,
              show_default=True, help="Share held out for validation: of train when the data has no valid part, of "
              "each class of a one-set file.")
@click.option("--test-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.2,
              show_default=True, help="Share of each class of a one-set file held out for test.")
@click.option("--split-seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of a one-set file's holdout (independent of --seed).")
@click.option("--datapath", "datapath", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Activation-aware QAT: run the forward pass in this contract's fixed-point formats and activation "
              "unit (TOML, docs/datapath.md), straight-through backward; binary, ternary and pow2-ternary methods.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="PyTorch CPU threads.")
@click.option("--device", default="cpu", show_default=True, help="PyTorch device of the training: cpu, cuda or cuda:N.")
@click.option("--check", is_flag=True,
              help="Also measure the bit-accurate fixed-point metric of the saved model on the test set (the --datapath "
              "contract, or the default 16-bit one).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@user_errors
def train(cell, hidden, layers, method, data, output, epochs, lr, batch, seed, limit, eval_limit, bits, e_min,
          e_max, paper_exact, H, biases, scale, row_scale, teacher, distill_temperature, distill_weight, schedule,
          patience, valid_fraction, test_fraction, split_seed, datapath, threads, device, check, force, quiet):
    """Train a quantized RNN/GRU/LSTM on the --data set and write the quantized model to --output.

    Float shadow weights, quantized forward pass, straight-through gradients (Ott et al. 2016).
    The best epoch by validation metric is kept; the saved model holds its deterministic
    quantized weights and is a valid input to hwsim check and hwsim export. The float shadow
    weights go to NAME.float.SUFFIX beside it, for hwsim check --float-model.

    Train, validation and test never share a sequence: the test metric is measured on the data's
    test part, or on the held-out share of a one-set file (its seed and fractions are in the
    metrics JSON, under "split").
    """
    from ..data._datasets import BUILTINS, load_data
    from ..training._train import TrainConfig, command_line, float_model_path, import_torch
    from ..training._train import train as run

    import_torch()  # TorchMissing (an HwsimError): one line naming the [train] extra, exit 2
    if data not in BUILTINS and not Path(data).is_file():  # input errors before output errors
        load_data(data, split="train")  # raises the data module's one-line DataError
    float_out = None if method == "full" else float_model_path(output)
    for path in (output, float_out):
        if path is not None and path.exists() and not force:
            fail(f"output file {path} exists; pass --force to overwrite it")
    if paper_exact and method not in ("exp", "exp-stoch"):
        raise QuantError(f"--paper-exact applies to exp and exp-stoch only, not {method}")
    if teacher is not None and not teacher.is_file():
        fail(f"--teacher must be an existing model file, not found: {teacher}")
    config = TrainConfig(
        cell=cell, hidden=hidden, method=method, data=data, layers=layers, epochs=epochs, lr=lr, batch=batch,
        seed=seed, limit=limit, eval_limit=eval_limit, bits=bits, e_min=e_min, e_max=e_max, zero=not paper_exact,
        biases=biases, H=H, threads=threads, check=check, schedule=schedule, patience=patience,
        device=device, valid_fraction=valid_fraction, test_fraction=test_fraction, split_seed=split_seed,
        datapath=None if datapath is None else str(datapath),
        scale=scale, row_scale=row_scale, teacher=None if teacher is None else str(teacher),
        distill_temperature=distill_temperature, distill_weight=distill_weight,
    )
    result = run(config, output, progress=not quiet, command=command_line(config, output))
    m = result.metrics
    name = m["metric"]
    fmt = (lambda v: f"{100 * v:.2f}%") if name == "accuracy" else (lambda v: f"{v:.4g}")
    sp = m["split"]
    click.echo(
        f"{cell} H={hidden} {method} on {data}: test {name} {fmt(m['test_metric'])} on {m['n_test']} sequences of {sp['test']} "
        f"(float shadow {fmt(m['shadow_test_metric'])}"
        + ("" if m["fixed_test_metric"] is None else f", bit-accurate fixed point {fmt(m['fixed_test_metric'])}")
        + f"), trained on {m['n_train']} of {sp['train']}, best epoch {m['best_epoch']}/{epochs} by validation "
        f"on {m['n_valid']} of {sp['valid']}, {m['wall_s']:.1f} s -> {output}"
    )
    if float_out is not None:
        click.echo(f"float shadow weights -> {float_out} (hwsim check {output} --float-model {float_out})")
