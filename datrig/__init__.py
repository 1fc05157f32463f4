"""datrig: domain-adapted, quantized photon ML models from training to FPGA trigger firmware."""

__version__ = "0.1.0"
