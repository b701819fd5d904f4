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
    "DatapathConfig": "hwsim._config",
    "Override": "hwsim._config",
    "FixedFormat": "hwsim._config",
    "DEFAULT_CONFIG": "hwsim._config",
    "WeightCodec": "hwsim._codes",
    "Plan": "hwsim._plan",
    "lower": "hwsim._plan",
    # errors
    "HwsimError": "hwsim._errors",
    "ConfigError": "hwsim._errors",
    "ModelFileError": "hwsim._errors",
    "QuantError": "hwsim._errors",
    "DataError": "hwsim._errors",
    "FormatError": "hwsim._errors",
    "ToolError": "hwsim._errors",
    # models and data
    "RNNModel": "hwsim._model",
    "Layer": "hwsim._model",
    "Head": "hwsim._model",
    "QuantSpec": "hwsim._model",
    "load_model": "hwsim._modelfile",
    "save_model": "hwsim._modelfile",
    "model_from_tensors": "hwsim._modelfile",
    "model_to_tensors": "hwsim._modelfile",
    "load_data": "hwsim._data",
    "Dataset": "hwsim._data",
    # float reference
    "float_forward": "hwsim._reference",
    "FloatResult": "hwsim._reference",
    "GATE_NAMES": "hwsim._reference",
    # quantizers
    "QuantResult": "hwsim._quant",
    "binarize": "hwsim._quant",
    "ternarize": "hwsim._quant",
    "pow2_ternarize": "hwsim._quant",
    "exp_quantize": "hwsim._quant",
    "uniform_quantize": "hwsim._quant",
    "quantize_tensor": "hwsim._quant",
    "quantize_model": "hwsim._quant",
    "decode_model_codes": "hwsim._quant",
    "glorot_bound": "hwsim._quant",
    # bit-accurate simulation and checks
    "simulate": "hwsim._sim",
    "run_fixed": "hwsim._sim",
    "SimResult": "hwsim._sim",
    "FixedResult": "hwsim._sim",
    "node_names": "hwsim._sim",
    "run_check": "hwsim._check",
    "observed_ranges": "hwsim._advise",
    "suggest_config": "hwsim._advise",
    "quantization_loss": "hwsim._loss",
    # training (needs the [train] extra only when train() runs)
    "train": "hwsim._train",
    "TrainConfig": "hwsim._train",
    "TrainResult": "hwsim._train",
    "default_model_path": "hwsim.data",
    # RTL schedule and co-simulation
    "cycles_per_step": "hwsim._schedule",
    "cosim": "hwsim._cosim",
    "CosimReport": "hwsim._cosim",
    "plan_from_export": "hwsim._cosim",
    "random_inputs": "hwsim._cosim",
    "quantize_float": "hwsim._fixed",
    # report and the whole flow
    "run_flow": "hwsim._demo",
    "run_demo": "hwsim._demo",
    "FlowResult": "hwsim._demo",
    "write_report": "hwsim._report",
    "build_html": "hwsim._report",
    "report_for_check": "hwsim._report",
    "weight_histograms": "hwsim._report",
    "WeightHistogram": "hwsim._report",
    # export (the hwsim.export package holds the rest)
    "write_export": "hwsim.export",
    "read_manifest": "hwsim.export",
    "decode_with_manifest": "hwsim.export",
    "rom_images": "hwsim.export",
    "synthesize": "hwsim.export",
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
