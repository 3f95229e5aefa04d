"""Bit-exact NumPy models of l1tag's firmware kernels (the specification the C-simulation must equal)."""
