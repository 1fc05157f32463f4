"""Energy-regression figures of merit on the response ratio r = E_pred / E_true.

* resolution: half the interquartile range, (q75 - q25) / 2 (for a Gaussian, 0.674 sigma),
  robust against the non-Gaussian tails of calorimeter responses (ATLAS calibration habit).
* response: the median of r.
* ``resolution_rel``: resolution / response, so a constant scale error does not count.
"""

from __future__ import annotations

import math

import numpy as np

from datrig.errors import DatrigError


def iqr_half(ratio: np.ndarray) -> float:
    """Half the interquartile range of ``ratio`` (unitless)."""
    q25, q75 = np.quantile(np.asarray(ratio, dtype=np.float64), [0.25, 0.75])
    return float((q75 - q25) / 2.0)


def response_summary(ratio: np.ndarray) -> dict[str, float]:
    """Median response, IQR/2 resolution and their ratio for one sample of E_pred/E_true."""
    ratio = np.asarray(ratio, dtype=np.float64)
    if ratio.size == 0:
        return {"response": math.nan, "resolution": math.nan, "resolution_rel": math.nan, "n": 0}
    if not np.all(np.isfinite(ratio)):
        bad = int(np.count_nonzero(~np.isfinite(ratio)))
        raise DatrigError(f"{bad} energy ratios are NaN or infinite; check e_true and the outputs")
    median = float(np.median(ratio))
    res = iqr_half(ratio)
    return {
        "response": median,
        "resolution": res,
        "resolution_rel": res / median if median != 0 else math.nan,
        "n": int(ratio.size),
    }


def binned_response(
    ratio: np.ndarray, variable: np.ndarray, edges: np.ndarray
) -> dict[str, list[float]]:
    """Response and resolution in bins of ``variable`` (e.g. E_true [GeV] or |eta|)."""
    idx = np.searchsorted(edges, variable, side="right") - 1
    idx[np.asarray(variable) == edges[-1]] = edges.size - 2  # last bin closed
    rows = [response_summary(ratio[idx == i]) for i in range(edges.size - 1)]
    return {
        "edges": [float(e) for e in edges],
        "response": [r["response"] for r in rows],
        "resolution": [r["resolution"] for r in rows],
        "n": [r["n"] for r in rows],
    }
