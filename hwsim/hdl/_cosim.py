"""Co-simulation: run an exported design under Icarus Verilog or Verilator (``hwsim.hdl._simulators``)
and compare every hidden state, cell state and head output, at every step, with the bit-accurate
simulator. The same stimulus also runs on a yosys netlist (gate level) or on a user's edited RTL.

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

from ..datapath._activation import lut_table
from ..model._codes import WeightCodec
from ..datapath._config import DatapathConfig
from .._errors import FormatError, ToolError
from .._fsutil import make_dir
from ..datapath._plan import Accum, HeadPlan, LayerPlan, Plan
from ..datapath._schedule import cycles_per_step, stream_beat_counts, stream_events
from .._repr import short_repr
from ..export._tb import expected_beats, random_inputs, render_harness, sequence_lengths, stimulus_lines  # noqa: F401  (public via hwsim)

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
    simulator: str = "icarus"
    design: str = "export"  # "export", "rtl-dir" (hashes do not apply) or "netlist:<target>"
    #: mean cycles per sequence from its first input beat to its last output beat, measured and as
    #: ``hwsim.datapath._schedule.stream_events`` predicts them for a stream that never stalls
    end_to_end_cycles: float | None = None
    model_end_to_end_cycles: float | None = None
    #: sequences whose measured end-to-end cycles differ from the model (only counted without stalls)
    end_to_end_mismatches: int = 0
    stalled: bool = False  # random stalls: the end-to-end cycles are measured, not predicted
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            self.mismatches == 0
            and not self.timed_out
            and self.cycles_per_step == self.model_cycles_per_step
            and (self.model_head_cycles == 0 or self.head_cycles == self.model_head_cycles)
            and self.saturations == self.model_saturations
            and self.end_to_end_mismatches == 0
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
            "end_to_end_cycles": self.end_to_end_cycles,
            "model_end_to_end_cycles": self.model_end_to_end_cycles,
            "end_to_end_mismatches": self.end_to_end_mismatches,
            "stalled": self.stalled,
            "timed_out": self.timed_out,
            "simulator": self.simulator,
            "design": self.design,
            "ok": self.ok,
        }


# -- the plan, rebuilt from an export -------------------------------------------------------------
def plan_from_export(export_dir: str | os.PathLike, *, verify_rtl: bool = True) -> tuple[Plan, dict[str, Any]]:
    """Rebuild the integer plan from ``DIR/manifest.json`` and the ROM files (hex).

    Returns ``(plan, manifest)``. Raises ``FormatError`` when the export is incomplete or changed;
    ``verify_rtl=False`` leaves ``rtl/`` and ``tb/`` out of the hash check (``cosim --rtl-dir``).
    """
    from hwsim.export._manifest import bias_fields, read_manifest, read_rom, segment_codes, sha256_bytes
    from hwsim.export._pack import words_to_ints

    d = Path(export_dir)
    if not d.is_dir():
        raise FormatError(f"export directory must exist, not found: {d}")
    man = read_manifest(d, verify=verify_rtl)
    if not verify_rtl:
        for rel, info in man.get("files", {}).items():
            if rel.startswith(("rtl/", "tb/")):
                continue
            f = d / rel
            if not f.is_file() or sha256_bytes(f.read_bytes()) != info["sha256"]:
                raise FormatError(f"{rel}: SHA-256 must match the manifest; the file was changed or is missing")
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

    def row_shifts(who: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, np.ndarray | None]:
        """Each accumulation's row shifts from the shift ROM (None without one), checked against the manifest."""
        rom = who.get("row_shift_rom")
        if rom is None:
            return {it["name"]: None for it in items}
        got = biases(rom)
        for it in items:
            if not np.array_equal(got[it["name"]], np.asarray(it.get("row_shift", []), dtype=np.int64)):
                raise FormatError(f"ROM {rom}: row shifts of {it['name']} disagree with the manifest")
        return got

    def ints(name: str) -> np.ndarray:
        entry = roms[name]
        return np.array(words_to_ints(read_rom(d, name, "hex", man), entry["word_bits"], signed=True), dtype=np.int64)

    layers = []
    for lj in man["layers"]:
        mats = matrices(lj["weights_rom"])
        bias_rom = biases(lj["bias_rom"])
        shifts = row_shifts(lj, lj["accumulations"])
        accums = []
        for aj in lj["accumulations"]:
            b = bias_rom[aj["name"]]
            if not np.array_equal(b, np.asarray(aj["bias"], dtype=np.int64)):
                raise FormatError(f"ROM {lj['bias_rom']}: biases of {aj['name']} disagree with the manifest")
            accums.append(Accum(aj["name"], mats[aj["name"]], aj["n_in"], aj["n_rec"], b, shifts[aj["name"]]))
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
        head = HeadPlan(hj["s"], hj["acc_frac"], hj["shift"], hj["acc_bits"], matrices(hj["weights_rom"])["head"],
                        biases(hj["bias_rom"])["head"], row_shifts(hj, [{**hj, "name": "head"}])["head"])
    sig, tanh = lut_table("sigmoid", cfg), lut_table("tanh", cfg)
    plan = Plan(cfg, mod["cell"], codec, mod["input_size"], mod["hidden_size"], tuple(layers), head, sig, tanh)
    for k in range(len(layers)):  # every layer's tables (shared or its own) must be its contract's
        names = plan.lut_roms(k)
        for f, name, t in zip(("sigmoid", "tanh"), names or (), plan.layer_tables(k)):
            if not np.array_equal(ints(name), t):
                raise FormatError(f"ROM {name} must hold the contract's {f} table; the words differ")
    return plan, man


