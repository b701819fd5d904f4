"""Co-simulation: run an exported design under Icarus Verilog (through cocotb) and compare every
hidden state, cell state and head output, at every step, with the bit-accurate simulator.

The simulator's model is rebuilt from the export itself (``plan_from_export``: the manifest's
contract, shifts and biases, the weight codes decoded from the ROM files), so the comparison checks
the files an FPGA flow would use, not a copy of the model. docs/rtl.md describes the stream.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._activation import lut_table
from ._codes import WeightCodec
from ._config import DatapathConfig
from ._errors import FormatError, ToolError
from ._plan import Accum, HeadPlan, LayerPlan, Plan
from ._schedule import cycles_per_step
from ._repr import short_repr

#: Sequences per harness run: bounds the stimulus memory and the size of one record file.
CHUNK = 256


@dataclass
class CosimReport:
    """What ``cosim`` found. ``first_mismatch`` is None when every value agreed."""

    __repr__ = short_repr

    sequences: int
    steps: int
    mismatches: int
    first_mismatch: dict[str, Any] | None
    cycles_per_step: float | None
    model_cycles_per_step: int
    head_cycles: float | None
    model_head_cycles: int
    saturations: int | None = None
    model_saturations: int | None = None
    timed_out: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            self.mismatches == 0
            and not self.timed_out
            and self.cycles_per_step == self.model_cycles_per_step
            and (self.model_head_cycles == 0 or self.head_cycles == self.model_head_cycles)
            and self.saturations == self.model_saturations
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "sequences": self.sequences,
            "steps": self.steps,
            "mismatches": self.mismatches,
            "first_mismatch": self.first_mismatch,
            "cycles_per_step": self.cycles_per_step,
            "model_cycles_per_step": self.model_cycles_per_step,
            "head_cycles": self.head_cycles,
            "model_head_cycles": self.model_head_cycles,
            "saturations": self.saturations,
            "model_saturations": self.model_saturations,
            "timed_out": self.timed_out,
        }


# -- the plan, rebuilt from an export -------------------------------------------------------------
def plan_from_export(export_dir: str | os.PathLike) -> tuple[Plan, dict[str, Any]]:
    """Rebuild the integer plan from ``DIR/manifest.json`` and the ROM files (hex).

    Returns ``(plan, manifest)``. Raises ``FormatError`` when the export is incomplete or changed.
    """
    from hwsim.export._manifest import bias_fields, read_manifest, read_rom, segment_codes
    from hwsim.export._pack import words_to_ints

    d = Path(export_dir)
    if not d.is_dir():
        raise FormatError(f"export directory must exist, not found: {d}")
    man = read_manifest(d)
    if not man.get("rtl"):
        raise FormatError(f"{d} holds no RTL (export without --no-rtl)")
    cfg = DatapathConfig.from_dict(man["contract"], source=str(d / "manifest.json"))
    mod = man["model"]
    codec = WeightCodec(man["codes"]["kind"], int(man["codes"]["bits"]))
    roms = {r["name"]: r for r in man["roms"]}

    def matrices(name: str) -> dict[str, np.ndarray]:
        return {seg["name"]: codec.decode(c) for seg, c in segment_codes(read_rom(d, name, "hex", man), roms[name])}

    def biases(name: str) -> dict[str, np.ndarray]:
        entry = roms[name]
        f = bias_fields(read_rom(d, name, "hex", man), entry)
        n = entry["rows_per_word"]
        return {s["name"]: f[s["start"] * n : s["start"] * n + s["rows"]] for s in entry["segments"]}

    def ints(name: str) -> np.ndarray:
        entry = roms[name]
        return np.array(words_to_ints(read_rom(d, name, "hex", man), entry["word_bits"], signed=True), dtype=np.int64)

    layers = []
    for lj in man["layers"]:
        mats = matrices(lj["weights_rom"])
        bias_rom = biases(lj["bias_rom"])
        accums = []
        for aj in lj["accumulations"]:
            b = bias_rom[aj["name"]]
            if not np.array_equal(b, np.asarray(aj["bias"], dtype=np.int64)):
                raise FormatError(f"ROM {lj['bias_rom']}: biases of {aj['name']} disagree with the manifest")
            accums.append(Accum(aj["name"], mats[aj["name"]], aj["n_in"], aj["n_rec"], b))
        in_fmt = cfg.x if lj["index"] == 0 else cfg.layer_config(lj["index"] - 1).h
        layers.append(
            LayerPlan(
                lj["index"], in_fmt, lj["s_in"], lj["s_rec"], lj["acc_frac"], lj["shift_in"], lj["shift_rec"],
                lj["acc_bits"], tuple(accums),
            )
        )
    head = None
    if man.get("head"):
        hj = man["head"]
        head = HeadPlan(hj["s"], hj["acc_frac"], hj["shift"], hj["acc_bits"], matrices(hj["weights_rom"])["head"], biases(hj["bias_rom"])["head"])
    sig, tanh = lut_table("sigmoid", cfg), lut_table("tanh", cfg)
    plan = Plan(cfg, mod["cell"], codec, mod["input_size"], mod["hidden_size"], tuple(layers), head, sig, tanh)
    for k in range(len(layers)):  # every layer's tables (shared or its own) must be its contract's
        names = plan.lut_roms(k)
        for f, name, t in zip(("sigmoid", "tanh"), names or (), plan.layer_tables(k)):
            if not np.array_equal(ints(name), t):
                raise FormatError(f"ROM {name} must hold the contract's {f} table; the words differ")
    return plan, man


def random_inputs(plan: Plan, sequences: int, steps: int, seed: int = 0, *, saturate: float = 0.0) -> np.ndarray:
    """Random integer inputs (N, T, I) in the x format; a ``saturate`` fraction take extreme values."""
    rng = np.random.default_rng(seed)
    x = plan.config.x
    scale = 1 << x.frac  # mostly |x| < 2, like normalized data
    v = np.clip(np.rint(rng.normal(0.0, 0.75, size=(sequences, steps, plan.input_size)) * scale), x.min_int, x.max_int)
    v = v.astype(np.int64)
    if saturate > 0:
        pick = rng.random(v.shape) < saturate
        v[pick] = rng.choice([x.min_int, x.max_int], size=int(pick.sum()))
    return v


# -- building and running ------------------------------------------------------------------------
def _need_tools() -> None:
    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        raise ToolError("co-simulation needs Icarus Verilog (iverilog, vvp) on PATH; install the Debian package iverilog")
    try:
        import cocotb  # noqa: F401
        import cocotb_tools.runner  # noqa: F401
    except ModuleNotFoundError:
        raise ToolError("co-simulation needs cocotb >= 2.1 (pip install 'cocotb>=2.1,<3')") from None


def _vstr(p: str | Path) -> str:
    s = str(p)
    if any(ch in '"\\' or not ch.isprintable() or ch.isspace() for ch in s):
        raise FormatError(f"path must contain no quotes, backslashes, spaces or control characters, not {s!r}")
    return f'"{s}"'


def stimulus_lines(plan: Plan, x_int: np.ndarray) -> list[str]:
    """One hex line per input beat: {tlast, tdata} with tdata the sign-extended x element."""
    s_w = -(-plan.config.x.bits // 8) * 8
    mask = (1 << s_w) - 1
    n, t, i = x_int.shape
    digits = -(-(s_w + 1) // 4)
    lines = []
    for a in range(n):
        for b in range(t):
            for c in range(i):
                last = 1 if (b == t - 1 and c == i - 1) else 0
                lines.append(f"{(last << s_w) | (int(x_int[a, b, c]) & mask):0{digits}x}")
    return lines


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _split(word: int, n: int, bits: int) -> list[int]:
    return [_signed(word >> (j * bits), bits) for j in range(n)]


@dataclass
class Record:
    """What the harness wrote: per-step states of every layer, output beats, counters."""

    h: list[list[list[int]]]  # [step][layer][H]
    c: list[list[list[int]]] | None
    beats: list[tuple[int, int, int]]  # (tuser, tlast, data) as signed M_W ints
    step_cycles: int
    head_cycles: int
    sat_count: int
    cycles: int
    timed_out: bool


def parse_record(text: str, plan: Plan) -> Record:
    cfg = plan.config
    H, L = plan.hidden_size, len(plan.layers)
    lstm = plan.cell == "lstm"
    hb = [plan.layer_config(k).h.bits for k in range(L)]
    cb = [plan.layer_config(k).c.bits for k in range(L)]
    out_bits = plan.head_config().out.bits if plan.head is not None else cfg.out.bits
    m_w = -(-max(hb[-1], out_bits) // 8) * 8
    hs, cs, beats = [], [] if lstm else None, []
    end = None
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "S":
            vals = [int(v, 16) for v in f[2:]]
            per = 2 if lstm else 1
            hs.append([_split(vals[k * per], H, hb[k]) for k in range(L)])
            if lstm:
                cs.append([_split(vals[k * per + 1], H, cb[k]) for k in range(L)])
        elif f[0] == "O":
            beats.append((int(f[1]), int(f[2]), _signed(int(f[3], 16), m_w)))
        elif f[0] in ("E", "T"):
            end = (f[0] == "T", *(int(v) for v in f[1:5]))
    if end is None:
        raise ToolError("the co-simulation harness ended without its summary line (simulator crash?)")
    return Record(hs, cs, beats, end[1], end[2], end[3], end[4], end[0])


def build_harness(export_dir: Path, build_dir: Path, plan: Plan, man: dict, *, in_beats: int, out_beats: int,
                  stall_in: int = 0, stall_out: int = 0, seed: int = 1, defines: dict | None = None,
                  max_cycles: int | None = None) -> Path:
    """Render the harness and compile it with the export's RTL under Icarus; return the record path."""
    from cocotb_tools.runner import get_runner

    from hwsim.export._rtl import environment, top_params

    top = man["rtl"]["top"]
    build_dir.mkdir(parents=True, exist_ok=True)
    tb = build_dir / "hwsim_tb_stream.v"
    tb.write_text(environment().get_template("tb_stream.v.j2").render(**top_params(plan, top)), encoding="utf-8")
    rtl = [export_dir / rel for rel in man["rtl"]["files"]]
    missing = [str(p) for p in rtl if not p.is_file()]
    if missing:
        raise FormatError(f"export RTL file missing: {missing[0]}")
    stim, rec = build_dir / "stim.hex", build_dir / "record.txt"
    sched = cycles_per_step(plan)
    if max_cycles is None:
        max_cycles = 20 * (in_beats * (1 + sched["step"]) + out_beats * 2 + 1000) + 10_000
    params = {
        "IN_FILE": _vstr(stim.resolve()),
        "OUT_FILE": _vstr(rec.resolve()),
        "ROM_DIR": _vstr((export_dir / "rom").resolve()),
        "IN_BEATS": max(1, in_beats),
        "OUT_BEATS": out_beats,
        "STALL_IN": stall_in,
        "STALL_OUT": stall_out,
        "SEED": seed,
        "MAX_CYCLES": min(max_cycles, 2**31 - 1),
    }
    runner = get_runner("icarus")
    runner.build(
        sources=[str(p) for p in rtl] + [str(tb)],
        hdl_toplevel="hwsim_tb_stream",
        build_dir=str(build_dir),
        parameters=params,
        defines=defines or {},
        always=True,
        timescale=("1ns", "1ps"),
        log_file=str(build_dir / "build.log"),
    )
    return rec


