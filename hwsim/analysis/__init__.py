"""Analysis on top of the simulator: ``hwsim check`` (accuracy, flips, drift, saturation), the
quantization-loss decomposition, the width advisor and the HTML report."""
