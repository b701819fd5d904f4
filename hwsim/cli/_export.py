"""``hwsim export``: write weight ROMs (every memory-file format), manifest.json and Verilog."""

from __future__ import annotations

from pathlib import Path

import click

from ..export._tb import DEFAULT_STEPS, default_tb_inputs
from ._options import cell_option, config_option, data_option, limit_option, split_option
from . import PositiveFloat, fail, user_errors


@click.command("export")
@click.argument("qmodel", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(path_type=Path),
              help="Export directory (gets manifest.json, rom/, rtl/).")
@config_option()
@click.option("--word-bits", "word_bits", type=int, default=None,
              help="Weight ROM word width (overrides the contract), at most 1024; weight tiles narrower than it share a word.")
@click.option("--lanes", type=int, default=None, help="Columns per beat: shift-add lanes of every row PE (overrides the contract); any value >= 1.")
@click.option("--rows", type=int, default=None, help="Row PEs: output rows per beat (overrides the contract); any value >= 1.")
@click.option("--pointwise-units", "pointwise_units", type=int, default=None,
              help="Parallel pointwise units (overrides the contract); divides --rows; 0: one per row PE.")
@click.option("--mul-stages", "mul_stages", type=click.IntRange(1, 2), default=None,
              help="Cycles of a pointwise product (overrides the contract): 1, or 2 with a register on its "
                   "operands too (inside the DSP block on ECP5 and iCE40 UltraPlus): 2 more cycles a GRU/LSTM "
                   "layer a step for a faster clock.")
@click.option("--in-elems", "in_elems", type=int, default=None,
              help="x elements per input beat, 1..I (overrides the contract); s_axis_tdata grows to that many byte lanes.")
@click.option("--out-elems", "out_elems", type=int, default=None,
              help="h / head words per output beat (overrides the contract); m_axis_tdata grows to that many lanes.")
@click.option("--out-mode", "out_mode", type=click.Choice(["steps", "last", "head"]), default=None,
              help="What the output stream carries (overrides the contract): every step's h then the head's result, "
                   "the last step's h then the head's, or only the head's.")
@click.option("--weights", "weights", type=click.Choice(("rom", "runtime")), default=None,
              help="rom: weights baked into ROMs; runtime: writable memories behind a load port, the model's image "
                   "in rom/weights.bin (overrides the contract's weights; default rom).")
@click.option("--formats", default="hex,memb,coe,mif,bin", show_default=True,
              help="Comma list of memory-file formats; hex is always written (the RTL reads it).")
@click.option("--top-name", "top_name", default="hwsim_top", show_default=True, help="Name of the generated top module.")
@click.option("--rom-names", "rom_names", type=click.Choice(("dir", "bare")), default="dir", show_default=True,
              help="How the top names the ROM files: dir ({ROM_DIR, \"/NAME.hex\"}) or bare (NAME.hex: Vivado and "
                   "Quartus find memory files added to the project by name).")
@click.option("--module-prefix", "module_prefix", default="hwsim_", show_default=True,
              help="Prefix of the library blocks' module and file names (hwsim_rom becomes PREFIXrom): give each "
                   "export its own to put two in one design.")
@cell_option()
@click.option("--tb-sequences", "tb_sequences", type=click.IntRange(min=0), default=None,
              help="Golden sequences in tb/ (default: 4 random + 2 saturating; with --tb-data: the data set's first N "
                   "(default 8)); 0 writes no tb/.")
@click.option("--tb-steps", "tb_steps", type=click.IntRange(min=1), default=DEFAULT_STEPS, show_default=True,
              help="Steps of each random golden sequence.")
@click.option("--tb-data", "tb_data", default=None,
              help="Golden inputs from a data set (.npz with x, or a built-in name), quantized into the x format "
              "(with lengths in the .npz: each sequence of its own length).")
@click.option("--force", is_flag=True, help="Replace an existing export directory that hwsim wrote (never one of your own files).")
@click.option("--fit", "fit", default=None, metavar="DEVICE",
              help="Choose the folding and widths: the fewest cycles per step whose yosys counts fit DEVICE "
              "(up5k, 25k, ... as `hwsim synth --device`; or FAMILY:DEVICE) within --max-loss of the contract's "
              "fixed-point metric on --data. Prints what it tried; nothing fits: exit 2.")
@click.option("--max-loss", "max_loss", type=PositiveFloat(), default=None,
              help="With --fit: the accuracy points (bits per symbol, mean squared error) a narrower width may lose "
              "against the contract's widths. Default 1.")
@click.option("--fit-pnr", "fit_pnr", is_flag=True,
              help="With --fit: confirm the choice with place and route (nextpnr, seed 1); one it refuses counts as "
              "not fitting and the search goes on. yosys counts are a lower bound of nextpnr's (iCE40 logic cells).")
