"""The model: ``RNNModel`` and its layers, model files (safetensors, .npz, torch.save), the
quantizers and the weight codes. Reads nothing above it (docs/architecture.md)."""
