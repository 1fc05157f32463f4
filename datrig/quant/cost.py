"""The firmware cost of a quantized network, differentiable: effective bit operations (EBOPs).

In distributed arithmetic (da4ml, hls4ml's Latency strategy at reuse 1) every constant
multiply-accumulate becomes adders whose count and width grow with the weight's bits times the
input's bits; HGQ/HGQ2 call the sum over all MACs of bits(weight) x bits(input) the EBOPs and
show it tracks LUTs. Here it is computed from the layers' (possibly learned) bit widths, so a
training loss can pull bit widths down; scans use it to rank models without synthesis. Weights
that quantize to zero cost nothing in DA: each weight counts with its fraction of non-zero
entries.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from brevitas.nn import QuantConv1d, QuantIdentity, QuantLinear, QuantReLU
from torch import nn

from datrig.errors import DatrigError


@dataclass
class LayerCost:
    name: str
    macs: int  # multiply-accumulates per event (per node for per-node layers: x nodes)
    weight_bits: torch.Tensor
    input_bits: torch.Tensor
    nonzero: torch.Tensor  # fraction of weights that do not quantize to zero

    @property
    def ebops(self) -> torch.Tensor:
        return self.macs * self.nonzero * self.weight_bits * self.input_bits


def _act_bits(module: nn.Module) -> torch.Tensor | None:
    if isinstance(module, (QuantReLU, QuantIdentity)):
        return module.act_quant.bit_width()
    return None


def layer_costs(model: nn.Module, n_nodes: int = 1) -> list[LayerCost]:
    """Per weighted layer of a sequential model, in order; the input bits of a layer are
    those of the last activation quantizer before it. ``n_nodes`` multiplies per-node layers."""
    costs = []
    bits_in: torch.Tensor | None = None
    for name, module in model.named_children():
        act = _act_bits(module)
        if act is not None:
            bits_in = act
        elif isinstance(module, (QuantLinear, QuantConv1d)):
            if bits_in is None:
                raise DatrigError(f"layer {name}: no quantizer before it to know its input bits")
            if not module.weight.requires_grad:  # frozen constants (Deep Sets pooling)
                continue
            weight = module.weight_quant.bit_width()
            q = module.quant_weight().value.detach()
            nonzero = (q != 0).float().mean()
            macs = module.weight[..., 0].numel() if isinstance(module, QuantConv1d) else (
                module.weight.numel())  # fmt: skip
            macs *= n_nodes if isinstance(module, QuantConv1d) else 1
            costs.append(LayerCost(name, macs, weight, bits_in, nonzero))
            bits_in = None
    return costs


def ebops(model: nn.Module, n_nodes: int = 1) -> torch.Tensor:
    """Sum of EBOPs over the weighted layers (differentiable in learned bit widths)."""
    costs = layer_costs(model, n_nodes)
    return sum((c.ebops for c in costs), torch.zeros(()))


def bit_widths(model: nn.Module) -> dict[str, dict[str, int]]:
    """The (rounded) bit widths of every quantizer, for the run's config and metrics."""
    out: dict[str, dict[str, int]] = {}
    for name, module in model.named_children():
        if isinstance(module, (QuantLinear, QuantConv1d)):
            out[name] = {"weight": int(module.weight_quant.bit_width().item())}
        act = _act_bits(module)
        if act is not None:
            out[name] = {"act": int(act.item())}
    return out


def dead_layers(model: nn.Module) -> list[str]:
    """Trainable weighted layers whose every weight quantizes to zero (nothing left to compute)."""
    return [
        name
        for name, module in model.named_children()
        if isinstance(module, (QuantLinear, QuantConv1d))
        and module.weight.requires_grad
        and not bool(torch.any(module.quant_weight().value != 0))
    ]
