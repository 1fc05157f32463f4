"""Quantization-aware training with domain-adaptation penalties (``datrig qat``)."""
