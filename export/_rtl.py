"""``write_rtl``: the Verilog of an export -- the templates of ``rtl_templates/`` plus a thin top.

The blocks in ``rtl_templates/`` are real, parameterized Verilog-2005; the only generated text is
the top module (``templates/top.v.j2``), which sets every block's parameters from the plan and
chains the layers. Jinja2 runs with ``StrictUndefined`` and filters that emit Verilog literals;
every identifier and path is validated before it reaches the output (docs/rtl.md).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2

from hwsim.model._codes import KIND_CODE
from hwsim.datapath._config import ACTIVATION_CODE, OUT_MODES, OVERFLOW_CODE, ROUNDING_CODE
from hwsim._errors import FormatError
from hwsim.datapath._schedule import head_folding

from ._pack import ROM_CHECK_BITS, ROM_CHECK_MAGIC_HEX, ROM_CHECK_NAME, row_shift_bits, tiles_per_word

#: The synthesizable blocks copied into every export, in dependency order.
RTL_SOURCES = (
    "hwsim_rom.v",
    "hwsim_requant.v",
    "hwsim_delay.v",
    "hwsim_lane.v",
    "hwsim_act.v",
    "hwsim_mul.v",
    "hwsim_matvec.v",
    "hwsim_pointwise.v",
    "hwsim_layer.v",
    "hwsim_head.v",
    "hwsim_axis_ctrl.v",
)
#: Added to an export with run-time weights (``weights = "runtime"``).
LOADER_SOURCE = "hwsim_loader.v"
#: RNN cell -> CELL parameter of hwsim_layer.
CELL_CODE = {"rnn_tanh": 0, "rnn_relu": 1, "gru": 2, "lstm": 3}

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ROM_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")


def templates_dir() -> Path:
    """Directory holding the Verilog blocks (``hwsim.rtl_templates``)."""
    import hwsim.rtl_templates as rt

    return Path(rt.__file__).resolve().parent


def rtl_sources(loader: bool = False) -> list[Path]:
    """Paths of the synthesizable blocks, in dependency order (``loader``: with ``hwsim_loader.v``)."""
    d = templates_dir()
    return [d / name for name in RTL_SOURCES + ((LOADER_SOURCE,) if loader else ())]


def _vint(v: Any) -> str:
    """A Python int as a Verilog decimal literal (negative values as ``-N``)."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise FormatError(f"Verilog parameter must be an int, not {v!r}")
    return str(v)


def _vstr(v: Any) -> str:
    """A Python str as a Verilog string literal; refuses quotes, backslashes and control characters."""
    if not isinstance(v, str) or any(ch in '"\\' or not ch.isprintable() for ch in v):
        raise FormatError(f"Verilog string must hold no quotes, backslashes or control characters, not {v!r}")
    return f'"{v}"'


def _vident(v: Any) -> str:
    if not isinstance(v, str) or not _IDENT.match(v):
        raise FormatError(f"Verilog identifier must match [A-Za-z_][A-Za-z0-9_]*, not {v!r}")
    return v