# -- building and running ------------------------------------------------------------------------
def _vstr(p: str | Path) -> str:
    s = str(p)
    if any(ch in '"\\' or not ch.isprintable() or ch.isspace() for ch in s):
        raise FormatError(f"path must contain no quotes, backslashes, spaces or control characters, not {s!r}")
    return f'"{s}"'


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
    beats: list[tuple[int, int, tuple[int, ...]]]  # (tuser, tlast, the out_elems lanes as signed ints)
    step_cycles: int
    head_cycles: int
    sat_count: int
    cycles: int
    timed_out: bool
    first_in: list[int] = field(default_factory=list)  # cycle of each sequence's first input beat
    last_out: list[int] = field(default_factory=list)  # cycle of each output beat with tlast
    load: tuple[int, int] | None = None  # (load_ok, load_err) at the end, run-time weights only

    def end_to_end(self) -> list[int]:
        """Cycles of each sequence from its first input beat to its last output beat (inclusive)."""
        return [b - a + 1 for a, b in zip(self.first_in, self.last_out)]


def parse_record(text: str, plan: Plan) -> Record:
    bad = next((line for line in text.splitlines() if any(ch in "xXzZ" for ch in "".join(line.split()[1:]))), None)
    if bad is not None:  # an x or z where the harness records a value: nothing to compare
        raise ToolError("the simulated design must drive every recorded value, but it gave undefined (x/z) "
                        f"values, first: {bad.strip()!r}")
    cfg = plan.config
    H, L = plan.hidden_size, len(plan.layers)
    lstm = plan.cell == "lstm"
    hb = [plan.layer_config(k).h.bits for k in range(L)]
    cb = [plan.layer_config(k).c.bits for k in range(L)]
    out_bits = plan.head_config().out.bits if plan.head is not None else cfg.out.bits
    m_w = -(-max(hb[-1], out_bits) // 8) * 8  # one lane of m_axis_tdata
    hs, cs, beats = [], [] if lstm else None, []
    first_in, last_out = [], []
    end, load = None, None
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
            beats.append((int(f[1]), int(f[2]), tuple(_split(int(f[3], 16), cfg.out_elems, m_w))))
            if int(f[2]):
                last_out.append(int(f[4]))
        elif f[0] == "I":
            first_in.append(int(f[1]))
        elif f[0] == "W":
            load = (int(f[1]), int(f[2]))
        elif f[0] in ("E", "T"):
            end = (f[0] == "T", *(int(v) for v in f[1:5]))
    if end is None:
        raise ToolError("the co-simulation harness ended without its summary line (simulator crash?)")
    return Record(hs, cs, beats, end[1], end[2], end[3], end[4], end[0], first_in, last_out, load)


@dataclass
class Harness:
    """A compiled harness: run it with ``run_harness`` as often as needed (inputs change, not the build)."""

    simulator: str
    command: list[str]
    build_dir: Path
    capacity: int  # input beats the stimulus memory holds
    record: Path


def build_harness(sources: list[Path], build_dir: Path, plan: Plan, top: str, *, simulator: str, rom_dir: Path,
                  capacity: int, stall_in: int = 0, stall_out: int = 0, seed: int = 1, defines: dict | None = None,
                  netlist: bool = False, load_image: bytes | None = None) -> Harness:
    """Render the harness and compile it with ``sources`` under ``simulator``; ``load_image`` (run-time
    weights) goes through the load port before the first input beat of every run."""
    from ._simulators import build

    build_dir.mkdir(parents=True, exist_ok=True)
    tb = build_dir / "hwsim_tb_stream.v"
    tb.write_text(render_harness(plan, top, netlist=netlist), encoding="utf-8")
    missing = [str(p) for p in sources if not Path(p).is_file()]
    if missing:
        raise FormatError(f"RTL file missing: {missing[0]}")
    stim, rec = build_dir / "stim.hex", build_dir / "record.txt"
    params = {
        "IN_FILE": _vstr(stim.resolve()),
        "OUT_FILE": _vstr(rec.resolve()),
        "IN_BEATS": max(1, capacity),
        "STALL_IN": stall_in,
        "STALL_OUT": stall_out,
        "SEED": seed,
        "FINISH": 1,
    }
    if not netlist:
        params["ROM_DIR"] = _vstr(rom_dir.resolve())
    if load_image:
        load = build_dir / "load.hex"
        n = len(load_image)
        load.write_text("".join(f"{((i == n - 1) << 8) | b:03x}\n" for i, b in enumerate(load_image)), encoding="ascii")
        params.update(LOAD_FILE=_vstr(load.resolve()), LOAD_BYTES=n)
    cmd = build(simulator, [*sources, tb], "hwsim_tb_stream", build_dir, parameters=params, defines=defines)
    return Harness(simulator, cmd, build_dir, max(1, capacity), rec)


def run_harness(h: Harness, lines: list[str], *, out_beats: int, max_cycles: int) -> str:
    """Write the stimulus, run the compiled harness, return the record text."""
    from ._simulators import run

    if len(lines) > h.capacity:
        raise FormatError(f"stimulus must fit the harness ({h.capacity} beats), not {len(lines)}")
    (h.build_dir / "stim.hex").write_text("\n".join(lines) + "\n", encoding="ascii")
    if h.record.exists():
        h.record.unlink()
    run(h.command, h.build_dir, {"in_beats": len(lines), "out_beats": out_beats, "max_cycles": min(max_cycles, 2**31 - 1)})
    if not h.record.exists():
        raise ToolError(f"the simulation wrote no record; see {h.build_dir / 'sim.log'}")
    return h.record.read_text(encoding="ascii")

def compare(plan: Plan, x_int: np.ndarray, rec: Record, seq0: int = 0, lengths=None) -> tuple[int, dict | None, int]:
    """Count mismatches of ``rec`` against the simulator (sequence n of ``lengths[n]`` steps,
    default all T); return (count, first, model saturations)."""
    from ..sim._sim import simulate

    sim = simulate(plan, x_int, lengths=lengths)
    n = x_int.shape[0]
    steps = sequence_lengths(x_int, lengths)
    H, L = plan.hidden_size, len(plan.layers)
    mism, first = 0, None

    def miss(seq: int, step: int | None, node: str, index: int, exp: Any, act: Any) -> None:
        nonlocal mism, first
        mism += 1
        if first is None:
            first = {"sequence": seq0 + seq, "step": step, "node": node, "index": index, "expected": exp, "actual": act}

    # per-step states of every layer (hierarchy)
    g = -1
    for s in range(n):
        for st in range(steps[s]):
            g += 1
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
    # the stream (out_mode: every step's h, the last one's or none), then the head's beats; tlast / tuser
    want = expected_beats(plan, sim.h_int, sim.y_int, steps)
    for pos, (s, st, node, j, exp) in enumerate(want):
        b = rec.beats[pos] if pos < len(rec.beats) else None
        if b != exp:
            miss(s, st, node, j, _beat(exp), None if b is None else _beat(b))
    if len(rec.beats) > len(want):
        miss(n - 1, None, "m_axis", len(want), None, _beat(rec.beats[len(want)]))
    sat = sum(v for k, v in sim.saturations.items() if k != "x")
    return mism, first, sat


def _beat(b: tuple) -> list:
    """A beat as a report shows it: [tuser, tlast, data] (data a list of lanes when out_elems > 1)."""
    words = list(b[2])
    return [b[0], b[1], words[0] if len(words) == 1 else words]


def design_sources(export_dir: Path, man: dict, rtl_dir: str | os.PathLike | None = None) -> list[Path]:
    """The Verilog files to simulate: the export's ``rtl/`` (in manifest order), or every ``*.v``
    file of ``rtl_dir`` (a user's edited copy, sorted by name)."""
    if rtl_dir is None:
        return [export_dir / rel for rel in man["rtl"]["files"]]
    r = Path(rtl_dir)
    if not r.is_dir():
        raise FormatError(f"RTL directory must exist, not found: {r}")
    files = sorted(p.resolve() for p in r.glob("*.v"))
    if not files:
        raise FormatError(f"RTL directory must hold Verilog files (*.v), none in {r}")
    return files


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
    simulator: str | None = None,
    rtl_dir: str | os.PathLike | None = None,
    netlist: str | None = None,
    lengths=None,
    load_model=None,
) -> CosimReport:
    """Co-simulate the export in ``export_dir`` on integer inputs ``x_int`` (N, T, I) of the x format.

    Sequences go through the RTL in chunks of ``chunk`` (one harness run each, one build for all,
    the state reset between sequences by the stream's tlast). ``stall_in`` / ``stall_out``
    (0..255) make the source idle and the sink refuse beats at random. ``defines`` reach the
    Verilog compiler (the fault-injection test uses ``HWSIM_FAULT_ROUNDING``). ``simulator`` is
    ``"icarus"`` or ``"verilator"`` (None: the fastest installed). ``rtl_dir`` simulates the
    ``*.v`` files of that directory instead of the export's ``rtl/`` (the manifest's hashes then
    cover only the ROMs and the contract). ``netlist`` (``"generic"``, ``"ice40"``, ``"ecp5"``)
    synthesizes the RTL with yosys first and simulates the gate-level netlist. ``lengths`` (N,)
    gives each sequence its own number of steps: the stream sends only those, with tlast on the
    last (variable-length sequences, docs/datapath.md); default: all T. ``load_model`` (a quantized
    model of the export's shape; the export must have run-time weights) is lowered with the export's
    contract, its load image goes through the load port before the inputs, and the RTL is compared
    with the simulator of that model (``hwsim cosim --load-weights``).
    """
    import time

    from hwsim.export._names import check_hdl_path

    from ._simulators import pick_simulator, synth_netlist

    d = Path(export_dir).resolve()
    plan, man = plan_from_export(d, verify_rtl=rtl_dir is None)
    image = None
    if load_model is not None:
        plan, image = plan_for_load(plan, load_model)
    # Paths that reach Verilog strings, checked before anything is written ($readmemh cannot open
    # a non-ASCII path and would run the design on x values).
    check_hdl_path(d, "export directory path")
    if build_dir is not None:
        check_hdl_path(build_dir, "build directory path")
    if rtl_dir is not None:
        check_hdl_path(rtl_dir, "RTL directory path")
    sim_name = pick_simulator(simulator)
    if build_dir is not None:
        make_dir(Path(build_dir), "build directory")
    x_int = np.asarray(x_int)
    if x_int.ndim != 3 or x_int.shape[2] != plan.input_size or x_int.shape[1] < 1:
        raise FormatError(f"inputs must have shape (N, T >= 1, {plan.input_size}), not {x_int.shape}")
    cfg = plan.config
    if x_int.size and (x_int.min() < cfg.x.min_int or x_int.max() > cfg.x.max_int):
        raise FormatError(f"inputs must lie in the x format {cfg.x} range [{cfg.x.min_int}, {cfg.x.max_int}]")
    n, t, _ = x_int.shape
    if lengths is not None:
        from .._validate import check_lengths

        lengths = check_lengths(lengths, n, t, what="lengths", error=FormatError)
    all_steps = sequence_lengths(x_int, lengths)
    sched = cycles_per_step(plan)
    sources = design_sources(d, man, rtl_dir)
    top = man["rtl"]["top"]
    tmp = None
    if build_dir is None:
        tmp = tempfile.mkdtemp(prefix="hwsim-cosim-")
        bdir = Path(tmp)
    else:
        bdir = Path(build_dir).resolve()
    seconds = {"synth": 0.0, "build": 0.0, "run": 0.0}
    try:
        t0 = time.perf_counter()
        if netlist is not None:
            sources, sim_defines = synth_netlist(sources, d / "rom", top, netlist, bdir / "netlist" / "netlist.v",
                                                 defines=defines)
            defines = {**(defines or {}), **sim_defines}
        t1 = time.perf_counter()
        if man["rtl"].get("rom_names") == "bare" and netlist is None:  # $readmemh opens them in the run's directory
            bdir.mkdir(parents=True, exist_ok=True)
            for f in (d / "rom").glob("*.hex"):
                shutil.copyfile(f, bdir / f.name)
        m_max = min(chunk, n)
        harness = build_harness(sources, bdir, plan, top, simulator=sim_name, rom_dir=d / "rom",
                                capacity=m_max * t * sched["input_beats"], stall_in=stall_in, stall_out=stall_out,
                                seed=seed, defines=defines, netlist=netlist is not None, load_image=image)
        t2 = time.perf_counter()
        seconds.update(synth=t1 - t0, build=t2 - t1)
        mism, first, sat_model, sat_rtl = 0, None, 0, 0
        step_cyc = head_cyc = cycles = 0
        e2e, e2e_model, e2e_bad = [], [], 0
        stalled = bool(stall_in or stall_out)
        timed_out = False
        bar = None
        if progress:
            from .._progress import bar as progress_bar

            bar = progress_bar(total=n, unit="seq", desc="cosim", leave=False)
        for c0 in range(0, n, chunk):
            xs = x_int[c0 : c0 + chunk]
            ls = None if lengths is None else lengths[c0 : c0 + chunk]
            m = xs.shape[0]
            in_beats, out_beats = stream_beat_counts(plan, all_steps[c0 : c0 + chunk])
            max_cycles = 20 * (in_beats * (1 + sched["step"]) + out_beats * 2 + 1000) + 10_000
            r0 = time.perf_counter()
            text = run_harness(harness, stimulus_lines(plan, xs, ls), out_beats=out_beats, max_cycles=max_cycles)
            seconds["run"] += time.perf_counter() - r0
            rec = parse_record(text, plan)
            timed_out |= rec.timed_out
            k, f, s = compare(plan, xs, rec, seq0=c0, lengths=ls)
            if image is not None and rec.load != (1, 0):  # the image must have been accepted
                k += 1
                f = f or {"sequence": c0, "step": None, "node": "load_ok,load_err", "index": 0, "expected": [1, 0],
                          "actual": None if rec.load is None else list(rec.load)}
            mism += k
            if first is None:
                first = f
            sat_model += s
            sat_rtl += rec.sat_count
            step_cyc += rec.step_cycles
            head_cyc += rec.head_cycles
            cycles += rec.cycles
            got, exp = rec.end_to_end(), [e["cycles"] for e in stream_events(plan, list(all_steps[c0 : c0 + chunk]))]
            e2e += got
            e2e_model += exp
            if not stalled:
                e2e_bad += sum(g != e for g, e in zip(got, exp)) + abs(len(exp) - len(got))
            if bar is not None:
                bar.update(m)
        if bar is not None:
            bar.close()
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    steps = sum(all_steps)
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
        end_to_end_cycles=(sum(e2e) / len(e2e)) if e2e else None,
        model_end_to_end_cycles=(sum(e2e_model) / len(e2e_model)) if e2e_model else None,
        end_to_end_mismatches=e2e_bad,
        stalled=stalled,
        timed_out=timed_out,
        simulator=sim_name,
        design="netlist:" + netlist if netlist else ("rtl-dir" if rtl_dir is not None else "export"),
        extra={"schedule": sched, "seconds": seconds, "cycles": cycles,
               "rtl_dir": str(Path(rtl_dir).resolve()) if rtl_dir is not None else None},
    )


