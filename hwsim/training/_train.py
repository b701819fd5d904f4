"""Quantization-aware training of RNN/GRU/LSTM classifiers, language models and regressors (``hwsim train``).

The seed paper's scheme (Ott et al., arXiv 1608.06902): float shadow weights, the quantized copy
in the forward pass, straight-through gradients, stochastic quantizers in training and their
deterministic twins in evaluation, weights clipped to the quantizer's range after every step
(``hwsim.torch``). Adam, cross-entropy (mean squared error for regression), a validation split and
the best checkpoint by validation metric. The saved model is the deterministic quantized model of the best shadow weights
(``hwsim.model._quant.quantize_model``), so it is a valid input to ``hwsim check`` and ``hwsim export``.

PyTorch is imported only inside the functions that need it, so this module (and
``default_model_path``) import without the ``[train]`` extra.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import platform
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import DataError, HwsimError
from ..data._datasets import PER_STEP_TASKS, REGRESSION_TASKS
from ..model._model import TRAIN_METHODS
from .._repr import short_repr

#: ``--cell`` choices and the hwsim cell name each one trains: the cell names every command uses
#: (``CELL_GATES``), plus ``rnn`` as an alias of ``rnn_tanh`` (PyTorch's ``nn.RNN`` default).
CELL_NAMES = {"rnn_tanh": "rnn_tanh", "rnn_relu": "rnn_relu", "gru": "gru", "lstm": "lstm", "rnn": "rnn_tanh"}
#: Learning-rate schedules: constant, or halved on a validation plateau (ReduceLROnPlateau).
SCHEDULES = ("constant", "plateau")
TORCH_MISSING = "hwsim train needs PyTorch: pip install 'hwsim[train]'"


class TorchMissing(HwsimError):
    """PyTorch is not installed (the ``[train]`` extra)."""


def import_torch():
    """``torch``, or TorchMissing with the one-line install hint."""
    try:
        import torch
    except ImportError:
        raise TorchMissing(TORCH_MISSING) from None
    return torch


def default_model_path() -> Path:
    """The shipped default model (a ternary GRU trained on digits); see hwsim/data/default_gru.json."""
    from ..data import default_model_path as path

    return path()


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (the ``hwsim train`` options).

    ``limit`` keeps the first N training sequences after a seeded shuffle; ``eval_limit`` does
    the same for the validation and test sets. ``valid_fraction`` carves the validation set out of
    the training split when the data set has no ``valid`` split of its own. A data file of one set
    (``x``, ``y``; no ``x_train``/``x_test``) is split by ``hwsim.data._datasets.holdout``, seeded
    by ``split_seed`` (not ``seed``: models trained with other seeds are tested on the same
    sequences), ``valid_fraction`` and ``test_fraction`` of each class held out.
    """

    cell: str = "gru"
    hidden: int = 32
    method: str = "ternary"
    data: str = "digits"
    layers: int = 1
    epochs: int = 20
    lr: float = 1e-2
    batch: int = 64
    seed: int = 0
    limit: int | None = None
    eval_limit: int | None = None
    bits: int | None = None
    e_min: int | None = None
    e_max: int | None = None
    zero: bool = True
    biases: str = "fixed"
    H: float = 1.0
    valid_fraction: float = 0.1
    grad_clip: float = 5.0
    threads: int = 1
    check: bool = False  # also measure the bit-accurate fixed-point metric (hwsim check)
    schedule: str = "constant"  # "plateau": halve the learning rate after 2 epochs without progress
    patience: int = 0  # stop after this many epochs without a better validation metric (0: never)
    clip: bool = True  # clamp the float weights to the quantizer's range after every step
    scale: str = "tensor"  # hwsim.torch.SCALES: "tensor", "row"; "exact", "row-pow2": ablations, no model file
    device: str = "cpu"  # PyTorch device of the training ("cuda" on a GPU); the models saved are the same kind
    test_fraction: float = 0.2  # a one-set data file: the share of each class held out for test
    split_seed: int = 0  # a one-set data file: the seed of its holdout
    datapath: str | None = None  # activation-aware QAT: a contract TOML the forward pass runs (QuantConfig.datapath)
    row_scale: str = "stat"  # scale="row": "stat" (the row's mean magnitude) or "learned" log2 level per row
    teacher: str | None = None  # float model file to distil from (its outputs join the labels as targets)
    distill_temperature: float = 2.0  # softmax temperature of teacher and student in the distillation term
    distill_weight: float = 0.5  # loss = (1 - weight) * cross-entropy(labels) + weight * T**2 * KL(teacher || student)

    def __post_init__(self) -> None:
        if self.cell not in CELL_NAMES:
            raise HwsimError(f"cell must be one of {', '.join(CELL_NAMES)}, not {self.cell!r}")
        if self.method not in TRAIN_METHODS:
            raise HwsimError(f"method must be one of {', '.join(TRAIN_METHODS)}, not {self.method!r}")
        for name in ("hidden", "layers", "epochs", "batch", "threads"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise HwsimError(f"{name} must be a positive int, not {v!r}")
        for name in ("limit", "eval_limit"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise HwsimError(f"{name} must be a positive int or None, not {v!r}")
        if not (isinstance(self.seed, int) and self.seed >= 0):
            raise HwsimError(f"seed must be a non-negative int, not {self.seed!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise HwsimError(f"lr must be a positive number, not {self.lr!r}")
        if self.schedule not in SCHEDULES:
            raise HwsimError(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if isinstance(self.patience, bool) or not isinstance(self.patience, int) or self.patience < 0:
            raise HwsimError(f"patience must be a non-negative int, not {self.patience!r}")
        from ..model._quant import ROW_SCALE_METHODS

        scale = {"pow2": "tensor"}.get(self.scale, self.scale)  # "pow2": the old name of "tensor"
        object.__setattr__(self, "scale", scale)
        if scale not in ("tensor", "row", "exact", "row-pow2"):
            raise HwsimError(f"scale must be one of tensor, row, exact, row-pow2, not {self.scale!r}")
        if scale == "row" and self.method != "full" and self.method.replace("-stoch", "") not in ROW_SCALE_METHODS:
            raise HwsimError(f"per-row scales apply to binary, ternary and pow2-ternary methods, not {self.method}")
        if self.row_scale not in ("learned", "stat"):
            raise HwsimError(f"row_scale must be learned or stat, not {self.row_scale!r}")
        if self.teacher is not None and not isinstance(self.teacher, str):
            raise HwsimError(f"teacher must be a model file name (str), not {type(self.teacher).__name__}")
        if not (isinstance(self.distill_temperature, (int, float)) and 0 < self.distill_temperature < math.inf):
            raise HwsimError(f"distill_temperature must be a positive number, not {self.distill_temperature!r}")
        if not (isinstance(self.distill_weight, (int, float)) and 0 <= self.distill_weight <= 1):
            raise HwsimError(f"distill_weight must be in [0, 1], not {self.distill_weight!r}")
        if not (isinstance(self.device, str) and re.fullmatch(r"cpu|cuda(:\d+)?", self.device)):
            raise HwsimError(f"device must be cpu, cuda or cuda:N, not {self.device!r}")
        if not 0 < self.valid_fraction < 1:
            raise HwsimError(f"valid_fraction must be in (0, 1), not {self.valid_fraction!r}")
        if not (0 < self.test_fraction < 1 and self.valid_fraction + self.test_fraction < 1):
            raise HwsimError(f"test_fraction must be in (0, 1) with valid_fraction + test_fraction < 1, not "
                             f"{self.test_fraction!r} (valid_fraction {self.valid_fraction!r})")
        if isinstance(self.split_seed, bool) or not (isinstance(self.split_seed, int) and self.split_seed >= 0):
            raise HwsimError(f"split_seed must be a non-negative int, not {self.split_seed!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class TrainResult:
    """What ``train`` produced: the saved (quantized) model, its float shadow, and the metrics."""

    __repr__ = short_repr

    model: Any  # RNNModel, quantized unless method == "full"; None for a training-only ternary scale
    float_model: Any  # RNNModel of the best float shadow weights
    metrics: dict[str, Any] = field(default_factory=dict)
    module: Any = None  # the hwsim.torch.QuantSeqModel holding the best weights
    test: Any = None  # the test Dataset the metrics were measured on (after eval_limit)


# ---------------------------------------------------------------------------------------- data


def load_splits(config: TrainConfig, *, record: dict[str, Any] | None = None):
    """(train, valid, test) Datasets of ``config.data``, limited and carved as the config says.

    A built-in set or a file with per-split arrays gives its own train and test parts (and valid,
    else ``valid_fraction`` of train is carved out); a file of one set is split by a stratified
    holdout (``TrainConfig``). The three never share a sequence. ``record``, when given, receives
    how the split was made (the ``split`` entry of the metrics JSON).
    """
    from ..data._datasets import BUILTINS, file_parts, holdout, load_data

    rng = np.random.default_rng(config.seed)
    how: dict[str, Any]
    parts = () if config.data in BUILTINS or not Path(config.data).is_file() else file_parts(config.data)
    if config.data in BUILTINS or parts:
        if parts and ("train" not in parts or "test" not in parts):
            raise DataError(f"{config.data}: hwsim train needs the per-split arrays x_train and x_test (and "
                            f"optionally x_valid), not only x_{', x_'.join(parts)}")
        train = load_data(config.data, split="train")
        _check_trainable(config, train)
        valid = None
        if "valid" in parts:
            valid = load_data(config.data, split="valid")
        elif not parts:
            try:  # fashion and kjv hold a validation part of their own; digits does not
                valid = load_data(config.data, split="valid")
            except DataError:
                pass
        how = {"method": "the data's own parts"}
        if valid is None:
            perm = rng.permutation(len(train.x))
            n_valid = max(1, int(round(config.valid_fraction * len(perm))))
            valid = dataclasses.replace(train.subset(np.sort(perm[:n_valid]), name=f"{config.data}:valid (carved from train)"),
                                        split="valid")
            train = train.subset(np.sort(perm[n_valid:]))
            how["valid_carved_from_train"] = {"fraction": config.valid_fraction, "seed": config.seed}
        test = load_data(config.data, split="test")
    else:
        whole = load_data(config.data)
        _check_trainable(config, whole)
        train, valid, test = holdout(whole, valid_fraction=config.valid_fraction, test_fraction=config.test_fraction,
                                     seed=config.split_seed)
        how = {"method": "stratified holdout" if whole.task == "classify" else "holdout",
               "seed": config.split_seed, "valid_fraction": config.valid_fraction,
               "test_fraction": config.test_fraction}
    if config.limit is not None and config.limit < len(train.x):
        train = train.subset(np.sort(rng.permutation(len(train.x))[: config.limit]))
    if config.eval_limit is not None:
        if config.eval_limit < len(valid.x):
            valid = valid.subset(np.sort(rng.permutation(len(valid.x))[: config.eval_limit]))
        if config.eval_limit < len(test.x):
            test = test.subset(np.sort(np.random.default_rng(config.seed).permutation(len(test.x))[: config.eval_limit]))
    if record is not None:
        record.update(how, train=train.label, valid=valid.label, test=test.label)
    return train, valid, test


def _check_trainable(config: TrainConfig, ds) -> None:
    if ds.y is None or ds.task is None:
        raise DataError(f"data set {config.data!r} has no targets to train on (task {ds.task!r})")


def metric_name(task: str) -> str:
    """``accuracy`` (fraction, higher is better), ``bits_per_symbol`` or ``mse`` (lower is better), as hwsim check names them."""
    from ..analysis._metric import metric_name as name

    return name(task)


def better(task: str, a: float, b: float) -> bool:
    """Whether metric value ``a`` beats ``b``."""
    from ..analysis._metric import higher_is_better

    return a > b if higher_is_better(metric_name(task)) else a < b


def _loss(torch, task: str, out, y):
    """The training loss: cross-entropy of the logits, or the mean squared error of regression outputs."""
    if task in REGRESSION_TASKS:
        return torch.nn.functional.mse_loss(out, y)
    return torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


# ------------------------------------------------------------------------------------ training


def evaluate(module, ds, *, batch: int = 512) -> float:
    """Accuracy (classify), bits per character (next-symbol) or mean squared error (regression) of
    ``module`` in evaluation mode."""
    torch = import_torch()
    module.eval()
    device = next(module.parameters()).device
    total, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(ds.x), batch):
            x = torch.from_numpy(np.ascontiguousarray(ds.x[i : i + batch], dtype=np.float32)).to(device)
            y = torch.from_numpy(np.asarray(ds.y[i : i + batch], dtype=_target_dtype(ds.task))).to(device)
            out = module(x)
            if ds.task in REGRESSION_TASKS:
                total += float(((out.double() - y.double()) ** 2).sum())
                n += y.numel()
            elif ds.task == "next-symbol":
                loss = torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), reduction="sum")
                total += float(loss) / math.log(2)
                n += y.numel()
            else:
                total += float((out.argmax(-1) == y).sum())
                n += len(y)
    return total / max(n, 1)


def _target_dtype(task: str):
    return np.float32 if task in REGRESSION_TASKS else np.int64


def datapath_config(config: TrainConfig):
    """The ``DatapathConfig`` of ``config.datapath`` (activation-aware QAT), or None."""
    if config.datapath is None:
        return None
    from ..datapath._config import DatapathConfig

    return DatapathConfig.from_toml(config.datapath)


def build_module(config: TrainConfig, input_size: int, num_classes: int, per_step: bool):
    """A fresh ``hwsim.torch.QuantSeqModel`` with Glorot-uniform weights and zero biases.

    ``hwsim.torch.init_weights_`` says why Glorot for every method (TernaryConnect's choice).
    """
    import_torch()
    from ._layers import QuantConfig, QuantSeqModel, init_weights_

    qc = QuantConfig(method=config.method, bits=config.bits, e_min=config.e_min, e_max=config.e_max,
                     zero=config.zero, biases=config.biases, H=config.H, scale=config.scale,
                     datapath=datapath_config(config), row_scale=config.row_scale)
    module = QuantSeqModel(CELL_NAMES[config.cell], input_size, config.hidden, num_classes,
                           num_layers=config.layers, config=qc, per_step=per_step)
    return init_weights_(module)


def teacher_logits(config: TrainConfig, x_all, num_classes: int, per_step: bool):
    """The teacher's logits on the training inputs ``x_all`` (computed once), or None without a teacher.

    The teacher is any model file hwsim reads (its weights are used as floats, in PyTorch); its
    input width and class count must be the data set's.
    """
    if config.teacher is None:
        return None
    torch = import_torch()
    from ..model._modelfile import load_model
    from ._layers import QuantConfig, QuantSeqModel

    t = load_model(config.teacher)
    if t.head is None or t.num_classes != num_classes or t.input_size != x_all.shape[2]:
        raise HwsimError(f"teacher {config.teacher} must read {x_all.shape[2]} inputs and give {num_classes} classes, "
                         f"not {t.input_size} inputs and {t.num_classes} classes")
    module = QuantSeqModel(t.cell, t.input_size, t.hidden_size, num_classes, num_layers=t.num_layers,
                           config=QuantConfig(method="full"), per_step=per_step)
    module.load_model(dataclasses.replace(t, quant=None))
    module = module.to(x_all.device).eval()
    with torch.no_grad():
        return torch.cat([module(x_all[i : i + 512]) for i in range(0, len(x_all), 512)])


def _distill_loss(logits, teacher, T: float):
    """``T**2 * KL(softmax(teacher / T) || softmax(logits / T))`` per position (Hinton et al. 2015)."""
    torch = import_torch()
    lt = torch.log_softmax(teacher.reshape(-1, teacher.shape[-1]) / T, dim=-1)
    ls = torch.log_softmax(logits.reshape(-1, logits.shape[-1]) / T, dim=-1)
    return T * T * torch.nn.functional.kl_div(ls, lt, log_target=True, reduction="batchmean")


def train(config: TrainConfig, out: str | Path | None = None, *, progress: bool = True,
          command: str | None = None) -> TrainResult:
    """Train as ``config`` says; write the quantized model to ``out`` and its metrics beside it.

    A quantized model's float shadow weights go to ``float_model_path(out)`` (``NAME.float.SUFFIX``),
    so ``hwsim check OUT --float-model NAME.float.SUFFIX`` shows the float column.

    The metrics JSON (``out`` with suffix ``.json``) records the config, the command line, how the
    data was split (``split``: the parts, or the holdout's seed and fractions) and the size of each
    part (``n_train``, ``n_valid``, ``n_test``), the per-epoch validation metric, the test metric
    of the saved weights (float arithmetic with the quantized weights), the test metric of the
    float shadow weights, and the wall time.
    """
    torch = import_torch()
    from .._progress import bar as progress_bar

    from ..model._modelfile import SUFFIXES, save_model

    if out is not None:
        out = Path(out)
        if out.suffix not in SUFFIXES:
            raise HwsimError(f"model file name must end in .safetensors or .npz, not {out.name!r}")
        if not out.parent.is_dir():
            raise HwsimError(f"output directory must exist, not found: {out.parent}")
    if config.device != "cpu" and not torch.cuda.is_available():
        raise HwsimError(f"device {config.device} needs a CUDA GPU that PyTorch can see; none is here (use cpu)")
    t0 = time.perf_counter()
    old_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        split_record: dict[str, Any] = {}
        train_ds, valid_ds, test_ds = load_splits(config, record=split_record)
        if any(d.lengths is not None for d in (train_ds, valid_ds, test_ds)):  # never a silent padded run
            raise DataError(
                f"{config.data}: hwsim train does not take variable-length sequences ('lengths') yet; train "
                "with hwsim.torch layers (examples/varlen_gru.py), then hwsim quantize and check"
            )
        task = train_ds.task
        per_step = task in PER_STEP_TASKS
        torch.manual_seed(config.seed)
        module = build_module(config, train_ds.x.shape[2], int(train_ds.num_classes), per_step).to(config.device)
        gen = torch.Generator(device=config.device).manual_seed(config.seed + 1)
        module.set_generator(gen)
        opt = torch.optim.Adam(module.parameters(), lr=config.lr)
        sched = None
        if config.schedule == "plateau":
            # patience=1: halved once 2 epochs in a row bring no better validation metric (it counts
            # "more than patience" bad epochs), so a --patience of 3 or more trains at the halved rate
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, mode="max" if better(task, 1.0, 0.0) else "min", factor=0.5, patience=1)
        rng = np.random.default_rng(config.seed + 2)
        x_all = torch.from_numpy(np.ascontiguousarray(train_ds.x, dtype=np.float32)).to(config.device)
        y_all = torch.from_numpy(np.asarray(train_ds.y, dtype=_target_dtype(task))).to(config.device)
        if config.teacher is not None and task not in ("classify", "next-symbol"):
            raise HwsimError(f"--teacher distils class probabilities: it needs class labels, not {task} targets")
        t_all = teacher_logits(config, x_all, int(train_ds.num_classes), per_step)
        n = len(x_all)
        steps = math.ceil(n / config.batch)
        history = []
        best, best_epoch, best_state = None, -1, None
        bar = progress_bar(total=config.epochs * steps, disable=True if not progress else None, unit="batch",
                   desc=f"{config.cell}-{config.hidden} {config.method} {config.data}", leave=False)
        for epoch in range(config.epochs):
            module.train()
            perm = torch.from_numpy(rng.permutation(n)).to(config.device)
            total_t = torch.zeros((), dtype=torch.float64, device=config.device)  # no host sync per batch
            for i in range(steps):
                idx = perm[i * config.batch : (i + 1) * config.batch]
                logits = module(x_all[idx])
                y = y_all[idx]
                loss = _loss(torch, task, logits, y)
                if t_all is not None:
                    a = config.distill_weight
                    loss = (1 - a) * loss + a * _distill_loss(logits, t_all[idx], config.distill_temperature)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if config.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(module.parameters(), config.grad_clip)
                opt.step()
                if config.clip:
                    module.clip_weights()
                total_t += loss.detach().double() * len(idx)
                bar.update()
            total = float(total_t)
            v = evaluate(module, valid_ds)
            history.append({"epoch": epoch + 1, "train_loss": total / n, "valid": v})
            bar.set_postfix({"loss": f"{total / n:.3f}", metric_name(task): f"{v:.4f}"})
            if best is None or better(task, v, best):
                best, best_epoch, best_state = v, epoch + 1, copy.deepcopy(module.state_dict())
            if sched is not None:
                sched.step(v)
            if config.patience and epoch + 1 - best_epoch >= config.patience:
                break
        bar.close()
        module.load_state_dict(best_state)
        module.set_generator(None)  # training is over; a (device) generator does not deep-copy everywhere
        test_metric = evaluate(module, test_ds)
        shadow = copy.deepcopy(module)
        shadow.config = dataclasses.replace(module.config, method="full", datapath=None)  # float arithmetic
        for m in (shadow.rnn, shadow.head):
            m.quantizers = {k: None for k in m.quantizers}
        shadow_metric = evaluate(shadow, test_ds)
        hwsim_model = config.scale in ("tensor", "row") or not config.method.startswith("ternary")
        model = module.quantized_model(seed=config.seed) if hwsim_model else None
        float_model = module.float_model()
    finally:
        torch.set_num_threads(old_threads)
    wall = time.perf_counter() - t0
    metrics = {
        "command": command,
        "config": config.to_dict(),
        "task": task,
        "metric": metric_name(task),
        "test_metric": test_metric,
        "shadow_test_metric": shadow_metric,
        "best_valid_metric": best,
        "best_epoch": best_epoch,
        "history": history,
        "split": split_record,
        "n_train": int(len(train_ds.x)),
        "n_valid": int(len(valid_ds.x)),
        "n_test": int(len(test_ds.x)),
        "input_size": int(train_ds.x.shape[2]),
        "steps": int(train_ds.x.shape[1]),
        "num_classes": int(train_ds.num_classes),
        "parameters": int(sum(p.numel() for p in module.parameters())),
        "fixed_test_metric": None,
        "fixed_how": None,
        "quant": None if model is None or model.quant is None else json.loads(model.quant.to_json()),
        "wall_s": round(wall, 2),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if config.check and model is not None:
        metrics["fixed_test_metric"], metrics["fixed_how"] = fixed_point_metric(
            model, test_ds, float_model, datapath_config(config))
    if out is not None and model is not None:
        save_model(model, out)
        if model.quant is not None:  # the float shadow weights: `hwsim check --float-model` compares with them
            save_model(float_model, float_model_path(out))
            metrics["float_model"] = str(float_model_path(out))
        metrics_path(out).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return TrainResult(model=model, float_model=float_model, metrics=metrics, module=module, test=test_ds)


def fixed_point_metric(qmodel, test, float_model=None, config=None, *, analyses: bool = True
                       ) -> tuple[float | None, str]:
    """The bit-accurate fixed-point metric of ``qmodel`` on ``test`` and how it was measured.

    Uses ``hwsim.analysis._check.run_check`` (what ``hwsim check`` runs, with its drift, saturation and
    quantization-loss analyses) when it is installed and ``analyses`` is true, else the bit-accurate
    simulator ``hwsim.sim._sim.run_fixed`` directly: the same metric of the same simulator output, without
    the analyses (a hundred times faster; scripts/reproduce.py measures hundreds of models this way).
    ``config`` is the DatapathConfig (default: the 16-bit default). Float models have no shift-add
    datapath: (None, reason).
    """
    from ..datapath._config import DatapathConfig

    cfg = DatapathConfig() if config is None else config
    if qmodel.quant is None:
        return None, "float weights: no shift-add datapath"
    run_check = None
    if analyses:
        try:
            from ..analysis._check import run_check
        except ImportError:
            pass
    if run_check is not None:
        r = run_check(qmodel, test, cfg, float_model=float_model)
        v = r["fixed_metric"] if isinstance(r, dict) else getattr(r, "fixed_metric")
        return (None if v is None else float(v)), "hwsim check"
    from ..sim._sim import run_fixed

    per_step = test.task in PER_STEP_TASKS
    y = np.asarray(run_fixed(qmodel, test.x, cfg, head_all_steps=per_step).y, dtype=np.float64)
    if test.task in REGRESSION_TASKS:
        return float(np.mean((y - test.y) ** 2)), "hwsim.sim._sim.run_fixed"
    if per_step:
        z = y - y.max(-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        nll = -np.take_along_axis(logp, test.y[..., None], -1)
        return float(nll.mean() / math.log(2)), "hwsim.sim._sim.run_fixed"
    return float((y.argmax(-1) == test.y).mean()), "hwsim.sim._sim.run_fixed"


def float_model_path(model_path: str | Path) -> Path:
    """Where ``train`` writes the float shadow weights of a quantized ``model_path``: ``NAME.float.SUFFIX``."""
    p = Path(model_path)
    return p.with_name(f"{p.stem}.float{p.suffix}")


def metrics_path(model_path: str | Path) -> Path:
    """Where ``train`` writes the metrics of ``model_path``: the same name with suffix .json."""
    return Path(model_path).with_suffix(".json")


def command_line(config: TrainConfig, output: str | Path) -> str:
    """The ``hwsim train`` command that reruns ``config`` (every option spelled out)."""
    import shlex

    d = config.to_dict()
    args = ["hwsim", "train"]
    for key in ("cell", "hidden", "layers", "method", "data", "epochs", "lr", "batch", "seed", "limit",
                "eval_limit", "bits", "e_min", "e_max", "H", "biases", "threads"):
        v = d[key]
        if v is None or (key == "H" and v == 1.0) or (key == "layers" and v == 1):
            continue
        args += [f"--{key.replace('_', '-')}", str(v)]
    if not config.zero:
        args.append("--paper-exact")
    if config.scale != "tensor":
        args += ["--scale", config.scale]
        if config.scale == "row":
            args += ["--row-scale", config.row_scale]
    if config.teacher is not None:
        args += ["--teacher", config.teacher, "--distill-temperature", str(config.distill_temperature),
                 "--distill-weight", str(config.distill_weight)]
    if config.schedule != "constant":
        args += ["--schedule", config.schedule]
    if config.patience:
        args += ["--patience", str(config.patience)]
    if config.device != "cpu":
        args += ["--device", config.device]
    defaults = TrainConfig()
    for key in ("valid_fraction", "test_fraction", "split_seed", "datapath"):
        if d[key] != getattr(defaults, key):
            args += [f"--{key.replace('_', '-')}", str(d[key])]
    if config.check:
        args.append("--check")
    args += ["-o", str(output)]
    return " ".join(shlex.quote(a) for a in args)
