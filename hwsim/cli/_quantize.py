"""``hwsim quantize``: quantize a float model file with one of the seed paper's methods."""

from __future__ import annotations

from pathlib import Path

import click

from ._options import cell_option
from .._errors import QuantError
from ..model._model import METHODS
from . import fail, user_errors


@click.command("quantize")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output model file (.safetensors or .npz).")
@click.option("--method", required=True, type=click.Choice(METHODS), help="Quantization method.")
@click.option("--bits", type=int, default=None,
              help="Code width: exp 2-6 (default 4, or the smallest that holds --e-min..--e-max), "
              "uniform 2-16 (default 4).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the stochastic methods.")
@click.option("--w0", type=float, default=None,
              help="Ternary scale for every tensor instead of each tensor's Glorot bound (rounded to a power of two).")
@click.option("--e-min", "e_min", type=int, default=None, help="exp: smallest exponent.")
@click.option("--e-max", "e_max", type=int, default=None,
              help="exp: largest exponent (default: per tensor, the largest any weight rounds to).")
@click.option("--H", "H", type=float, default=1.0, show_default=True, help="binary: scale H (a power of two).")
@click.option("--biases", type=click.Choice(["fixed", "quantized"]), default="fixed", show_default=True,
              help="Keep biases in fixed point, or quantize them like the weights.")
@click.option("--scale", type=click.Choice(["tensor", "row"]), default="tensor", show_default=True,
              help="One power-of-two scale per tensor, or one per output row (binary and ternary methods: each "
              "layer's rows take the level of their mean magnitude; a shift per row in hardware).")
@click.option("--paper-exact", is_flag=True, help="exp: no zero code; w = 0 maps to -2**e_min, as in the paper's code.")
@cell_option()
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@user_errors
def quantize(model, output, method, bits, seed, w0, e_min, e_max, H, biases, scale, paper_exact, cell, force):
    """Quantize MODEL's weights and write the quantized model to OUTPUT.

    MODEL is a PyTorch state_dict (.safetensors, .npz, torch.save .pt/.pth) or an ONNX graph
    (.onnx: RNN/GRU/LSTM nodes and a Gemm or MatMul+Add head; needs the onnx package, hwsim[onnx]).

    Every quantized weight is m * 2**s with m an integer code and s one power-of-two scale per
    tensor (or per output row with --scale row); the record (method, code width, scales,
    parameters) is stored in the output file.
    """
    from ..model._modelfile import load_model, save_model
    from ..model._quant import decode_model_codes, quantize_model

    # input errors first: a missing model is reported before an existing output
    if paper_exact and method not in ("exp", "exp-stoch"):
        raise QuantError(f"--paper-exact applies to exp and exp-stoch only, not {method}")
    float_model = load_model(model, cell=cell)
    if output.suffix not in (".safetensors", ".npz"):
        fail(f"output file name must end in .safetensors or .npz, not {output.name!r}")
    if output.exists() and not force:
        fail(f"output file {output} exists; pass --force to overwrite it")
    q = quantize_model(
        float_model, method, bits=bits, seed=seed, w0=w0, e_min=e_min, e_max=e_max,
        biases=biases, zero=not paper_exact, H=H, scale=scale,
    )
    codes = decode_model_codes(q)  # the file we write must decode; fail before writing if not
    save_model(q, output)
    spec = q.quant
    click.echo(f"wrote {output}: {method}, {spec.bits}-bit codes, {len(codes)} tensors quantized, biases {biases}")
    for key, (m, s) in codes.items():
        zeros = float((m == 0).mean()) if m.size else 0.0
        s_text = f"{s:4d}" if isinstance(s, int) else f"{int(s.min())}..{int(s.max())} (per row)"
        click.echo(f"  {key:<28} s = {s_text}  m in [{int(m.min())}, {int(m.max())}]  zeros {zeros:6.1%}")
