"""The float twin: the trained network evaluated with every quantizer switched off.

We evaluate the *same* weights with Brevitas' quantization disabled (rather than training a
separate float network), so the float-vs-quantized difference isolates the cost of the fixed-
point arithmetic of the deployed weights.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from brevitas.graph.calibrate import quantization_status_manager


@contextlib.contextmanager
def float_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Within the block ``model`` computes in float32 (weights, biases, activations)."""
    with quantization_status_manager(
        model,
        disable_act_quant=True,
        disable_weight_quant=True,
        disable_bias_quant=True,
        is_training=model.training,
    ):
        yield model
