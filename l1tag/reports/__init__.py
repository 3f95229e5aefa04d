"""Hardware numbers (vendor reports or labelled estimates), L1T budget checks, report.md and plots."""
