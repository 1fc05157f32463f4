"""A designed decorrelation in closed form: a table of score thresholds over (condition,
protected) cells, fitted on events the scorer did not train on (Dolen et al., JHEP 05 (2016)
156).

Each cell's threshold is the (signed-)weighted ``1 - q`` quantile of the background's score
in that cell, for one background pass fraction ``q`` everywhere; ``q`` is chosen (bisection)
so that ``efficiency`` of the signal passes ``score >= threshold``. Then the background passes
at the same rate in every cell, so the ABCD factor is 1 at every condition value whatever the
scorer learned; no refit can land in another minimum, because nothing is minimised. Works for
any score (a BDT, a network, a user's own) and is what datrig puts in firmware as a table
block after the score.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from datrig.errors import DatrigError
from datrig.metrics.classifier import weighted_quantiles

MIN_CELL_BACKGROUND = 20


@dataclass(frozen=True)
class ThresholdMap:
    """Edges (ascending; ``bin = number of edges <= x``) and the (rows, cols) thresholds."""

    condition_edges: np.ndarray
    protected_edges: np.ndarray
    thresholds: np.ndarray
    background_pass: float

    def cells(self, condition: np.ndarray, protected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = np.searchsorted(self.condition_edges, condition, side="right")
        cols = np.searchsorted(self.protected_edges, protected, side="right")
        return rows, cols

    def apply(self, score: np.ndarray, condition: np.ndarray, protected: np.ndarray) -> np.ndarray:
        """``score - threshold(cell)``: >= 0 passes the working point."""
        return (
            np.asarray(score, dtype=np.float64) - self.thresholds[self.cells(condition, protected)]
        )


def population_edges(
    values: np.ndarray, n_bins: int, weights: np.ndarray | None = None, extra: tuple = ()
) -> np.ndarray:
    """``n_bins`` (weighted) equal-population bins of ``values``, with ``extra`` edges added
    (e.g. an ABCD isolation cut, so the analysis regions are unions of cells)."""
    if n_bins < 1:
        raise DatrigError(f"a threshold map needs >= 1 bin per variable, got {n_bins}")
    w = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=np.float64)
    levels = list(np.linspace(0, 1, n_bins + 1)[1:-1])
    inner = weighted_quantiles(np.asarray(values, dtype=np.float64), levels, w) if levels else []
    return np.unique(np.concatenate([np.asarray(inner, dtype=np.float64), np.asarray(extra)]))


def fit_threshold_map(
    score: np.ndarray,
    condition: np.ndarray,
    protected: np.ndarray,
    label: np.ndarray,
    *,
    condition_edges: np.ndarray,
    protected_edges: np.ndarray,
    efficiency: float = 0.8,
    weights: np.ndarray | None = None,
) -> ThresholdMap:
    """Per-cell background thresholds at the common pass fraction that keeps ``efficiency`` of
    the signal (label 1); background is label 0. Weights may be signed."""
    if not 0.0 < efficiency < 1.0:
        raise DatrigError(f"efficiency must be in (0, 1), got {efficiency}")
    score = np.asarray(score, dtype=np.float64)
    label = np.asarray(label)
    w = np.ones(len(score)) if weights is None else np.asarray(weights, dtype=np.float64)
    if not (len(condition) == len(protected) == len(label) == len(w) == len(score)):
        raise DatrigError("score, condition, protected, label and weights differ in length")
    empty = ThresholdMap(
        np.asarray(condition_edges, dtype=np.float64),
        np.asarray(protected_edges, dtype=np.float64),
        np.zeros((len(condition_edges) + 1, len(protected_edges) + 1)),
        0.0,
    )
    rows, cols = empty.cells(condition, protected)
    n_cols = empty.thresholds.shape[1]
    cell = rows * n_cols + cols
    background, signal = label == 0, label == 1
    if not signal.any():
        raise DatrigError("the threshold map needs signal (label 1) events for its working point")
    per_cell = []
    for c in range(empty.thresholds.size):
        sel = background & (cell == c)
        if int(sel.sum()) < MIN_CELL_BACKGROUND:
            raise DatrigError(
                f"threshold map cell {divmod(c, n_cols)} holds {int(sel.sum())} background "
                f"events (< {MIN_CELL_BACKGROUND}); use fewer bins or more events"
            )
        per_cell.append((score[sel], w[sel]))

    def thresholds(rate: float) -> np.ndarray:
        return np.array([weighted_quantiles(s, [1.0 - rate], ws)[0] for s, ws in per_cell])

    w_sig = w[signal]
    lo, hi = 1e-4, 0.9999
    for _ in range(40):  # the signal efficiency grows with the background pass fraction
        rate = 0.5 * (lo + hi)
        passed = score[signal] >= thresholds(rate)[cell[signal]]
        eff = float(np.sum(w_sig * passed) / np.sum(w_sig))
        lo, hi = (lo, rate) if eff >= efficiency else (rate, hi)
    table = thresholds(hi).reshape(empty.thresholds.shape)
    return ThresholdMap(empty.condition_edges, empty.protected_edges, table, float(hi))


def fit_coarsening(
    score: np.ndarray,
    condition: np.ndarray,
    protected: np.ndarray,
    label: np.ndarray,
    *,
    shapes: Iterable[tuple[int, int]],
    efficiency: float = 0.8,
    weights: np.ndarray | None = None,
    protected_extra: tuple = (),
) -> ThresholdMap:
    """:func:`fit_threshold_map` on the first of ``shapes`` ((condition bins, protected bins),
    finest first; equal-population edges of the background) whose every cell holds
    ``MIN_CELL_BACKGROUND`` background events: a small sample gets a coarser map rather than a
    failure (the map's shape says which)."""
    bkg = np.asarray(label) == 0
    w_bkg = None if weights is None else np.asarray(weights, dtype=np.float64)[bkg]
    c_bkg, p_bkg = np.asarray(condition)[bkg], np.asarray(protected)[bkg]
    reason = "no map shape to try"
    for n_cond, n_prot in shapes:
        edges = {
            "condition_edges": population_edges(c_bkg, n_cond, w_bkg),
            "protected_edges": population_edges(p_bkg, n_prot, w_bkg, extra=protected_extra),
        }
        try:
            return fit_threshold_map(score, condition, protected, label, efficiency=efficiency,
                                     weights=weights, **edges)  # fmt: skip
        except DatrigError as exc:  # too few background events in a cell: coarser bins
            reason = str(exc)
    raise DatrigError(f"no threshold map fits the events: {reason}")
