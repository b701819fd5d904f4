"""HDL simulation: co-simulation of an export against the bit-accurate simulator, and the HDL
simulators it runs (Icarus Verilog, Verilator, yosys netlists)."""
