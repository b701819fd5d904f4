"""``fit_device``: the fastest folding and widths whose yosys counts fit a named FPGA, within an
accuracy bound of the default-width fixed-point metric.

The search has two parts because they cost very different amounts:

1. *Widths* (cheap: one bit-accurate run each). Every width candidate (the base contract, smaller
   activation tables, the PWL unit, the width advisor's budgets) is simulated on the data; those
   whose metric is more than ``max_loss`` worse than the base contract's are dropped. Folding never
   changes a bit of the result, so this is done once per width, not per folding.
2. *Foldings* (dear: one yosys run each). A chain of foldings is built greedily from 1x1x1, each
   step doubling the rows, lanes or pointwise units that saves the most cycles, so each link needs
   at least the resources of the one before: whether a link fits is monotone along the chain, and
   a binary search finds the last link that fits. The cheapest accepted width is searched first;
   every other accepted width is only tried at the best link found so far (and beyond, if it fits
   there), so a more accurate width wins a tie in speed.

"Fastest" means fewest compute cycles per step (the exact cycle model); Fmax needs place and route,
which the caller runs on the chosen export (``hwsim synth --pnr``).
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .._errors import ConfigError, HwsimError
from ..datapath._config import DatapathConfig

#: ``lut_bits`` values tried below the base's (each halves the activation tables' block RAM).
LUT_BITS_STEPS = (9, 8, 7, 6)
#: Width budgets (bits of every format) handed to the width advisor.
BIT_BUDGETS = (16, 14, 12, 10, 8)
#: The smaller table tried with each budget (a 256-entry table is one iCE40 block RAM at 16 bits).
BUDGET_LUT_BITS = 8
#: Longest folding chain (each link doubles one factor, so 2**12 x the 1x1x1 parallelism).
MAX_CHAIN = 12


@dataclass(frozen=True)
class WidthCandidate:
    """One width choice: a label, its contract (folding not yet set), its metric and loss."""

    label: str
    config: DatapathConfig
    metric: float | None
    loss: float | None
    saturations: int
    accepted: bool
    reason: str = ""


@dataclass(frozen=True)
class Trial:
    """One synthesis: a width candidate at a folding, its counts and the fit verdict."""

    label: str
    rows: int
    lanes: int
    pointwise_units: int
    cycles_per_step: int
    counts: dict[str, int]
    does_not_fit: str | None

    @property
    def folding(self) -> str:
        return f"R{self.rows}xL{self.lanes}xP{self.pointwise_units}"

    @property
    def fits(self) -> bool:
        return self.does_not_fit is None


@dataclass
class FitResult:
    target: str
    device: str
    max_loss: float
    metric_name: str | None
    reference_metric: float | None  # the base contract's fixed-point metric
    widths: list[WidthCandidate]
    chain: list[tuple[int, int, int, int]]  # (rows, lanes, pointwise_units, cycles per step)
    trials: list[Trial] = field(default_factory=list)
    chosen: Trial | None = None
    config: DatapathConfig | None = None  # the chosen contract, folding included
    confirmed: list[tuple[Trial, str | None]] = field(default_factory=list)  # place-and-route verdicts

    def to_dict(self) -> dict[str, Any]:
        w = {c.label: c for c in self.widths}
        return {
            "target": self.target, "device": self.device, "max_loss": self.max_loss, "metric": self.metric_name,
            "reference_metric": self.reference_metric,
            "widths": [{"label": c.label, "metric": c.metric, "loss": c.loss, "saturations": c.saturations,
                        "accepted": c.accepted, "reason": c.reason} for c in self.widths],
            "chain": [{"rows": r, "lanes": l, "pointwise_units": p, "cycles_per_step": s} for r, l, p, s in self.chain],
            "trials": [{"label": t.label, "folding": t.folding, "cycles_per_step": t.cycles_per_step, **t.counts,
                        "does_not_fit": t.does_not_fit} for t in self.trials],
            "chosen": None if self.chosen is None else {
                "label": self.chosen.label, "folding": self.chosen.folding,
                "cycles_per_step": self.chosen.cycles_per_step, **self.chosen.counts,
                "metric": w[self.chosen.label].metric, "loss": w[self.chosen.label].loss},
            "config": None if self.config is None else self.config.to_dict(),
            "place_and_route": [{"label": t.label, "folding": t.folding, "does_not_fit": over}
                                for t, over in self.confirmed],
        }


def device_family(device: str) -> tuple[str, str]:
    """``(family, device)`` of a device name of ``hwsim synth --device`` (``up5k``, ``25k``, or
    ``ice40:up5k``); a ``ConfigError`` naming the known devices otherwise."""
    from ..export._synth import CAPACITY

    fam, sep, dev = device.lower().rpartition(":")
    dev = dev.partition(":")[0]
    fams = [fam] if sep else [f for f in CAPACITY if dev in CAPACITY[f]]
    if len(fams) == 1 and fams[0] in CAPACITY and dev in CAPACITY[fams[0]]:
        return fams[0], dev
    known = ", ".join(f"{f}:{d}" for f in CAPACITY for d in CAPACITY[f])
    raise ConfigError(f"--fit device must be one of {known}, not {device!r}")


def fixed_metric(qmodel, dataset, cfg: DatapathConfig, *, chunk: int = 256) -> tuple[float | None, int]:
    """The bit-accurate metric of ``qmodel`` under ``cfg`` on ``dataset`` and its saturation count."""
    from ..analysis._metric import Metric
    from ..data._datasets import PER_STEP_TASKS
    from ..datapath._plan import lower
    from ..sim._sim import run_fixed

    plan = lower(qmodel, cfg)
    all_steps = dataset.task in PER_STEP_TASKS and qmodel.head is not None
    m = Metric(dataset.task, dataset.num_classes)
    sat = 0
    for start in range(0, dataset.x.shape[0], chunk):
        lens = None if dataset.lengths is None else dataset.lengths[start : start + chunk]
        fx = run_fixed(qmodel, dataset.x[start : start + chunk], cfg, head_all_steps=all_steps, plan=plan, lengths=lens)
        m.add(fx.y, None if dataset.y is None else dataset.y[start : start + chunk])
        sat += sum(fx.saturations.values())
    return m.value(), sat


def width_configs(qmodel, dataset, base: DatapathConfig) -> list[tuple[str, DatapathConfig]]:
    """The width candidates, the base contract first, each once (equal contracts are merged)."""
    from ..analysis._advise import observed_ranges, suggest_config

    out: list[tuple[str, DatapathConfig]] = [("base", base)]

    def add(label: str, make: Callable[[], DatapathConfig]) -> None:
        try:
            cfg = make()
        except ConfigError:
            return  # a width the contract refuses (e.g. lut_bits beyond what pre.frac indexes)
        if all(cfg != c for _, c in out):
            out.append((label, cfg))

    if base.activation == "lut":
        for lb in LUT_BITS_STEPS:
            if lb < base.lut_bits:
                add(f"lut_bits {lb}", lambda lb=lb: base.replace(lut_bits=lb))
        add("pwl", lambda: base.replace(activation="pwl"))
    ranges = observed_ranges(qmodel, dataset.x)
    for bits in BIT_BUDGETS:
        add(f"{bits}-bit formats", lambda bits=bits: suggest_config(qmodel, ranges, base, bits=bits))
        if base.activation == "lut" and BUDGET_LUT_BITS < base.lut_bits:
            add(f"{bits}-bit formats, lut_bits {BUDGET_LUT_BITS}",
                lambda bits=bits: suggest_config(qmodel, ranges, base.replace(lut_bits=BUDGET_LUT_BITS), bits=bits))
    return out


def dominates(a: DatapathConfig, b: DatapathConfig) -> bool:
    """Does ``a`` need at least the hardware of ``b`` at any folding: the same activation unit and
    every format and the table at least as wide (so if ``b`` does not fit, neither does ``a``)."""
    from ..datapath._config import FORMAT_NAMES

    if a.activation != b.activation or (a.activation == "lut" and a.lut_bits < b.lut_bits):
        return False
    return all(getattr(a, n).bits >= getattr(b, n).bits for n in FORMAT_NAMES)


def _cycles(qmodel, cfg: DatapathConfig) -> int:
    from ..datapath._plan import lower
    from ..datapath._schedule import cycles_per_step

    return cycles_per_step(lower(qmodel, cfg))["step"]


def folding_chain(qmodel, base: DatapathConfig, *, max_len: int = MAX_CHAIN) -> list[tuple[int, int, int, int]]:
    """Foldings from 1x1x1, each doubling the rows, lanes or pointwise units that saves the most
    cycles per step (ties: lanes, then rows, then pointwise units), until none saves a cycle.

    Each link holds at least the hardware of the one before, so fitting is monotone along it.
    """
    H = qmodel.hidden_size
    cols = max(max(layer.w_ih.shape[1], layer.w_hh.shape[1]) for layer in qmodel.layers)
    r, l, p = 1, 1, 1
    cyc = _cycles(qmodel, base.replace(rows=r, lanes=l, pointwise_units=p))
    chain = [(r, l, p, cyc)]
    while len(chain) < max_len:
        moves = []
        if l < cols:
            moves.append((r, 2 * l, p))
        if r < H:
            moves.append((2 * r, l, p))
        if p < H and r % (2 * p) == 0:
            moves.append((r, l, 2 * p))
        best = None
        for m in moves:
            c = _cycles(qmodel, base.replace(rows=m[0], lanes=m[1], pointwise_units=m[2]))
            if c < cyc and (best is None or c < best[3]):
                best = (*m, c)
        if best is None:
            break
        r, l, p, cyc = best
        chain.append(best)
    return chain


def synth_counts(qmodel, cfg: DatapathConfig, target: str, device: str) -> tuple[dict[str, int], str | None]:
    """yosys counts of ``qmodel`` exported under ``cfg`` and the fit verdict for ``device``."""
    from ..export import write_export
    from ..export._synth import synthesize

    with tempfile.TemporaryDirectory(prefix="hwsim-fit-") as tmp:
        ex = Path(tmp) / "export"
        write_export(qmodel, ex, cfg, formats=("hex",), tb=False)
        rep = synthesize(ex, target, device=device)
    return {"luts": rep.luts, "ffs": rep.ffs, "brams": rep.brams, "dsps": rep.dsps}, rep.does_not_fit


def pnr_verdict(qmodel, cfg: DatapathConfig, target: str, device: str, *, seed: int = 1) -> str | None:
    """Place and route ``qmodel`` under ``cfg`` on ``device`` (nextpnr, ``seed``): None when it is
    placed and routed, else nextpnr's one line (e.g. ``ICESTORM_LC 6491/5280``). yosys counts are a
    lower bound of what nextpnr packs (on iCE40 a LUT4 and a flip-flop share a logic cell only
    when their nets allow), so this is the final word on a choice near the device's limits."""
    from ..export import write_export
    from ..export._pnr import PnrError, place_and_route

    with tempfile.TemporaryDirectory(prefix="hwsim-fit-") as tmp:
        ex = Path(tmp) / "export"
        write_export(qmodel, ex, cfg, formats=("hex",), tb=False)
        try:
            place_and_route(ex, target, device=device, seed=seed)
        except PnrError as e:
            if e.reason in ("fit", "route"):
                return str(e)
            raise
    return None


