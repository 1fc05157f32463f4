"""What a scan optimises, per model family, and the non-dominated set of its trials."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Objective:
    metric: str
    mode: str  # "max" | "min"
    label: str  # axis label


OBJECTIVES: dict[str, tuple[Objective, ...]] = {
    "photon_id": (
        Objective("rejection80_sim", "max", "rejection at 80 % photon efficiency (firmware, sim)"),
        Objective("abcd_nonclosure", "min", "ABCD non-closure max |estimate/truth - 1| (pT bins)"),
        Objective("lut", "min", "LUT"),
    ),
    "diphoton": (
        Objective("rejection50_sim", "max", "rejection at 50 % signal efficiency (firmware)"),
        Objective("jsd50_sim", "min", "JSD of background m_gg, pass vs fail"),
        Objective("lut", "min", "LUT"),
    ),
    "energy": (
        Objective("resolution_sim", "min", "resolution IQR/2 of E_pred/E_true (firmware, sim)"),
        Objective("response_shift_abs", "min", "|median response data - sim|"),
        Objective("lut", "min", "LUT"),
    ),
}


# a task's data has no truth: its ID is judged by the ABCD factor of the simulated background
# per condition tercile (max |R - 1|, weighted), its regression by the simulated resolution
OBJECTIVES["task_id"] = (
    Objective("rejection80_sim", "max", "rejection at 80 % signal efficiency (firmware, sim)"),
    Objective("abcd_r_max_dev_sim", "min", "max |R - 1| of the background per condition bin (sim)"),
    Objective("lut", "min", "LUT"),
)
OBJECTIVES["task_energy"] = (
    Objective("resolution_sim", "min", "resolution IQR/2 of prediction/target (firmware, sim)"),
    Objective("response_dev_sim", "min", "|median response - 1| (firmware, sim)"),
    Objective("lut", "min", "LUT"),
)


def objectives_key(family: str, task: bool) -> str:
    """Which objectives a scan ranks by: the model family's, or a task's."""
    if not task:
        return family
    return "task_energy" if family == "energy" else "task_id"


def pareto_front(rows: list[dict[str, Any]], objectives: tuple[Objective, ...]) -> list[int]:
    """Indices of the non-dominated rows (finite objectives only): no other row is at least as
    good in every objective and strictly better in one."""
    signs = np.array([1.0 if o.mode == "max" else -1.0 for o in objectives])
    values = np.array(
        [[float(r.get(o.metric, math.nan)) for o in objectives] for r in rows], dtype=float
    ).reshape(len(rows), len(objectives))
    ok = np.all(np.isfinite(values), axis=1)
    scores = values * signs  # larger is better everywhere
    front = []
    for i in np.flatnonzero(ok):
        better_eq = np.all(scores[ok] >= scores[i], axis=1)
        strictly = np.any(scores[ok] > scores[i], axis=1)
        if not np.any(better_eq & strictly):
            front.append(int(i))
    return front


def dominates(a: dict[str, Any], b: dict[str, Any], objectives: tuple[Objective, ...]) -> bool:
    """``a`` at least as good as ``b`` everywhere (and better somewhere)."""
    signs = [1.0 if o.mode == "max" else -1.0 for o in objectives]
    x = [s * float(a[o.metric]) for s, o in zip(signs, objectives, strict=True)]
    y = [s * float(b[o.metric]) for s, o in zip(signs, objectives, strict=True)]
    return all(u >= v for u, v in zip(x, y, strict=True)) and any(
        u > v for u, v in zip(x, y, strict=True)
    )
