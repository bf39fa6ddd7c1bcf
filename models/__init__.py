"""The transformer: one definition for the supernet and its extracted subnets, quantization, kernels and
checkpoints."""
