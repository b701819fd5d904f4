"""Quantization-aware training layers for PyTorch (needs the ``[train]`` extra).

``QuantRNN`` / ``QuantGRU`` / ``QuantLSTM`` / ``QuantLinear`` are drop-in subclasses of PyTorch's
modules that train with the seed paper's quantizers in the loop; ``QuantSeqModel`` stacks them with
a head in the layout hwsim's model files use. The engine lives in ``hwsim.training._layers``; this
module is its public face (docs/training.md).
"""

from .training._layers import *  # noqa: F401,F403
from .training._layers import __all__  # noqa: F401
