"""The whole flow in one call: check -> export -> co-simulation -> synthesis -> HTML report.

``run_flow`` works on any quantized model and data set; ``run_demo`` runs it on the shipped default
model (``hwsim.data``) and its data set, which is what ``hwsim demo`` does. The external tools are
optional: without Icarus Verilog or yosys the stage is skipped, the report says why and how to get the
tool, and the rest goes on. The output directory is built in a temporary sibling and renamed into
place, so an error or a kill never leaves half a result.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from .._fsutil import prepare_output_dir, replace_dir
from ..datapath._config import DatapathConfig
from .._errors import HwsimError, ToolError
from .._repr import short_repr

#: The foldings (rows, lanes, pointwise units) whose cycles the summary shows beside the exported
#: one: the smallest, and a fast one that still fits an ECP5-25F with the demo (docs/hardware.md).
FOLDINGS = {"smallest": (1, 1, 1), "fast": (8, 8, 4)}
#: The file that marks a directory as written by ``run_flow`` (so a rerun may replace it).
SUMMARY_FILE = "summary.json"
#: Synthesis targets of ``hwsim synth``.
SYNTH_TARGETS = ("ice40", "ecp5", "xilinx")
#: How to get each external tool on Debian / Ubuntu.
INSTALL_HINT = {
    "iverilog": "sudo apt-get install iverilog   (Icarus Verilog, for co-simulation)",
    "yosys": "sudo apt-get install yosys   (for resource estimates)",
}


@dataclass
class FlowResult:
    """What each stage of ``run_flow`` produced; ``skipped`` stages carry ``{"skipped": True, "reason": ...}``."""

    __repr__ = short_repr

    out_dir: Path
    check: dict[str, Any]
    export_dir: Path | None = None
    cosim: dict[str, Any] | None = None
    synth: dict[str, dict[str, Any]] = field(default_factory=dict)
    report: Path | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    hints: list[str] = field(default_factory=list)
    #: compute cycles per step (cycle model) of the exported folding, the smallest and a fast one
    foldings: dict[str, int] = field(default_factory=dict)

    @property
    def cosim_failed(self) -> bool:
        """True when co-simulation ran and found a mismatch (or its cycle count or a timeout disagreed)."""
        c = self.cosim
        if not c or c.get("skipped"):
            return False
        return int(c.get("mismatches", 0)) > 0 or c.get("ok") is False

    @property
    def exit_code(self) -> int:
        """0 when everything that ran agreed, 1 when co-simulation found a mismatch."""
        return 1 if self.cosim_failed else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "check": self.check,
            "export_dir": None if self.export_dir is None else str(self.export_dir),
            "cosim": self.cosim,
            "synth": self.synth,
            "report": None if self.report is None else str(self.report),
            "seconds": self.seconds,
            "hints": self.hints,
            "foldings": self.foldings,
        }


def _skipped(reason: str) -> dict[str, Any]:
    return {"skipped": True, "reason": reason}


def prepare_out_dir(out_dir: Path, force: bool) -> None:
    """Refuse to replace a directory that hwsim did not write (``--force`` included: the ownership
    rule of ``hwsim._fsutil``); a previous run's output is replaced without asking."""
    prepare_output_dir(out_dir, force=None)


def _have(tool: str) -> bool:
    return shutil.which(tool) is not None


# ------------------------------------------------------------------------------------------------
# stage adapters: the library functions of the other sub-commands


def _export(qmodel, out: Path, config: DatapathConfig) -> None:
    """Export ROMs, manifest and RTL into ``out`` (cosim and synth read them)."""
    from ..export import write_export

    write_export(qmodel, out, config)


def _cosim(export_dir: Path, dataset, sequences: int, config: DatapathConfig) -> dict[str, Any]:
    """Co-simulate the first ``sequences`` of ``dataset``, quantized into the x format as the check does."""
    from ..hdl._cosim import cosim
    from ..datapath._fixed import quantize_float

    x_int, _ = quantize_float(dataset.x[:sequences], config.x, config.rounding, config.overflow)
    rep = cosim(export_dir, x_int)
    return dict(rep.to_dict(), ok=rep.ok)


def _synth(export_dir: Path, target: str) -> dict[str, Any]:
    from ..export._synth import synthesize

    return synthesize(export_dir, target).to_dict()


# ------------------------------------------------------------------------------------------------


