"""Open synthesis and RTL: the firmware's arithmetic traced with da4ml (Verilog, Verilator, Yosys)."""
