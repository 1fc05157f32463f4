"""What ``--bits auto`` adds to training: an optimizer group for learned bit widths.

The resource term itself is :func:`datrig.quant.cost.ebops` divided by its value at the start
(so ``--resource-lam 1`` weighs "halve the firmware" like the task loss).
"""

from __future__ import annotations

import numpy as np
import torch

from datrig.da.base import Penalty
from datrig.errors import DatrigError

# Learned bit widths move in whole bits: at the weights' learning rate Adam would need ~10^4
# steps to walk a few bits, so where they settle would be set by the step budget, not by the
# balance of task and resource terms.
BIT_WIDTH_LR = 0.03


def is_bit_width(name: str) -> bool:
    """Brevitas' learned bit width (BitWidthImplType.PARAMETER) parameter names."""
    return name.endswith("bit_width_offset")


def param_groups(model: torch.nn.Module, penalty: Penalty, lr: float) -> list[dict]:
    """Adam parameter groups: network and penalty at ``lr``, learned bit widths at their own."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    widths = [p for n, p in named if is_bit_width(n)]
    others = [p for n, p in named if not is_bit_width(n)]
    groups = [{"params": others + list(penalty.main_parameters()), "lr": lr}]
    if widths:
        groups.append({"params": widths, "lr": BIT_WIDTH_LR})
    return groups


def check_not_collapsed(
    model: torch.nn.Module, outputs: np.ndarray, lam: float, resource_lam: float
) -> None:
    """Refuse to mark a run complete when nothing is left to compute: a layer whose every weight
    quantizes to zero, or one output value for every validation event. Both are what too strong
    a penalty or resource term leaves, and both would export to a "verified" but useless
    project."""
    from datrig.quant.cost import dead_layers

    remedy = f"lower --resource-lam (now {resource_lam:g}) or --lam (now {lam:g})"
    dead = dead_layers(model)
    if dead:
        raise DatrigError(
            f"training pruned every weight of {', '.join(dead)}: nothing is left to compute; "
            f"{remedy}. The run was not written"
        )
    if outputs.size > 1 and np.all(outputs == outputs.flat[0]):
        raise DatrigError(
            f"the trained network gives the same output ({float(outputs.flat[0]):g}) for all "
            f"{outputs.shape[0]} validation events: it has collapsed; {remedy}. The run was not "
            "written"
        )