def plan_for_load(export_plan: Plan, model) -> tuple[Plan, bytes]:
    """The plan of ``model`` under the export's contract and its load image; refuses (one line) an
    export without run-time weights and a model that does not fit the export's RTL."""
    from ..datapath._plan import lower
    from ..export._image import check_image_fits, plan_image

    cfg = export_plan.config
    if cfg.weights != "runtime":
        raise FormatError(f"loading weights needs an export with run-time weights (hwsim export --weights runtime), "
                          f"not weights = {cfg.weights!r}")
    plan = lower(model, cfg)
    check_image_fits(plan, export_plan)
    return plan, plan_image(plan)


def verdict_lines(rep: CosimReport) -> list[str]:
    """Why ``rep`` is not ok, one reason a line (empty when it is)."""
    out = []
    if rep.mismatches:
        out.append(f"{rep.mismatches} mismatches; first: {rep.first_mismatch}")
    if rep.timed_out:
        out.append("the simulation hit its cycle limit")
    if rep.cycles_per_step != rep.model_cycles_per_step:
        out.append(f"cycles per step: measured {rep.cycles_per_step}, model {rep.model_cycles_per_step}")
    if rep.model_head_cycles and rep.head_cycles != rep.model_head_cycles:
        out.append(f"head cycles: measured {rep.head_cycles}, model {rep.model_head_cycles}")
    if rep.saturations != rep.model_saturations:
        out.append(f"saturation events: RTL {rep.saturations}, model {rep.model_saturations}")
    if rep.end_to_end_mismatches:
        out.append(f"end-to-end cycles of {rep.end_to_end_mismatches} sequence(s) differ from the model: "
                   f"measured {rep.end_to_end_cycles} per sequence, model {rep.model_end_to_end_cycles}")
    return out


