"""The firmware hand-off bundle: HLS project, test vectors, reports, manifest."""