def run_flow(
    qmodel,
    dataset,
    out_dir: str | os.PathLike,
    *,
    config: DatapathConfig | None = None,
    float_model=None,
    title: str = "hwsim report",
    cosim: bool = True,
    cosim_sequences: int = 16,
    synth_targets: Sequence[str] = ("ice40",),
    force: bool = False,
    progress: bool = True,
    float_metric_note: tuple[float, str] | None = None,
    log: Callable[[str], None] | None = None,
) -> FlowResult:
    """Check, export, co-simulate, synthesize and report ``qmodel`` on ``dataset`` into ``out_dir``.

    ``out_dir`` gets ``export/`` (manifest, ROMs, RTL), ``report/index.html`` and ``summary.json``.
    A stage whose tool is missing is skipped with a hint (``FlowResult.hints``); a cosim mismatch
    does not stop the flow (the report shows it) but makes ``FlowResult.exit_code`` 1.
    ``float_metric_note`` = (metric, source) fills the float row of the report when no float model
    is given (the shipped model records the metric of its float shadow weights).
    """
    from tqdm.auto import tqdm

    from .._progress import bar as progress_bar

    from ..analysis._check import run_check
    from ..datapath._plan import lower
    from ..analysis._report import describe_model, weight_histograms, write_report

    cfg = config if config is not None else DatapathConfig()
    out_dir = Path(out_dir)
    for t in synth_targets:
        if t not in SYNTH_TARGETS:
            raise HwsimError(f"synthesis target must be one of {', '.join(SYNTH_TARGETS)}, not {t!r}")
    if cosim_sequences < 1:
        raise HwsimError(f"co-simulation needs at least 1 sequence, not {cosim_sequences}")
    prepare_out_dir(out_dir, force)
    say = log or (lambda s: tqdm.write(s, file=sys.stderr))
    plan = lower(qmodel, cfg)  # fails early (bad contract) before any file is written
    res_foldings = fold_cycles(qmodel, cfg)

    stages = ["check", "export"] + (["cosim"] if cosim else []) + [f"synth {t}" for t in synth_targets] + ["report"]
    parent = out_dir.parent if str(out_dir.parent) else Path(".")
    from .._fsutil import sibling_tmp_dir

    tmp = sibling_tmp_dir(parent / out_dir.name)
    res = FlowResult(out_dir=out_dir, check={}, foldings=res_foldings)
    bar = progress_bar(total=len(stages), disable=True if not progress else None, unit="stage",  # None: off when not a terminal
               bar_format="{desc:<22}{bar:24} {n_fmt}/{total_fmt} [{elapsed}]")
    try:

        def stage(name: str):
            bar.set_description(name)
            return time.perf_counter()

        def done(name: str, t0: float) -> None:
            res.seconds[name] = round(time.perf_counter() - t0, 2)
            bar.update()

        t0 = stage("check")
        res.check = dict(run_check(qmodel, dataset, cfg, float_model=float_model))
        if res.check.get("float_metric") is None and float_metric_note is not None:
            res.check["float_metric"] = float_metric_note[0]
        done("check", t0)

        t0 = stage("export")
        _export(qmodel, tmp / "export", cfg)
        res.export_dir = tmp / "export"
        done("export", t0)

        if cosim:
            t0 = stage("cosim")
            if not _have("iverilog"):
                res.cosim = _skipped("Icarus Verilog not found")
                res.hints.append("co-simulation skipped, iverilog not found: " + INSTALL_HINT["iverilog"])
            else:
                try:
                    res.cosim = _cosim(tmp / "export", dataset, cosim_sequences, cfg)
                except ToolError as e:
                    res.cosim = _skipped(f"failed to run: {e}")
                    res.hints.append(f"co-simulation could not run: {e}")
            done("cosim", t0)
        else:
            res.cosim = _skipped("not requested (--no-cosim)")

        for t in synth_targets:
            t0 = stage(f"synth {t}")
            if not _have("yosys"):
                res.synth[t] = _skipped("yosys not found")
                if not any("yosys" in h for h in res.hints):
                    res.hints.append("synthesis skipped, yosys not found: " + INSTALL_HINT["yosys"])
            else:
                try:
                    res.synth[t] = _synth(tmp / "export", t)
                except ToolError as e:
                    res.synth[t] = _skipped(f"failed: {e}")
                    res.hints.append(f"synthesis for {t} failed: {e}")
            done(f"synth {t}", t0)

        t0 = stage("report")
        notes = list(res.hints)
        float_source = "the original weights"
        if float_metric_note is not None and float_model is None:
            float_source = float_metric_note[1]
        write_report(
            tmp / "report",
            res.check,
            title=title,
            model_info=describe_model(qmodel, dataset),
            weights=weight_histograms(plan),
            code_kind=plan.codec.kind,
            synth=res.synth or None,
            cosim=res.cosim,
            config=cfg.to_dict(),
            notes=notes,
            float_source=float_source,
        )
        done("report", t0)
        bar.set_description("done")
        bar.close()
        (tmp / SUMMARY_FILE).write_text(json.dumps(_jsonable(res.to_dict()), indent=2, sort_keys=True) + "\n")
        replace_dir(tmp, out_dir)
    except BaseException:
        bar.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    res.export_dir = out_dir / "export"
    res.report = out_dir / "report" / "index.html"
    for h in res.hints:
        say(h)
    return res