@data_option(required=False, help="With --fit: the data set the accuracy is measured on (an .npz or a built-in name).")
@split_option()
@limit_option()
@user_errors
def export(qmodel, output, config, word_bits, lanes, rows, pointwise_units, mul_stages, in_elems, out_elems, out_mode, weights,
           formats, top_name, rom_names, module_prefix,
           cell, tb_sequences, tb_steps, tb_data, force, fit, max_loss, fit_pnr, data, split, limit):
    """Export the quantized model QMODEL to an FPGA-ready directory.

    Writes rom/ (weights, biases and activation tables in $readmemh hex, $readmemb, Xilinx .coe,
    Intel .mif and raw .bin), manifest.json (what every bit means, SHA-256 per file), rtl/ (with
    the file list rtl/files.f) and tb/ (golden vectors and a cocotb test: python DIR/tb/run.py).
    The directory appears complete or not at all. Layout: docs/rom_format.md.
    """
    from ..datapath._config import DatapathConfig
    from ..model._modelfile import load_model
    from ..export import check_formats, write_export
    from .._fsutil import prepare_output_dir
    from ..export._export import check_identifier, check_module_prefix, check_output_path

    # Cheap checks first, so bad arguments fail before the model is even read.
    fmts = check_formats(formats)
    check_identifier(top_name)
    check_module_prefix(module_prefix, top_name)
    check_output_path(output)
    prepare_output_dir(output, force=force)
    cfg = DatapathConfig.from_toml(config) if config is not None else DatapathConfig()
    knobs = (("word_bits", word_bits), ("lanes", lanes), ("rows", rows), ("pointwise_units", pointwise_units),
             ("mul_stages", mul_stages), ("in_elems", in_elems), ("out_elems", out_elems), ("out_mode", out_mode), ("weights", weights))
    changes = {k: v for k, v in knobs if v is not None}
    if changes:
        cfg = cfg.replace(**changes)
    if tb_data is not None and tb_sequences == 0:
        raise click.UsageError("--tb-data needs --tb-sequences of at least 1, not 0")
    if fit is None:
        for name, v in (("--max-loss", max_loss), ("--fit-pnr", fit_pnr or None), ("--data", data), ("--split", split),
                        ("--limit", limit)):
            if v is not None:
                fail(f"{name} goes with --fit DEVICE, not alone ({name} {v})")
    else:
        folded = [f"--{k.replace('_', '-')} {v}" for k, v in knobs[1:4] if v is not None]
        if folded:
            fail(f"--fit chooses the folding; give --fit or {folded[0]}, not both")
        if data is None:
            fail(f"--fit {fit} needs --data: the data set its accuracy bound is measured on")
    model = load_model(qmodel, cell=cell)
    if fit is not None:
        cfg = _fit(model, cfg, fit, 1.0 if max_loss is None else max_loss, data, split, limit, fit_pnr)
    tb_inputs = tb_lengths = None
    if tb_data is not None:
        tb_inputs, tb_lengths = _tb_data_inputs(tb_data, model.input_size, cfg, tb_sequences or 8)
    elif tb_sequences or tb_steps != DEFAULT_STEPS:
        from ..datapath._plan import lower

        tb_inputs = default_tb_inputs(lower(model, cfg), tb_sequences or None, tb_steps)
    res = write_export(model, output, cfg, formats=fmts, force=force, top_name=top_name, tb=tb_sequences != 0,
                       tb_inputs=tb_inputs, tb_lengths=tb_lengths, module_prefix=module_prefix,
                       rom_names=rom_names)
    man = res.manifest
    click.echo(
        f"{man['model']['cell']} {man['model']['method']} ({man['model']['code_bits']}-bit codes), "
        f"{cfg.rows} row PE(s) x {cfg.lanes} lane(s), {cfg.pointwise} pointwise unit(s), "
        f"{man['schedule']['cycles_per_step']} cycles/step -> {res.path}"
    )
    for r in man["roms"]:
        click.echo(f"  {r['name']:<14} {r['depth']:>8} x {r['word_bits']:>4} bits  {', '.join(r['files'])}")


def _fit(model, cfg, device: str, max_loss: float, data: str, split, limit, pnr: bool):
    """Run the --fit search, print its account, and return the chosen contract (exit 2: none fits)."""
    from ..data._datasets import load_data, resolve_split
    from ..fit import device_family, fit_device, format_fit, pnr_verdict

    device_family(device)  # a bad name is refused before any work
    resolve_split(data, split)
    ds = load_data(data, split=split, input_size=model.input_size)
    if limit is not None:
        ds = ds.head(limit)
    res = fit_device(model, ds, device, max_loss=max_loss, base=cfg, confirm=pnr_verdict if pnr else None,
                     on_trial=lambda t: click.echo(f"  yosys {t.label}, {t.folding}: "
                                                   + ("fits" if t.fits else "does not fit"), err=True))
    click.echo(format_fit(res))
    if res.config is None:
        smallest = max((t for t in res.trials if not t.fits), key=lambda t: t.cycles_per_step, default=None)
        over = None if smallest is None else f"{smallest.label}, {smallest.folding}: {smallest.does_not_fit}"
        fail(f"nothing fits {res.target} {res.device} within {max_loss:g} of the contract's metric"
             + (f"; the smallest tried: {over}" if over else "; no width kept the accuracy"))
    return res.config


def _tb_data_inputs(data: str, input_size: int, cfg, n: int):
    """The first ``n`` sequences of a data set, quantized into the x format, and their lengths (or None)."""
    import numpy as np

    from ..data._datasets import load_data
    from .._errors import DataError
    from ..datapath._fixed import quantize_float

    ds = load_data(data, input_size=input_size)
    x = np.asarray(ds.x)
    if x.ndim != 3 or x.shape[2] != input_size:
        raise DataError(f"data must have shape (N, T, {input_size}) for this model, not {x.shape}")
    x_int, _ = quantize_float(x[:n], cfg.x, cfg.rounding, cfg.overflow)
    return x_int, None if ds.lengths is None else ds.lengths[:n]
