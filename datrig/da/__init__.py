"""Domain adaptation and decorrelation for any PyTorch training loop (the public API), and the
penalties datrig's trainer selects by name (:mod:`datrig.da.registry`, one module each).

Plain tensors in, a scalar out; weights optional and signed; explicit bin edges and working
points, fitted once by the helpers. See docs/da_library.md for a worked example.
"""

from datrig.da.functional import (
    FlatnessBins,
    conditional_disco_loss,
    disco_loss,
    fit_edges,
    fit_flatness_bins,
    fit_working_point,
    flatness_loss,
    mmd_loss,
)
from datrig.da.learned_ddt import LearnedDDT, ddt_loss
from datrig.da.pivot import PivotAdversary, adversary_step, pivot_edges, pivot_loss
from datrig.da.threshold_map import ThresholdMap, fit_threshold_map, population_edges

__all__ = [
    "FlatnessBins",
    "LearnedDDT",
    "PivotAdversary",
    "ThresholdMap",
    "adversary_step",
    "conditional_disco_loss",
    "ddt_loss",
    "disco_loss",
    "fit_edges",
    "fit_flatness_bins",
    "fit_threshold_map",
    "fit_working_point",
    "flatness_loss",
    "mmd_loss",
    "pivot_edges",
    "pivot_loss",
    "population_edges",
]
