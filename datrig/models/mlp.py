"""A plain quantized MLP: input quantizer, (QuantLinear, QuantReLU) x n, QuantLinear, output quant.

It is an ``nn.Sequential`` so Brevitas' QONNX export and hls4ml see a straight chain. The output
of the last hidden ReLU is the *latent* used by feature-representation transfer (encoder =
everything up to it, task head = the last linear layer).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from datrig.models.latent import EncoderHeadSequential
from datrig.quant import layers
from datrig.quant.config import QuantConfig


class QuantMLP(EncoderHeadSequential):
    """``n_inputs -> hidden... -> 1`` with power-of-two fixed-point quantizers everywhere."""

    def __init__(
        self, n_inputs: int, hidden: tuple[int, ...], quant: QuantConfig, output_init: float = 0.0
    ) -> None:
        mods: OrderedDict[str, nn.Module] = OrderedDict()
        mods["input_quant"] = layers.input_quant(quant.input_bits, quant.input_max)
        n_prev = n_inputs
        for i, width in enumerate(hidden, start=1):
            bits = quant.layer(f"fc{i}")
            mods[f"fc{i}"] = layers.linear(n_prev, width, bits)
            mods[f"relu{i}"] = layers.relu(bits, quant.act_max, quant.act_rounding)
            n_prev = width
        mods["fc_out"] = layers.linear(n_prev, 1, quant.layer("fc_out"))
        mods["output_quant"] = layers.output_quant(quant.output_bits, quant.output_max)
        super().__init__(mods)
        with torch.no_grad():
            self.fc_out.bias.fill_(output_init)
        self.n_head_modules = 2  # fc_out, output_quant


def build_mlp(cfg: dict[str, Any]) -> QuantMLP:
    """The MLP of a checkpoint's ``model_config``."""
    return QuantMLP(
        cfg["n_inputs"],
        tuple(cfg["hidden"]),
        QuantConfig.from_dict(cfg["quant"]),
        output_init=cfg.get("output_init", 0.0),
    )
