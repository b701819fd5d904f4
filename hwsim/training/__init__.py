"""Training: the engine of ``hwsim.torch`` (quantizers in the loop, straight-through gradients) and
``hwsim train``'s loop. PyTorch is imported only when training runs."""
