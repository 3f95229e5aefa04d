"""Fixed-point numerics shared by the models (their firmware-exact forward pass) and the firmware reference."""
