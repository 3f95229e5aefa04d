"""hls4ml conversion: custom layer handlers, templates, fixed-point reference, C-simulation."""
