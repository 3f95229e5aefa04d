"""Float and quantization-aware training, evaluation metrics."""