def run_harness(build_dir: Path, lines: list[str], record: Path) -> str:
    """Write the stimulus, run the compiled harness under cocotb, return the record text."""
    from cocotb_tools.runner import get_runner

    (build_dir / "stim.hex").write_text("\n".join(lines) + "\n", encoding="ascii")
    if record.exists():
        record.unlink()
    runner = get_runner("icarus")
    results = runner.test(
        test_module="hwsim._cosim_tb",
        hdl_toplevel="hwsim_tb_stream",
        hdl_toplevel_lang="verilog",
        build_dir=str(build_dir),
        test_dir=str(build_dir),
        log_file=str(build_dir / "sim.log"),
    )
    if not record.exists():
        raise ToolError(f"the simulation wrote no record; see {build_dir / 'sim.log'}")
    _ = results
    return record.read_text(encoding="ascii")


def compare(plan: Plan, x_int: np.ndarray, rec: Record, seq0: int = 0) -> tuple[int, dict | None, int]:
    """Count mismatches of ``rec`` against the simulator; return (count, first, model saturations)."""
    from ._sim import simulate

    sim = simulate(plan, x_int)
    n, t, _ = x_int.shape
    H, L = plan.hidden_size, len(plan.layers)
    C = plan.num_classes or 0
    mism, first = 0, None

    def miss(seq: int, step: int | None, node: str, index: int, exp: Any, act: Any) -> None:
        nonlocal mism, first
        mism += 1
        if first is None:
            first = {"sequence": seq0 + seq, "step": step, "node": node, "index": index, "expected": exp, "actual": act}

    # per-step states of every layer (hierarchy)
    for s in range(n):
        for st in range(t):
            g = s * t + st
            got_h = rec.h[g] if g < len(rec.h) else None
            got_c = rec.c[g] if (rec.c is not None and g < len(rec.c)) else None
            for k in range(L):
                exp_h = sim.h_layers_int[k][s, st]
                for j in range(H):
                    a = None if got_h is None else got_h[k][j]
                    if a != int(exp_h[j]):
                        miss(s, st, f"l{k}.h", j, int(exp_h[j]), a)
                if sim.c_layers_int is not None:
                    exp_c = sim.c_layers_int[k][s, st]
                    for j in range(H):
                        a = None if got_c is None else got_c[k][j]
                        if a != int(exp_c[j]):
                            miss(s, st, f"l{k}.c", j, int(exp_c[j]), a)
    # the stream: per step H beats of the last layer's h, then C head beats; tlast / tuser
    pos = 0
    for s in range(n):
        for st in range(t):
            for j in range(H):
                b = rec.beats[pos] if pos < len(rec.beats) else None
                pos += 1
                exp = int(sim.h_int[s, st, j])
                last = 1 if (C == 0 and st == t - 1 and j == H - 1) else 0
                if b is None or b != (0, last, exp):
                    miss(s, st, "m_axis.h", j, [0, last, exp], None if b is None else list(b))
        for j in range(C):
            b = rec.beats[pos] if pos < len(rec.beats) else None
            pos += 1
            exp = int(sim.y_int[s, j])
            last = 1 if j == C - 1 else 0
            if b is None or b != (1, last, exp):
                miss(s, t - 1, "out", j, [1, last, exp], None if b is None else list(b))
    sat = sum(v for k, v in sim.saturations.items() if k != "x")
    return mism, first, sat


