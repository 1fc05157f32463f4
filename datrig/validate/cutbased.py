"""Rectangular cut-based photon ID on the shower shapes: the baseline physics uses today.

Tuning is greedy and deterministic: starting with no cut, each step tightens the one-sided
cut (on one shower shape) that removes the most background per signal photon lost, in steps
of ``step`` of the signal, until the target signal efficiency is reached exactly (up to one
event). The cut direction per variable (``>=`` or ``<=``) is the side where the signal median
lies. To keep the quoted performance honest, :func:`cross_fit_pass` tunes on one half of the
sim events and applies the cuts to the other half, and vice versa.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from datrig.data.schema import SHOWER_SHAPES
from datrig.errors import DatrigError


@dataclass
class RectangularCuts:
    """One-sided cuts: pass when ``x >= cut`` (direction +1) or ``x <= cut`` (direction -1)."""

    variables: tuple[str, ...]
    directions: dict[str, int]
    cuts: dict[str, float] = field(default_factory=dict)

    def passes(self, events: np.ndarray) -> np.ndarray:
        ok = np.ones(events.shape[0], dtype=bool)
        for name, cut in self.cuts.items():
            x = np.asarray(events[name], dtype=np.float64)
            ok &= (x >= cut) if self.directions[name] > 0 else (x <= cut)
        return ok

    def to_json(self) -> dict[str, object]:
        return {
            name: {"cut": cut, "pass_if": ">=" if self.directions[name] > 0 else "<="}
            for name, cut in sorted(self.cuts.items())
        }


def tune_cuts(
    events: np.ndarray,
    label: np.ndarray,
    target_eff: float,
    variables: tuple[str, ...] = SHOWER_SHAPES,
    step: float = 0.005,
) -> RectangularCuts:
    """Tune rectangular cuts reaching signal efficiency ``target_eff`` on ``events``."""
    names = [v for v in variables if v in (events.dtype.names or ())]
    if not names:
        raise DatrigError(
            f"no shower-shape variables in the events table (expected some of {variables})"
        )
    if not 0.0 < target_eff <= 1.0:
        raise DatrigError(f"target signal efficiency must be in (0, 1], got {target_eff}")
    x = {n: np.asarray(events[n], dtype=np.float64) for n in names}
    sig, bkg = label == 1, label == 0
    if sig.sum() == 0 or bkg.sum() == 0:
        raise DatrigError("cut tuning needs both signal and background events")
    directions = {n: 1 if np.median(x[n][sig]) >= np.median(x[n][bkg]) else -1 for n in names}
    # Work in "signal-like = small" orientation: pass when oriented value <= cut.
    oriented = {n: -x[n] * directions[n] for n in names}
    cuts_oriented: dict[str, float] = {}
    passing = np.ones(label.shape[0], dtype=bool)
    n_sig = int(sig.sum())
    n_target = math.ceil(target_eff * n_sig - 1e-9)
    while int((passing & sig).sum()) > n_target:
        n_now = int((passing & sig).sum())
        n_remove = min(max(1, round(step * n_sig)), n_now - n_target)
        best = None
        for n in names:
            vals = np.sort(oriented[n][passing & sig])
            cut = vals[n_now - n_remove - 1]  # keep the n_now - n_remove smallest
            new_pass = passing & (oriented[n] <= cut)
            lost_sig = n_now - int((new_pass & sig).sum())
            if lost_sig == 0:
                continue
            gain = int((passing & bkg).sum() - (new_pass & bkg).sum()) / lost_sig
            if best is None or gain > best[0]:
                best = (gain, n, cut, new_pass)
        if best is None:  # ties everywhere: no cut can remove signal any more
            break
        _, name, cut, passing = best
        cuts_oriented[name] = min(cut, cuts_oriented.get(name, math.inf))
    cuts = {n: float(-c * directions[n]) for n, c in cuts_oriented.items()}
    return RectangularCuts(tuple(names), directions, cuts)


def cross_fit_pass(
    events: np.ndarray,
    label: np.ndarray,
    domain: np.ndarray,
    target_eff: float,
    seed: int,
) -> tuple[np.ndarray, list[RectangularCuts]]:
    """Pass decision of every event from cuts tuned on the *other* half of the sim events.

    Events are split into two folds by a seeded permutation; data-domain events never take
    part in tuning (their labels are not used), they are only evaluated.
    """
    rng = np.random.default_rng(seed)
    fold = rng.permutation(label.shape[0]) % 2
    passed = np.zeros(label.shape[0], dtype=bool)
    tuned = []
    for k in (0, 1):
        train = (fold == k) & (domain == 0)
        cuts = tune_cuts(events[train], label[train], target_eff)
        apply = fold != k
        passed[apply] = cuts.passes(events[apply])
        tuned.append(cuts)
    return passed, tuned
