"""Data-driven photon calibrations on the firmware's outputs: the ABCD fake yield, the ID
efficiency and data/sim scale factors, with closure against the toy's truth."""
