"""hwsim: multiplier-free recurrent networks on FPGAs.

Quantize RNN/GRU/LSTM weights to ternary or power-of-two values (Ott et al., arXiv 1608.06902),
simulate the shift-add datapath bit-accurately, export weight ROMs and Verilog, co-simulate the
RTL. The public API is re-exported here; names load lazily so that ``import hwsim`` (and the CLI's
``--help``) does not start Numba or PyTorch.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> implementation module
_EXPORTS = {
    # contract
    "DatapathConfig": "hwsim.datapath._config",
    "Override": "hwsim.datapath._config",
    "FixedFormat": "hwsim.datapath._config",
    "DEFAULT_CONFIG": "hwsim.datapath._config",
    "WeightCodec": "hwsim.model._codes",
    "Plan": "hwsim.datapath._plan",
    "lower": "hwsim.datapath._plan",
    # errors
    "HwsimError": "hwsim._errors",
    "ConfigError": "hwsim._errors",
    "ModelFileError": "hwsim._errors",
    "QuantError": "hwsim._errors",
    "DataError": "hwsim._errors",
    "FormatError": "hwsim._errors",
    "ToolError": "hwsim._errors",
    # models and data
    "RNNModel": "hwsim.model._model",
    "Layer": "hwsim.model._model",
    "Head": "hwsim.model._model",
    "QuantSpec": "hwsim.model._model",
    "load_model": "hwsim.model._modelfile",
    "save_model": "hwsim.model._modelfile",
    "model_from_tensors": "hwsim.model._modelfile",
    "model_to_tensors": "hwsim.model._modelfile",
    "load_data": "hwsim.data._datasets",
    "Dataset": "hwsim.data._datasets",
    # float reference
    "float_forward": "hwsim.sim._reference",
    "FloatResult": "hwsim.sim._reference",
    "GATE_NAMES": "hwsim.sim._reference",
    # quantizers
    "QuantResult": "hwsim.model._quant",
    "binarize": "hwsim.model._quant",
    "ternarize": "hwsim.model._quant",
    "pow2_ternarize": "hwsim.model._quant",
    "exp_quantize": "hwsim.model._quant",
    "uniform_quantize": "hwsim.model._quant",
    "quantize_tensor": "hwsim.model._quant",
    "quantize_model": "hwsim.model._quant",
    "decode_model_codes": "hwsim.model._quant",
    "glorot_bound": "hwsim.model._quant",
    # bit-accurate simulation and checks
    "simulate": "hwsim.sim._sim",
    "run_fixed": "hwsim.sim._sim",
    "SimResult": "hwsim.sim._sim",
    "FixedResult": "hwsim.sim._sim",
    "node_names": "hwsim.sim._sim",
    "run_check": "hwsim.analysis._check",
    "observed_ranges": "hwsim.analysis._advise",
    "suggest_config": "hwsim.analysis._advise",
    "quantization_loss": "hwsim.analysis._loss",
    # training (needs the [train] extra only when train() runs)
    "train": "hwsim.training._train",
    "TrainConfig": "hwsim.training._train",
    "TrainResult": "hwsim.training._train",
    "default_model_path": "hwsim.data",
    # RTL schedule and co-simulation
    "cycles_per_step": "hwsim.datapath._schedule",
    "cosim": "hwsim.hdl._cosim",
    "CosimReport": "hwsim.hdl._cosim",
    "plan_from_export": "hwsim.hdl._cosim",
    "random_inputs": "hwsim.hdl._cosim",
    "quantize_float": "hwsim.datapath._fixed",
    # report and the whole flow
    "run_flow": "hwsim.flow._demo",
    "run_demo": "hwsim.flow._demo",
    "FlowResult": "hwsim.flow._demo",
    "write_report": "hwsim.analysis._report",
    "build_html": "hwsim.analysis._report",
    "report_for_check": "hwsim.analysis._report",
    "weight_histograms": "hwsim.analysis._report",
    "WeightHistogram": "hwsim.analysis._report",
    # export (the hwsim.export package holds the rest)
    "write_export": "hwsim.export",
    "read_manifest": "hwsim.export",
    "decode_with_manifest": "hwsim.export",
    "rom_images": "hwsim.export",
    "synthesize": "hwsim.export",
    # a real board: the UART host driver (docs/board.md)
    "Board": "hwsim.board",
    "BoardError": "hwsim.board",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'hwsim' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