def _width_cost(cfg: DatapathConfig) -> tuple[int, int]:
    """Sort key for which accepted width to search first: table bits (block RAM), then format bits."""
    from ..datapath._config import FORMAT_NAMES

    table = 0 if cfg.activation == "pwl" else (1 << cfg.lut_bits) * cfg.act.bits
    return table, sum(getattr(cfg, n).bits for n in FORMAT_NAMES)


def fit_device(
    qmodel,
    dataset,
    device: str,
    *,
    max_loss: float = 1.0,
    base: DatapathConfig | None = None,
    widths: list[tuple[str, DatapathConfig]] | None = None,
    chain: list[tuple[int, int, int, int]] | None = None,
    synth: Callable[[Any, DatapathConfig, str, str], tuple[dict[str, int], str | None]] | None = None,
    on_trial: Callable[[Trial], None] | None = None,
    confirm: Callable[[Any, DatapathConfig, str, str], str | None] | None = None,
) -> FitResult:
    """Search widths and foldings (module docstring) for the fastest export of ``qmodel`` that fits
    ``device`` within ``max_loss`` (accuracy points; for bits per symbol and mean squared error,
    their increase) of the base contract's fixed-point metric on ``dataset``.

    ``widths``, ``chain`` and ``synth`` replace the candidate widths, the folding chain and the
    yosys run (``synth_counts``); ``on_trial`` sees every synthesis as it finishes. ``confirm``
    (e.g. ``pnr_verdict``) checks a choice with place and route: a refusal (one line) marks that
    link as not fitting and the search goes on. The result's ``chosen`` is None when nothing fits.
    """
    from ..analysis._loss import loss
    from ..analysis._metric import metric_name

    if isinstance(max_loss, bool) or not isinstance(max_loss, (int, float)) or not max_loss >= 0:
        raise ConfigError(f"max loss must be a number >= 0, not {max_loss!r}")
    if qmodel.quant is None:
        raise HwsimError("--fit needs a quantized model (run `hwsim quantize` first)")
    target, device = device_family(device)
    base = DatapathConfig() if base is None else base
    synth = synth or synth_counts
    name = metric_name(dataset.task)
    cands = widths if widths is not None else width_configs(qmodel, dataset, base)
    ref, _ = fixed_metric(qmodel, dataset, cands[0][1])
    scored = []
    for label, cfg in cands:
        m, sat = fixed_metric(qmodel, dataset, cfg)
        ls = loss(name, ref, m)
        ok = ls is None or ls <= max_loss + 1e-9
        why = "" if ok else f"loses {ls:.2f} > {max_loss:g}"
        scored.append(WidthCandidate(label, cfg, m, ls, sat, ok, why))
    res = FitResult(target, device, float(max_loss), name, ref, scored,
                    chain if chain is not None else folding_chain(qmodel, base))
    seen: dict[tuple[str, int], Trial] = {}
    by_label = {w.label: w for w in scored}

    def fits(w: WidthCandidate, i: int) -> bool:
        if (w.label, i) not in seen:
            r, l, p, cyc = res.chain[i]
            counts, over = synth(qmodel, w.config.replace(rows=r, lanes=l, pointwise_units=p), target, device)
            t = Trial(w.label, r, l, p, cyc, counts, over)
            seen[(w.label, i)] = t
            res.trials.append(t)
            if on_trial is not None:
                on_trial(t)
        return seen[(w.label, i)].fits

    def search() -> tuple[int, WidthCandidate] | None:
        best: tuple[int, WidthCandidate] | None = None
        order = sorted((w for w in scored if w.accepted), key=lambda w: _width_cost(w.config))
        for w in order:
            lo = 0 if best is None else best[0]  # only a width that reaches the best link so far matters
            if any(not t.fits and j <= lo and dominates(w.config, by_label[v].config) for (v, j), t in seen.items()):
                continue  # at least as wide as a width that does not fit there
            if not fits(w, lo):
                continue
            hi = len(res.chain) - 1
            while lo < hi:  # invariant: link lo fits; the answer is in [lo, hi]
                mid = (lo + hi + 1) // 2
                if fits(w, mid):
                    lo = mid
                else:
                    hi = mid - 1
            if best is None or lo > best[0] or (lo == best[0] and _better(w, best[1])):
                best = (lo, w)
        return best

    while True:
        best = search()
        if best is None:
            return res
        i, w = best
        r, l, p, _ = res.chain[i]
        cfg = w.config.replace(rows=r, lanes=l, pointwise_units=p)
        if confirm is None:
            break
        # place and route has the final word: a choice it refuses counts as not fitting, and the
        # search runs again (its syntheses are remembered, so only new links cost a yosys run)
        over = confirm(qmodel, cfg, target, device)
        t = seen[(w.label, i)]
        res.confirmed.append((t, over))
        if over is None:
            break
        seen[(w.label, i)] = dataclasses.replace(t, does_not_fit=over)
    res.chosen = seen[(w.label, i)]
    res.config = cfg
    return res


