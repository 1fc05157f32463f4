"""What the penalties that act at fixed values of a condition (pT) share: its quantile bins and
a clear error when the trainer gave no condition. Their warm-up is :mod:`datrig.da.schedule`."""

from __future__ import annotations

from typing import TypeVar

import numpy as np

from datrig.da.base import Penalty
from datrig.da.functional import bin_index
from datrig.errors import DatrigError

T = TypeVar("T")


def quantile_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """The ``n_bins - 1`` inner equal-population edges of ``values`` (float32, duplicates kept
    so the bin count is fixed; a duplicated edge gives an empty bin, which is skipped)."""
    if len(values) == 0:
        raise DatrigError("a conditional penalty needs training events of the penalised subset")
    return np.quantile(values, np.linspace(0, 1, n_bins + 1)[1:-1]).astype(np.float32)


bin_of = bin_index  # the trainer's name for the public helper


def required(penalty: Penalty, condition: T | None) -> T:
    """``condition`` (training values or a batch's), or a clear error if the trainer gave none
    (the trainer checks the model first, see :meth:`Penalty.check_model`)."""
    if condition is None:
        raise DatrigError(f"penalty {penalty.name!r} needs a conditioning variable; got none")
    return condition
