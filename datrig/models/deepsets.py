"""Permutation-invariant Deep Sets network over calorimeter cells, built to convert bit-exactly.

Input ``(N, n_features, n_cells)``. Per-node layers are ``QuantConv1d(kernel_size=1)``; pooling
is a ``Flatten`` followed by a *frozen* bias-free ``QuantLinear`` whose weight is the constant
averaging matrix (``1/n_cells`` on the entries of each channel), because global average pooling
and MatMul-with-constant pooling were seen to convert silently wrong in hls4ml. ``n_cells`` must
be a power of two so ``1/n_cells`` is exact in fixed point; the averaging weight uses a constant
power-of-two scale with one spare integer bit so ``1/n_cells`` does not overflow.

After the pooling, an optional non-linear head (``head_widths``: ``QuantLinear`` + ``QuantReLU``
each) combines the pooled channels before ``fc_out``: the mean of per-cell features is linear
in the cells, so ratios and differences of pooled quantities (shower-shape-like combinations)
need layers after the pooling. The encoder/head split for the ``frt`` penalty is the one of the
MLPs: the latent is the last hidden ReLU (the pooled representation without a head, else the
last head ReLU), the task head ``fc_out`` + ``output_quant``.

The flatten order is channel-major (index ``c * n_cells + k``) in Brevitas' channels-first
layout; a channels-last conversion must permute the averaging matrix's columns (it is symmetric
under any permutation within a channel, so only the channel/cell interleaving matters).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from datrig.errors import DatrigError
from datrig.models.latent import EncoderHeadSequential
from datrig.quant import layers
from datrig.quant.config import QuantConfig

POOL_WEIGHT_BITS = 8


def averaging_matrix(n_channels: int, n_cells: int) -> torch.Tensor:
    """(n_channels, n_channels * n_cells): row c averages the flattened block of channel c."""
    weight = torch.zeros(n_channels, n_channels * n_cells)
    for c in range(n_channels):
        weight[c, c * n_cells : (c + 1) * n_cells] = 1.0 / n_cells
    return weight


def _add_stack(mods, quant: QuantConfig, prefix: str, widths, n_in: int, make_layer) -> int:
    """Append ``<prefix>i`` layers (``make_layer``) each followed by ``<prefix>_relu<i>``;
    returns the last width."""
    for i, width in enumerate(widths, start=1):
        bits = quant.layer(f"{prefix}{i}")
        mods[f"{prefix}{i}"] = make_layer(n_in, width, bits)
        mods[f"{prefix}_relu{i}"] = layers.relu(bits, quant.act_max)
        n_in = width
    return n_in


class QuantDeepSets(EncoderHeadSequential):
    """Per-node ``n_features -> node_widths...``, mean pooling, ``head_widths...``, ``-> 1``."""

    def __init__(
        self,
        n_features: int,
        n_cells: int,
        node_widths: tuple[int, ...],
        quant: QuantConfig,
        head_widths: tuple[int, ...] = (),
        output_init: float = 0.0,
    ) -> None:
        if n_cells < 1 or n_cells & (n_cells - 1):
            raise DatrigError(f"Deep Sets needs a power-of-two number of cells, got {n_cells}")
        mods: OrderedDict[str, nn.Module] = OrderedDict()
        mods["input_quant"] = layers.input_quant(quant.input_bits, quant.input_max)
        n_prev = _add_stack(mods, quant, "node", node_widths, n_features, layers.conv1x1)
        mods["flatten"] = nn.Flatten()
        # range 2/n_cells: 1/n_cells is then exactly representable (one spare integer bit)
        mods["pool"] = layers.constant_linear(
            n_prev * n_cells, n_prev, POOL_WEIGHT_BITS, 2.0 / n_cells
        )
        mods["pool_quant"] = layers.relu(quant.layer("pool"), quant.act_max)
        n_pooled = n_prev
        n_prev = _add_stack(mods, quant, "head", head_widths, n_pooled, layers.linear)
        mods["fc_out"] = layers.linear(n_prev, 1, quant.layer("fc_out"))
        mods["output_quant"] = layers.output_quant(quant.output_bits, quant.output_max)
        super().__init__(mods)
        with torch.no_grad():
            self.pool.weight.copy_(averaging_matrix(n_pooled, n_cells))
            self.fc_out.bias.fill_(output_init)
        self.pool.weight.requires_grad_(False)
        self.n_head_modules = 2  # fc_out, output_quant


def build_deepsets(cfg: dict[str, Any]) -> QuantDeepSets:
    """The Deep Sets network of a checkpoint's ``model_config`` (``hidden``: per-node widths;
    ``head``: widths after the pooling, absent in older checkpoints = no head)."""
    return QuantDeepSets(
        cfg["n_inputs"],
        cfg["n_cells"],
        tuple(cfg["hidden"]),
        QuantConfig.from_dict(cfg["quant"]),
        head_widths=tuple(cfg.get("head", ())),
        output_init=cfg.get("output_init", 0.0),
    )