def _better(a: WidthCandidate, b: WidthCandidate) -> bool:
    """Is ``a`` a better choice than ``b`` at equal speed: smaller loss, then fewer saturations."""
    la = a.loss if a.loss is not None else 0.0
    lb = b.loss if b.loss is not None else 0.0
    return (la, a.saturations) < (lb, b.saturations)


def format_fit(res: FitResult) -> str:
    """What the search tried, what did not fit and what it chose, for the terminal."""
    ref = "n/a" if res.reference_metric is None else f"{res.reference_metric:.4f}"
    lines = [f"fit {res.target} {res.device}: fastest folding and widths within {res.max_loss:g} of the base "
             f"contract's fixed-point {res.metric_name or 'metric'} ({ref})"]
    lines.append("  widths (bit-accurate on the data):")
    for w in res.widths:
        m = "n/a" if w.metric is None else f"{w.metric:.4f}"
        ls = "n/a" if w.loss is None else f"{w.loss:+.2f}"
        lines.append(f"    {w.label:<28} {m:>8}  loss {ls:>6}  saturations {w.saturations:>6}  "
                     + ("ok" if w.accepted else f"dropped: {w.reason}"))
    lines.append("  foldings (fastest last): " + ", ".join(f"R{r}xL{l}xP{p} {c}" for r, l, p, c in res.chain)
                 + " cycles/step")
    lines.append("  syntheses (yosys):")
    for t in res.trials:
        c = t.counts
        lines.append(f"    {t.label:<28} {t.folding:<12} {t.cycles_per_step:>5} cyc/step  LUT {c.get('luts', 0):>6} "
                     f"FF {c.get('ffs', 0):>6} BRAM {c.get('brams', 0):>3} DSP {c.get('dsps', 0):>3}  "
                     + ("fits" if t.fits else t.does_not_fit.partition(";")[0]))
    for t, over in res.confirmed:
        lines.append(f"  place and route {t.label}, {t.folding}: " + ("placed and routed" if over is None else over))
    if res.chosen is not None:
        t = res.chosen
        w = next(w for w in res.widths if w.label == t.label)
        lines.append(f"  chose {t.label}, {t.folding}: {t.cycles_per_step} cycles/step, the fastest link that fits "
                     f"(loss {0.0 if w.loss is None else w.loss:+.2f})")
    return "\n".join(lines)
