"""A threshold table after a network's score: the closed-form compensation of a designed
decorrelation (:mod:`datrig.da.threshold_map`), carried by the model so that its outputs, its
checkpoint and its export all hold the same table.

The deployed output is ``s - T[bin(condition)][bin(protected)]`` with ``bin(x)`` the number
of edges ``e <= x``, evaluated on the *quantized* inputs (what the firmware compares). Edges
are input values and thresholds are output values of the fit events, so both already sit on
the input and output quantizer grids: the subtraction is exact in the firmware's types.

An unfitted table (no edges, one zero threshold) is the identity, so training runs on ``s``
alone. The table's size is set by its fit, and a checkpoint's buffers of any size load
(:func:`resize_from_state` before copying): the buffers are data, no code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from datrig.errors import DatrigError

MAX_TABLE_BINS = 64  # per variable; far beyond any trigger table (and the RTL's mux chains)


BUFFERS = ("table_condition_edges", "table_protected_edges", "table_thresholds")


def register_table(module: nn.Module) -> None:
    """An unfitted table (the identity) as buffers of ``module``: buffers, not a child module,
    because the models are ``nn.Sequential`` chains whose every child runs in ``forward``."""
    module.register_buffer(BUFFERS[0], torch.zeros(0, dtype=torch.float64))
    module.register_buffer(BUFFERS[1], torch.zeros(0, dtype=torch.float64))
    module.register_buffer(BUFFERS[2], torch.zeros(1, 1, dtype=torch.float64))


@torch.no_grad()
def set_table(
    module: nn.Module, condition_edges: np.ndarray, protected_edges: np.ndarray, table: np.ndarray
) -> None:
    c, p = np.asarray(condition_edges, np.float64), np.asarray(protected_edges, np.float64)
    t = np.asarray(table, np.float64)
    check_table(c, p, t, "threshold table")
    for name, value in zip(BUFFERS, (c, p, t), strict=True):
        setattr(module, name, torch.from_numpy(value.copy()))


def table_arrays(module: nn.Module) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(condition edges, protected edges, table) as float64 arrays."""
    return tuple(getattr(module, name).detach().cpu().numpy().copy() for name in BUFFERS)


def is_fitted(module: nn.Module) -> bool:
    """Any edge or a non-zero threshold; unfitted, every lookup is 0 (read from the buffers
    themselves: the training step asks on every batch)."""
    c_edges, p_edges, table = (getattr(module, name) for name in BUFFERS)
    return bool(c_edges.numel() or p_edges.numel() or table.any())


def lookup(
    module: nn.Module, quantized_inputs: torch.Tensor, condition: int, protected: int
) -> torch.Tensor:
    """Per event, the threshold of its cell (float64, (N,))."""
    c_edges, p_edges, table = (getattr(module, name) for name in BUFFERS)
    x = quantized_inputs.detach().reshape(len(quantized_inputs), -1).double().T.contiguous()
    rows = torch.bucketize(x[condition], c_edges, right=True)
    cols = torch.bucketize(x[protected], p_edges, right=True)
    return table[rows, cols]


def resize_from_state(module: nn.Module, state_dict: dict[str, Any], prefix: str) -> None:
    """Give the table buffers the shapes a checkpoint holds (checked first), so that
    ``load_state_dict`` copies a fitted table of any size into a fresh model."""
    values = [state_dict.get(prefix + name) for name in BUFFERS]
    if not all(isinstance(v, torch.Tensor) for v in values):
        return
    check_table(*(v.detach().cpu().double().numpy() for v in values), prefix + "table")
    for name, value in zip(BUFFERS, values, strict=True):
        setattr(module, name, torch.zeros(value.shape, dtype=torch.float64))


def check_table(c: np.ndarray, p: np.ndarray, t: np.ndarray, source: str) -> None:
    """Shapes agree, edges ascend, everything finite and small: a crafted checkpoint gets one
    line, not an index error or a huge allocation."""
    if c.ndim != 1 or p.ndim != 1:
        raise DatrigError(f"{source}: edges must be 1-d, got {c.shape} and {p.shape}")
    if max(len(c), len(p)) + 1 > MAX_TABLE_BINS:
        raise DatrigError(f"{source}: more than {MAX_TABLE_BINS} bins per variable")
    if t.shape != (len(c) + 1, len(p) + 1):
        raise DatrigError(
            f"{source}: edges of {c.shape} and {p.shape} need a table of "
            f"({len(c) + 1}, {len(p) + 1}), got {t.shape}: the table does not fit its edges"
        )
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(p)) and np.all(np.isfinite(t))):
        raise DatrigError(f"{source}: edges and thresholds must be finite")
    if np.any(np.diff(c) <= 0) or np.any(np.diff(p) <= 0):
        raise DatrigError(f"{source}: edges must be strictly ascending")