def fold_cycles(qmodel, cfg: DatapathConfig) -> dict[str, int]:
    """Compute cycles per step (``cycles_per_step``) of ``cfg``'s folding and of ``FOLDINGS``, by
    name ``RxLxP`` (the same formats; only rows, lanes and pointwise units change)."""
    from ..datapath._plan import lower
    from ..datapath._schedule import cycles_per_step

    out = {}
    for r, l, p in [(cfg.rows, cfg.lanes, cfg.pointwise), *FOLDINGS.values()]:
        out[f"{r}x{l}x{p}"] = cycles_per_step(lower(qmodel, cfg.replace(rows=r, lanes=l, pointwise_units=p)))["step"]
    return out


def _jsonable(v: Any) -> Any:
    import numpy as np

    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, Path):
        return str(v)
    return v


def load_default():
    """The shipped default model, its data set name and its training record (or {})."""
    from ..model._modelfile import load_model
    from ..data import default_model_path, default_record_path

    path = default_model_path()
    if not path.is_file():
        raise HwsimError(f"the default model is missing from the installation: {path}")
    record: dict[str, Any] = {}
    rec = default_record_path()
    if rec.is_file():
        record = json.loads(rec.read_text(encoding="utf-8"))
    data = (record.get("config") or {}).get("data", "digits")
    return load_model(path), data, record


def run_demo(out_dir: str | os.PathLike = "hwsim-demo", **kwargs: Any) -> FlowResult:
    """``run_flow`` on the shipped default model and the test split of its data set."""
    from ..data._datasets import load_data

    qmodel, data, record = load_default()
    dataset = load_data(data, split="test", input_size=qmodel.input_size)
    note = None
    if record.get("shadow_test_metric") is not None:
        note = (float(record["shadow_test_metric"]), "the float shadow weights of training, from the model's record")
    kwargs.setdefault("title", f"hwsim demo: default {qmodel.cell.upper()} on {data}")
    return run_flow(qmodel, dataset, out_dir, float_metric_note=note, **kwargs)


def summary_table(res: FlowResult) -> str:
    """A concise plain-text summary of a flow for the terminal."""
    from ..analysis._report import METRIC_LABELS

    c = res.check
    metric = str(c.get("metric", "metric"))
    label = METRIC_LABELS.get(metric, (metric, True))[0]

    def mt(v: Any) -> str:
        if v is None:
            return "-"
        return f"{100 * float(v):.2f} %" if metric == "accuracy" else f"{float(v):.4f}"

    rows = [
        (f"{label}, float", mt(c.get("float_metric"))),
        (f"{label}, quantized", mt(c.get("quant_metric"))),
        (f"{label}, fixed point", mt(c.get("fixed_metric"))),
    ]
    if c.get("argmax_flips") is not None:
        rows.append(("argmax flips", f"{100 * float(c['argmax_flips']):.2f} %"))
    if c.get("max_abs_err_h") is not None:
        rows.append(("max |err h|", f"{float(c['max_abs_err_h']):.3g}"))
    sats = c.get("saturations") or {}
    rows.append(("saturations", str(int(sum(int(v) for v in sats.values() if isinstance(v, (int, float)))))))
    cs = res.cosim
    if not cs or cs.get("skipped"):
        rows.append(("co-simulation", "skipped: " + str((cs or {}).get("reason", "not run"))))
    else:
        verdict = "PASS, bit-exact" if int(cs.get("mismatches", 0)) == 0 else f"FAIL, {cs['mismatches']} mismatches"
        rows.append(("co-simulation", f"{verdict} ({cs.get('sequences', '?')} sequences, {cs.get('steps', '?')} steps)"))
        if cs.get("cycles_per_step") is not None:
            cyc = cs["cycles_per_step"]
            cyc = int(cyc) if float(cyc).is_integer() else round(float(cyc), 2)
            rows.append(("cycles per step", f"{cyc} measured, {cs.get('model_cycles_per_step', '?')} predicted"))
    if res.foldings:
        rows.append(("cycles/step by RxLxP", ", ".join(f"{k}: {v}" for k, v in res.foldings.items())))
    for t, r in res.synth.items():
        if r.get("skipped"):
            rows.append((f"synth {t}", "skipped: " + str(r.get("reason"))))
        else:
            rows.append((f"synth {t}", f"{r.get('luts', '?')} LUTs, {r.get('ffs', '?')} FFs, "
                                       f"{r.get('brams', '?')} BRAMs, {r.get('dsps', '?')} DSPs"))
    if res.export_dir is not None:
        rows.append(("export", str(res.export_dir)))
    if res.report is not None:
        rows.append(("report", str(res.report)))
    w = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{w}}  {v}" for k, v in rows)
