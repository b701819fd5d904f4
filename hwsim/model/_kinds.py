"""The model's vocabulary: cell kinds and quantization methods (no imports, read by every layer)."""

#: Cell kinds and the number of gate blocks stacked in PyTorch's weight_ih / weight_hh rows.
CELL_GATES = {"rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "lstm": 4}

#: The quantization methods (``hwsim quantize --method``).
METHODS = (
    "binary",
    "binary-stoch",
    "ternary",
    "ternary-stoch",
    "pow2-ternary",
    "exp",
    "exp-stoch",
    "uniform",
)
#: The methods training takes (``hwsim train --method``): the quantization methods plus "full",
#: the float baseline.
TRAIN_METHODS = ("full",) + METHODS
