"""datrig: domain-adapted, quantized physics ML models from training to FPGA trigger firmware.

The public library API is :mod:`datrig.da`: decorrelation and domain-adaptation losses for
your own PyTorch training loop (``from datrig.da import disco_loss, flatness_loss, ...``).
Everything else is reached through the ``datrig`` command line. Importing ``datrig`` itself
loads nothing (``datrig.da`` is imported on first use).
"""

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["da"]


def __getattr__(name: str) -> Any:
    if name == "da":
        return importlib.import_module("datrig.da")
    raise AttributeError(f"module 'datrig' has no attribute {name!r}")
