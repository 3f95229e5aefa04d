"""Hardware numbers: vendor-report parser, FPGA parts, the analytic estimator and L1T budget checks."""
