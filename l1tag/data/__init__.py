"""Jets: Pythia 8 + FastJet generation in the hls4ml HDF5 layout, readers, kT-sorted preprocessing."""