def environment() -> jinja2.Environment:
    """The Jinja2 environment of the RTL templates: strict, trimmed, with Verilog-literal filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).resolve().parent / "templates")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(vint=_vint, vstr=_vstr, vident=_vident)
    return env


def _round8(bits: int) -> int:
    return -(-bits // 8) * 8


def _row_shift(name: str, shifts) -> dict[str, Any]:
    """The RSH_* parameters of a matvec: no shift ROM (``bits`` 0), or its file, field width and largest shift."""
    if shifts is None:
        return {"bits": 0, "max": 0, "file": ""}
    e_max = max(int(e.max(initial=0)) for e in shifts)
    return {"bits": row_shift_bits(e_max), "max": e_max, "file": f"{name}.hex"}


def top_params(plan, top: str = "hwsim_top") -> dict[str, Any]:
    """Every number the generated top needs, taken from the plan (the template only prints them)."""
    _vident(top)
    cfg = plan.config
    act = cfg.activation
    common = {
        "round_mode": ROUNDING_CODE[cfg.rounding],
        "overflow_mode": OVERFLOW_CODE[cfg.overflow],
        "kind": KIND_CODE[plan.codec.kind],
        "code_bits": plan.codec.bits,
        "word_bits": cfg.word_bits,
        "lanes": cfg.lanes,
        "rows": cfg.rows,
        "pointwise_units": cfg.pointwise,
        "mul_stages": cfg.mul_stages,
        "tiles_per_word": tiles_per_word(cfg.word_bits, cfg.rows * cfg.lanes * plan.codec.bits),
    }
    layers = []
    for lp in plan.layers:
        lc, luts = plan.layer_config(lp.index), plan.lut_roms(lp.index)
        layers.append({
            # per-layer precision (the global contract's values unless the config overrides the layer)
            "fmt": {n: getattr(lc, n) for n in ("h", "c", "pre", "act")},
            "act_kind": ACTIVATION_CODE[lc.activation],
            "lut_bits": lc.lut_bits,
            "sig_range": lc.sigmoid_range_log2,
            "tanh_range": lc.tanh_range_log2,
            "round_mode": ROUNDING_CODE[lc.rounding],
            "overflow_mode": OVERFLOW_CODE[lc.overflow],
            "sig_file": f"{luts[0]}.hex" if luts else "",
            "tanh_file": f"{luts[1]}.hex" if luts else "",
            "index": lp.index,
            "n_in": lp.accums[0].n_in if lp.accums[0].n_in else plan.input_size,
            "u_bits": lp.in_fmt.bits,
            "shift_in": lp.shift_in,
            "shift_rec": lp.shift_rec,
            "acc_bits": lp.acc_bits,
            "acc_frac": lp.acc_frac,
            "weights": f"l{lp.index}_weights.hex",
            "bias": f"l{lp.index}_bias.hex",
            "rsh": _row_shift(f"l{lp.index}_shift", None if lp.accums[0].row_shift is None else [a.shifts() for a in lp.accums]),
        })
    head = None
    if plan.head is not None:
        hd = plan.head
        hc = plan.head_config()
        hr, hl = head_folding(plan)
        head = {
            "out": hc.out,
            "round_mode": ROUNDING_CODE[hc.rounding],
            "overflow_mode": OVERFLOW_CODE[hc.overflow],
            "classes": int(hd.m.shape[0]),
            "rows": hr,
            "lanes": hl,
            "tiles_per_word": tiles_per_word(cfg.word_bits, hr * hl * plan.codec.bits),
            # one lane and one pointwise unit: the head reads h through the last layer's h port
            "ext_h": int(cfg.lanes == 1 and cfg.pointwise == 1),
            "shift": hd.shift,
            "acc_bits": hd.acc_bits,
            "acc_frac": hd.acc_frac,
            "weights": "head_weights.hex",
            "bias": "head_bias.hex",
            "rsh": _row_shift("head_shift", None if hd.row_shift is None else [hd.shifts()]),
        }
    last = plan.layer_config(len(plan.layers) - 1)
    out_fmt = plan.head_config().out if plan.head is not None else cfg.out
    for name in [l["weights"] for l in layers] + [l["bias"] for l in layers] + [l["sig_file"] for l in layers if l["sig_file"]]:
        if not _ROM_NAME.match(name):
            raise FormatError(f"ROM file name must match [A-Za-z0-9_][A-Za-z0-9_.-]*, not {name!r}")
    return {
        "top": top,
        "cell": CELL_CODE[plan.cell],
        "cell_name": plan.cell,
        "input_size": plan.input_size,
        "hidden": plan.hidden_size,
        "num_layers": len(plan.layers),
        "fmt": {n: getattr(cfg, n) for n in ("x", "h", "c", "pre", "act", "out")},
        "h_last": last.h,  # the stream's h beats and the head read the last layer's h
        "out_fmt": out_fmt,
        "act_kind": ACTIVATION_CODE[act],
        "lut_bits": cfg.lut_bits,
        "sig_range": cfg.sigmoid_range_log2,
        "tanh_range": cfg.tanh_range_log2,
        "sig_file": "sigmoid_lut.hex" if act == "lut" else "",
        "tanh_file": "tanh_lut.hex" if act == "lut" else "",
        # the stream: in_elems / out_elems lanes of whole bytes (docs/rtl.md, "Beat order")
        "s_width": cfg.in_elems * _round8(cfg.x.bits),
        "m_width": cfg.out_elems * _round8(max(last.h.bits, out_fmt.bits)),
        "in_elems": cfg.in_elems,
        "out_elems": cfg.out_elems,
        "out_mode": OUT_MODES.index(cfg.out_mode),
        "common": common,
        "layers": layers,
        "head": head,
    }


#: How the top names its ROM files: "dir" ({ROM_DIR, "/name.hex"}) or "bare" ("name.hex", for tools
#: that find memory files added to the project by name: Vivado, Quartus).
ROM_NAMES = ("dir", "bare")


def rom_check_params(params: dict[str, Any]) -> dict[str, Any]:
    """What the top's ROM check reads (docs/rom_format.md, "ROM check"): the magic file, its word and
    whether a load image writes every memory the core reads from a file (no activation tables), so
    that an accepted image alone makes ``rom_ok`` 1 (docs/rtl.md, "ROM check")."""
    tables = any(l["sig_file"] for l in params["layers"])  # the layers' tables: not in the image
    return {
        "file": f"{ROM_CHECK_NAME}.hex",
        "bits": ROM_CHECK_BITS,
        "magic_hex": ROM_CHECK_MAGIC_HEX,
        "image_all": 0 if tables else 1,
    }


def render_top(plan, top: str = "hwsim_top", loader: dict | None = None, rom_names: str = "dir") -> str:
    """The text of the generated top module for ``plan``; ``loader`` (``_image.loader_params``) adds
    the run-time weight port; ``rom_names`` (``ROM_NAMES``) how it names the ROM files."""
    if rom_names not in ROM_NAMES:
        raise FormatError(f"ROM file naming must be one of {', '.join(ROM_NAMES)}, not {rom_names!r}")
    params = top_params(plan, top)  # the ROM check stays out of these: they are the image's design key
    return environment().get_template("top.v.j2").render(
        **params, rom_check=rom_check_params(params), loader=loader, rom_names=rom_names
    )


#: The library blocks' common name prefix; ``module_prefix`` replaces it (docs/rtl.md, "Packaging").
BLOCK_PREFIX = "hwsim_"
_BLOCK_NAME = re.compile(
    r"\b" + BLOCK_PREFIX + "(" + "|".join(Path(n).stem[len(BLOCK_PREFIX):] for n in RTL_SOURCES + (LOADER_SOURCE,)) + r")\b"
)


def prefixed(text: str, prefix: str) -> str:
    """``text`` with every library block's module name ``hwsim_X`` renamed ``{prefix}X`` (whole identifiers only)."""
    return text if prefix == BLOCK_PREFIX else _BLOCK_NAME.sub(lambda m: prefix + m.group(1), text)


