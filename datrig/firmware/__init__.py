"""Firmware checks: C-simulation, verification against the emulator, latency/resource reports."""
