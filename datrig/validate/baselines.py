"""Energy baselines the network must beat: raw cluster energy and a standard regression.

The "standard-variable" regression is today's calibration without shower shapes: a
histogram gradient-boosted regression of E_true / E_raw on (E_raw, |eta|, presampler and
layer energies), trained on sim events only. The predictions file holds only the test
split, so we cross-fit: two seeded halves of the sim events, each predicted by the model
trained on the other half; data events are predicted by the mean of both models.
"""

from __future__ import annotations

import numpy as np

from datrig.errors import DatrigError

STANDARD_VARIABLES = ("e_raw", "eta", "e_ps", "e_l1", "e_l2", "e_l3")


def raw_energy(events: np.ndarray) -> np.ndarray:
    """The raw cluster energy [GeV] as the prediction (no calibration)."""
    return np.asarray(events["e_raw"], dtype=np.float64)


def _features(events: np.ndarray) -> np.ndarray:
    names = events.dtype.names or ()
    missing = [v for v in STANDARD_VARIABLES if v not in names]
    if missing:
        raise DatrigError(
            f"events table lacks {', '.join(missing)} needed by the standard energy regression"
        )
    cols = [np.asarray(events[v], dtype=np.float64) for v in STANDARD_VARIABLES]
    cols[1] = np.abs(cols[1])
    return np.stack(cols, axis=1)


def standard_regression(events: np.ndarray, domain: np.ndarray, seed: int) -> np.ndarray:
    """Cross-fitted standard-variable calibrated energy [GeV] for every event."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    x = _features(events)
    e_raw = x[:, 0]
    if np.any(e_raw <= 0):
        raise DatrigError("e_raw must be positive for the energy regression baseline")
    target = np.asarray(events["e_true"], dtype=np.float64) / e_raw
    sim = np.flatnonzero(domain == 0)
    if sim.size < 20:
        raise DatrigError(
            f"need at least 20 sim events to fit the energy baseline, have {sim.size}"
        )
    rng = np.random.default_rng(seed)
    fold = np.zeros(x.shape[0], dtype=int)
    fold[sim] = rng.permutation(sim.size) % 2
    correction = np.zeros(x.shape[0])
    data = domain != 0
    for k in (0, 1):
        train = sim[fold[sim] == k]
        model = HistGradientBoostingRegressor(
            loss="absolute_error", max_iter=100, random_state=seed, early_stopping=False
        )
        # one OpenMP thread: on a shared 2-core machine, spinning threads cost 10-50x
        with threadpool_limits(limits=1, user_api="openmp"):
            model.fit(x[train], target[train])
            other = sim[fold[sim] != k]
            correction[other] = model.predict(x[other])
            if data.any():
                correction[data] += 0.5 * model.predict(x[data])
    return e_raw * correction
