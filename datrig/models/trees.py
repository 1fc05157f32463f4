"""What a tree-ensemble model is: its boosting settings and the firmware grids it is built on.

A BDT has no weights to quantize during training; its firmware grid is chosen from the data
before the trees are grown (:mod:`datrig.train.trees`): the features are quantized to
``input_width`` bits with the integer bits that hold ``input_coverage`` of the simulated
training events, the trees are grown on those quantized values (so every split falls between
two grid points and is kept exactly), and leaves are rounded to ``score_fractional`` bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from datrig.errors import DatrigError


@dataclass(frozen=True)
class TreeSettings:
    n_trees: int
    max_depth: int
    learning_rate: float = 0.3
    input_width: int = 8  # bits per feature (a CMS-style ap_fixed<8,I> on normalised inputs)
    input_coverage: float = 0.998  # per feature: fraction of training events inside [-1, 1)
    score_fractional: int = 7  # LSB of leaves and score: 2^-7
    min_samples_leaf: int = 200
    # the designed decorrelation's table: bins of the condition (e.g. pT) and of the
    # protected variable (e.g. isolation), plus the ABCD edges of the analysis
    map_condition_bins: int = 6
    map_protected_bins: int = 6
    efficiency: float = 0.8  # the working point the map's thresholds keep for the signal
    # the events the map is fitted on: the validation split (never seen by the trees), or
    # the training split too (4x the events per cell, at the trees' overfitting bias)
    map_events: str = "validation"

    def __post_init__(self) -> None:
        if self.n_trees < 1 or self.max_depth < 1 or not 2 <= self.input_width <= 32:
            raise DatrigError("trees: n_trees, max_depth >= 1 and 2 <= input_width <= 32")
        if self.map_events not in ("validation", "train+validation"):
            raise DatrigError("trees: map_events is validation or train+validation")
        if not 0.5 < self.input_coverage <= 1.0 or not 0 <= self.score_fractional <= 24:
            raise DatrigError("trees: input_coverage in (0.5, 1], score_fractional in [0, 24]")


def no_network(_config: dict) -> torch.nn.Module:
    raise DatrigError("this model is a tree ensemble: it has no network to build")
