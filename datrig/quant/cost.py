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
from typing import Any

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


QuantOutputs = dict[str, Any]  # quantizer name -> what it returned in a forward pass


def _act_bits(module: nn.Module, name: str, seen: QuantOutputs) -> torch.Tensor | None:
    if isinstance(module, (QuantReLU, QuantIdentity)):
        recorded = getattr(seen.get(name), "bit_width", None)
        return recorded if recorded is not None else module.act_quant.bit_width()
    return None


def _weight_bits_and_values(
    module: QuantLinear | QuantConv1d, name: str, seen: QuantOutputs
) -> tuple[torch.Tensor, torch.Tensor]:
    recorded = seen.get(f"{name}.weight")
    if getattr(recorded, "bit_width", None) is not None:
        return recorded.bit_width, recorded.value.detach()
    return module.weight_quant.bit_width(), module.quant_weight().value.detach()


def layer_costs(
    model: nn.Module, n_nodes: int = 1, seen: QuantOutputs | None = None
) -> list[LayerCost]:
    """Per weighted layer of a sequential model, in order; the input bits of a layer are
    those of the last activation quantizer before it. ``n_nodes`` multiplies per-node layers.
    ``seen``: the quantizers' outputs of a forward pass just made (:class:`QuantRecorder`),
    which are the same tensors a fresh call would compute; a quantizer missing there is
    called."""
    seen = seen or {}
    costs = []
    bits_in: torch.Tensor | None = None
    for name, module in model.named_children():
        act = _act_bits(module, name, seen)
        if act is not None:
            bits_in = act
        elif isinstance(module, (QuantLinear, QuantConv1d)):
            if bits_in is None:
                raise DatrigError(f"layer {name}: no quantizer before it to know its input bits")
            if not module.weight.requires_grad:  # frozen constants (Deep Sets pooling)
                continue
            weight, q = _weight_bits_and_values(module, name, seen)
            nonzero = (q != 0).float().mean()
            macs = module.weight[..., 0].numel() if isinstance(module, QuantConv1d) else (
                module.weight.numel())  # fmt: skip
            macs *= n_nodes if isinstance(module, QuantConv1d) else 1
            costs.append(LayerCost(name, macs, weight, bits_in, nonzero))
            bits_in = None
    return costs


def ebops(model: nn.Module, n_nodes: int = 1, seen: QuantOutputs | None = None) -> torch.Tensor:
    """Sum of EBOPs over the weighted layers (differentiable in learned bit widths)."""
    costs = layer_costs(model, n_nodes, seen)
    return sum((c.ebops for c in costs), torch.zeros(()))


class QuantRecorder:
    """Keeps what each quantizer of a sequential model returned in the latest forward pass.

    Why: a training step's resource term needs every layer's bit widths and quantized weights;
    asking Brevitas for them again quantizes every weight twice more (measured: 3.5 ms of a
    15 ms photon_id step). The forward pass already computed the same tensors, in the same
    autograd graph. ``take()`` hands them over once and forgets them, so a later cost never
    reads a stale pass.
    """

    def __init__(self, model: nn.Module) -> None:
        self._seen: QuantOutputs = {}
        self._hooks = []
        for name, module in model.named_children():
            if isinstance(module, (QuantReLU, QuantIdentity)):
                self._watch(module.act_quant, name)
            elif isinstance(module, (QuantLinear, QuantConv1d)):
                self._watch(module.weight_quant, f"{name}.weight")

    def _watch(self, quantizer: nn.Module, key: str) -> None:
        def keep(_module: nn.Module, _inputs: Any, output: Any) -> None:
            if torch.is_grad_enabled():  # a training pass; inference keeps nothing alive
                self._seen[key] = output

        self._hooks.append(quantizer.register_forward_hook(keep))

    def take(self) -> QuantOutputs:
        seen, self._seen = self._seen, {}
        return seen

    def close(self) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()
        self._seen.clear()


def bit_widths(model: nn.Module) -> dict[str, dict[str, int]]:
    """The (rounded) bit widths of every quantizer, for the run's config and metrics."""
    out: dict[str, dict[str, int]] = {}
    for name, module in model.named_children():
        if isinstance(module, (QuantLinear, QuantConv1d)):
            out[name] = {"weight": int(module.weight_quant.bit_width().item())}
        act = _act_bits(module, name, {})
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
