"""Brevitas quantizer presets with power-of-two fixed-point scales (ap_fixed friendly)."""