def block_names(prefix: str = BLOCK_PREFIX, loader: bool = True) -> list[str]:
    """The module names of the library blocks under ``prefix``."""
    return [prefix + Path(n).stem[len(BLOCK_PREFIX):] for n in RTL_SOURCES + ((LOADER_SOURCE,) if loader else ())]


def write_rtl(plan, out_dir: Path, manifest: dict, loader: dict | None = None) -> list[Path]:
    """Fill ``out_dir`` (an export's ``rtl/``) with the blocks and the generated top; return the paths.

    The top's name comes from ``manifest["rtl"]["top"]`` (default ``hwsim_top``); the ROM files are
    found through its ``ROM_DIR`` parameter (default ``"../rom"``, see docs/rtl.md). ``loader``
    (``_image.loader_params``) makes the memories writable behind a load port (``hwsim_loader.v``).
    ``manifest["rtl"]["module_prefix"]`` (default ``hwsim_``) names the blocks and their files
    (``hwsim_rom`` becomes ``{prefix}rom``), so two exports can live in one design.
    """
    rtl = manifest.get("rtl") or {}
    top = _vident(rtl.get("top", "hwsim_top"))
    prefix = rtl.get("module_prefix", BLOCK_PREFIX)
    if top in block_names(prefix) or top in block_names():
        raise FormatError(f"top module name must differ from the library blocks ({', '.join(block_names(prefix))}), not {top!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = prefixed(render_top(plan, top, loader, rtl.get("rom_names", "dir")), prefix)
    written = []
    for src in rtl_sources(loader is not None):
        dst = out_dir / prefixed(src.name, prefix)
        dst.write_text(prefixed(src.read_text(encoding="utf-8"), prefix), encoding="utf-8")
        written.append(dst)
    top_path = out_dir / f"{top}.v"
    top_path.write_text(text, encoding="utf-8")
    written.append(top_path)
    return written


#: Clock constraint templates written to ``DIR/constraints/`` (docs/rtl.md, "Packaging").
CLOCK_MHZ = 100.0


def constraint_files(top: str, mhz: float = CLOCK_MHZ) -> dict[str, bytes]:
    """``constraints/<top>.xdc`` (Vivado) and ``.sdc`` (Quartus, and any SDC tool): the top's clock ``clk``."""
    period = f"{1000.0 / mhz:.3f}"
    head = (f"hwsim export {top}: clock constraint template ({mhz:g} MHz); set the period of your board's clock. "
            "rst and the stream ports are synchronous to clk.")
    xdc = (f"# {head}\ncreate_clock -name clk -period {period} [get_ports clk]\n")
    sdc = (f"# {head}\ncreate_clock -name clk -period {period} [get_ports {{clk}}]\nderive_clock_uncertainty\n")
    return {f"constraints/{top}.xdc": xdc.encode(), f"constraints/{top}.sdc": sdc.encode()}