def junit_xml(rep: CosimReport | None, name: str, *, seconds: float = 0.0, error: str | None = None) -> bytes:
    """JUnit XML of one co-simulation: one test case whose verdict is the comparison's.

    A mismatch (or a cycle count that disagrees) is a ``<failure>`` whose message is the first
    reason; ``error`` (the run could not happen) is an ``<error>``. CI systems (GitHub Actions
    reporters, GitLab ``artifacts:reports:junit``) read this file.
    """
    import xml.etree.ElementTree as ET

    reasons = verdict_lines(rep) if rep is not None else []
    suite = ET.Element("testsuite", name="hwsim.cosim", tests="1", failures=str(int(bool(reasons))),
                       errors=str(int(error is not None)), skipped="0", time=f"{seconds:.3f}")
    case = ET.SubElement(suite, "testcase", classname="hwsim.cosim", name=name, time=f"{seconds:.3f}")
    if error is not None:
        ET.SubElement(case, "error", message=error.splitlines()[0] if error else "error").text = error
    elif reasons:
        ET.SubElement(case, "failure", message=reasons[0], type="mismatch").text = "\n".join(reasons)
    if rep is not None:
        props = ET.SubElement(case, "properties")
        for k, v in rep.to_dict().items():
            if k != "first_mismatch":
                ET.SubElement(props, "property", name=k, value=str(v))
    root = ET.Element("testsuites", tests="1", failures=suite.get("failures"), errors=suite.get("errors"))
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(path: str | os.PathLike, data: bytes) -> None:
    """Write JUnit bytes to ``path`` atomically (its directory must exist)."""
    from .._fsutil import atomic_write

    p = Path(path)
    if not (p.parent if str(p.parent) else Path(".")).is_dir():
        raise FormatError(f"JUnit file's directory must exist, not found: {p.parent}")
    atomic_write(p, lambda tmp: Path(tmp).write_bytes(data))
