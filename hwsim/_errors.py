"""The small family of domain errors.

Every error a user can cause by giving a bad file, option or value is one of these. The CLI turns
them into one line on stderr and exit status 2. Messages say what must hold and what was given.
"""


class HwsimError(ValueError):
    """Base class of every user-facing error raised by hwsim."""


class ConfigError(HwsimError):
    """A datapath contract (config object or TOML file) is invalid."""


class ModelFileError(HwsimError):
    """A model file is missing, unreadable, or does not hold a valid RNN state_dict."""


class QuantError(HwsimError):
    """A quantizer got parameters it cannot honour, or weights are not on its grid."""


class DataError(HwsimError):
    """A data set (built-in name or .npz file) is missing or malformed."""


class FormatError(HwsimError):
    """An export format, ROM file or manifest is invalid."""


class ToolError(HwsimError):
    """An external tool (iverilog, yosys, verilator) is missing or failed."""
