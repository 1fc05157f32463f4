"""Closure of the in-situ energy scale: what the correction does to the true response.

Per |eta| bin, the median response E/E_true of the simulated photons (the reference the data
are corrected to) and of the data photons before and after the correction, and their
differences, with statistical errors: medians from order statistics, the correction's from
its fit. The toy's true data energies enter here only, never the measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from datrig.calibrate.energy_scale import ScaleResult, median_with_error
from datrig.metrics.energy_bins import eta_label


@dataclass
class BinClosure:
    """One |eta| bin: medians (value, error) of E/E_true and the data - sim differences."""

    label: str
    n_sim: int
    n_data: int
    sim: tuple[float, float]
    data_before: tuple[float, float]
    data_after: tuple[float, float]
    log_scale: tuple[float, float]

    @property
    def diff_before(self) -> tuple[float, float]:
        return _diff(self.data_before, self.sim)

    @property
    def diff_after(self) -> tuple[float, float]:
        """data (corrected) - sim, including the correction's own fit error."""
        value, err = _diff(self.data_after, self.sim)
        return value, math.hypot(err, self.data_after[0] * self.log_scale[1])

    def to_json(self) -> dict[str, Any]:
        def pair(v: tuple[float, float]) -> dict[str, float]:
            return {"value": v[0], "err": v[1]}

        return {
            "label": self.label,
            "n_sim": self.n_sim,
            "n_data": self.n_data,
            "log_scale": pair(self.log_scale),
            "scale": pair(
                (math.exp(self.log_scale[0]), math.exp(self.log_scale[0]) * self.log_scale[1])
            ),
            "median_response_sim": pair(self.sim),
            "median_response_data_before": pair(self.data_before),
            "median_response_data_after": pair(self.data_after),
            "data_minus_sim_before": pair(self.diff_before),
            "data_minus_sim_after": pair(self.diff_after),
        }


def _diff(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return a[0] - b[0], math.hypot(a[1], b[1])


def closure(
    scale: ScaleResult,
    sim_response: np.ndarray,
    sim_bins: np.ndarray,
    data_response: np.ndarray,
    data_corrected_response: np.ndarray,
    data_bins: np.ndarray,
) -> list[BinClosure]:
    """Per-bin closure from per-photon responses E/E_true (flat arrays with their bins)."""
    out = []
    for k, (lo, hi) in enumerate(scale.settings.eta_bins):
        s, d = sim_bins == k, data_bins == k
        out.append(
            BinClosure(
                label=eta_label(lo, hi),
                n_sim=int(s.sum()),
                n_data=int(d.sum()),
                sim=median_with_error(sim_response[s]),
                data_before=median_with_error(data_response[d]),
                data_after=median_with_error(data_corrected_response[d]),
                log_scale=(float(scale.log_scale[k]), float(scale.log_scale_err[k])),
            )
        )
    return out