def cosim(
    export_dir: str | os.PathLike,
    x_int: np.ndarray,
    *,
    build_dir: str | os.PathLike | None = None,
    stall_in: int = 0,
    stall_out: int = 0,
    seed: int = 1,
    defines: dict | None = None,
    chunk: int = CHUNK,
    progress: bool = False,
) -> CosimReport:
    """Co-simulate the export in ``export_dir`` on integer inputs ``x_int`` (N, T, I) of the x format.

    Sequences go through the RTL in chunks of ``chunk`` (one harness run each, the state reset
    between sequences by the stream's tlast). ``stall_in`` / ``stall_out`` (0..255) make the
    source idle and the sink refuse beats at random. ``defines`` reach the Verilog compiler (the
    fault-injection test uses ``HWSIM_FAULT_ROUNDING``).
    """
    _need_tools()
    d = Path(export_dir).resolve()
    plan, man = plan_from_export(d)
    x_int = np.asarray(x_int)
    if x_int.ndim != 3 or x_int.shape[2] != plan.input_size or x_int.shape[1] < 1:
        raise FormatError(f"inputs must have shape (N, T >= 1, {plan.input_size}), not {x_int.shape}")
    cfg = plan.config
    if x_int.size and (x_int.min() < cfg.x.min_int or x_int.max() > cfg.x.max_int):
        raise FormatError(f"inputs must lie in the x format {cfg.x} range [{cfg.x.min_int}, {cfg.x.max_int}]")
    n, t, _ = x_int.shape
    sched = cycles_per_step(plan)
    tmp = None
    if build_dir is None:
        tmp = tempfile.mkdtemp(prefix="hwsim-cosim-")
        bdir = Path(tmp)
    else:
        bdir = Path(build_dir).resolve()
    try:
        mism, first, sat_model, sat_rtl = 0, None, 0, 0
        step_cyc = head_cyc = 0
        timed_out = False
        chunks = list(range(0, n, chunk))
        bar = None
        if progress:
            from ._progress import bar as progress_bar

            bar = progress_bar(total=n, unit="seq", desc="cosim", leave=False)
        built_for = None
        rec_path = bdir / "record.txt"
        for c0 in chunks:
            xs = x_int[c0 : c0 + chunk]
            m = xs.shape[0]
            in_beats = m * t * plan.input_size
            out_beats = m * (t * plan.hidden_size + (plan.num_classes or 0))
            if built_for != m:
                rec_path = build_harness(d, bdir, plan, man, in_beats=in_beats, out_beats=out_beats,
                                         stall_in=stall_in, stall_out=stall_out, seed=seed, defines=defines)
                built_for = m
            text = run_harness(bdir, stimulus_lines(plan, xs), rec_path)
            rec = parse_record(text, plan)
            timed_out |= rec.timed_out
            k, f, s = compare(plan, xs, rec, seq0=c0)
            mism += k
            if first is None:
                first = f
            sat_model += s
            sat_rtl += rec.sat_count
            step_cyc += rec.step_cycles
            head_cyc += rec.head_cycles
            if bar is not None:
                bar.update(m)
        if bar is not None:
            bar.close()
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    steps = n * t
    return CosimReport(
        sequences=n,
        steps=steps,
        mismatches=mism,
        first_mismatch=first,
        cycles_per_step=(step_cyc / steps) if steps else None,
        model_cycles_per_step=sched["step"],
        head_cycles=(head_cyc / n) if (n and plan.head is not None) else (0 if plan.head is None else None),
        model_head_cycles=sched["head"],
        saturations=sat_rtl,
        model_saturations=sat_model,
        timed_out=timed_out,
        extra={"schedule": sched},
    )
