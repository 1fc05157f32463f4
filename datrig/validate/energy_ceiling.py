"""Energy baselines and the measured ceiling the firmware regression is judged against.

* ``raw_energy``: the cluster energy, uncalibrated.
* ``standard_regression``: today's calibration without shower shapes, a gradient-boosted
  regression of E_true/E_raw on (E_raw, |eta|, presampler and layer energies);
  ``standard_regression_crossfit``: the same, smaller, cross-fitted on the test events (the
  reference of earlier reports, which undertrained it).
* ``ceiling_gbdt`` / ``ceiling_mlp``: large float regressors on *every* reconstructed input
  of a candidate: the eleven shower shapes, the layer and hadronic energies, |eta|, pile-up mu,
  the isolations, and (gradient boosting) the 60 kept cell energies as fractions of E_raw.
  ``ceiling``: the better of the two (lower IQR/2 of E_pred/E_true on the simulated test
  events), i.e. the resolution these inputs measurably allow.

All of them learn on simulation only, like the network. They are trained on the *training*
split of the run's own dataset (the same rows the network saw, up to ``n_train``), so the
comparison is between equally trained regressions; a run whose dataset cannot be read (a user's
predictions file) falls back to cross-fitting on two seeded halves of the simulated test
events (data events: the mean of both halves' models), and the report says which.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datrig.errors import DatrigError, SchemaError
from datrig.train.predictions import RunPredictions
from datrig.validate.baselines import STANDARD_VARIABLES, raw_energy, standard_regression
from datrig.validate.energy_mlp import MlpSettings, fit_predict_mlp

# every reconstructed quantity of a candidate (not: truth, labels, the conversion flag, which
# the toy takes from the simulation truth, or phi, which the detector does not depend on)
CEILING_COLUMNS = (
    "e_raw", "e_ps", "e_l1", "e_l2", "e_l3", "e_had", "eta", "Rhad", "Reta", "Rphi", "weta2",
    "ws3", "wstot", "Eratio", "DeltaE", "fside", "f1", "f3", "mu", "iso_calo", "iso_track",
)  # fmt: skip
ROWS_PER_TREE = 300  # at most one tree per this many training rows (1000 at 300k rows)
SIGNED_LOG = ("e_raw", "e_ps", "e_l1", "e_l2", "e_l3", "e_had", "DeltaE", "iso_calo", "iso_track")


@dataclass(frozen=True)
class CeilingSettings:
    n_train: int | None = 300_000  # sim training rows (None: the whole train split)
    gbdt_iterations: int = 1000  # at most (early stopping)
    gbdt_leaves: int = 63
    mlp: MlpSettings = field(default_factory=MlpSettings)


@dataclass
class Sample:
    """Rows (structured) and kept-cell energies (n, n_cells) or None."""

    events: np.ndarray
    cells: np.ndarray | None


def column_features(events: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """float64 (n, len(names)): eta as |eta|, energies as sign(x) log(1 + |x|) (GeV)."""
    missing = [n for n in names if n not in (events.dtype.names or ())]
    if missing:
        raise DatrigError(f"events table lacks {', '.join(missing)} needed by the energy ceiling")
    cols = []
    for name in names:
        x = np.asarray(events[name], dtype=np.float64)
        if name == "eta":
            x = np.abs(x)
        elif name in SIGNED_LOG:
            x = np.sign(x) * np.log1p(np.abs(x))
        cols.append(x)
    return np.stack(cols, axis=1)


def _with_cells(sample: Sample) -> np.ndarray:
    x = column_features(sample.events, CEILING_COLUMNS)
    if sample.cells is None:
        return x
    e_raw = np.maximum(np.asarray(sample.events["e_raw"], dtype=np.float64), 1e-3)
    return np.concatenate([x, sample.cells / e_raw[:, None]], axis=1)


def _run_samples(preds: RunPredictions, n_train: int | None) -> tuple[Sample, Sample] | None:
    """(sim training rows, the test rows of ``preds``) with cells, from the run's dataset;
    None when the run names no readable dataset or its test rows are not the file's."""
    from datrig.data.manifest import dataset_file
    from datrig.data.reader import read_cells, read_rows

    try:
        data_dir = Path(json.loads((preds.run_dir / "config.json").read_text())["data_dir"])
        files = {d: dataset_file(data_dir, "photons", d) for d in ("sim", "data")}
    except (OSError, ValueError, KeyError, TypeError, SchemaError):
        return None
    domain = preds.field("domain")
    counts = {d: int(np.count_nonzero(domain == code)) for d, code in (("sim", 0), ("data", 1))}
    train = Sample(read_rows(files["sim"], "train", n_train), None)
    train.cells = read_cells(files["sim"], "train", n_train)[..., 0].astype(np.float64)
    test_cells = [read_cells(files[d], "test", counts[d])[..., 0] for d in ("sim", "data")]
    test_rows = np.concatenate([read_rows(files[d], "test", counts[d]) for d in ("sim", "data")])
    if len(test_rows) != preds.n_events or not np.array_equal(
        test_rows["e_true"], preds.field("e_true")
    ):
        print(
            f"datrig validate: {preds.run_dir}'s test events are not its dataset's test split; "
            "the energy baselines are cross-fitted on them",
            file=sys.stderr,
        )
        return None
    test = Sample(preds.events, np.concatenate(test_cells).astype(np.float64))
    return train, test


def _hgb(x_train: np.ndarray, target: np.ndarray, x_eval: list[np.ndarray], seed: int,
         settings: CeilingSettings) -> list[np.ndarray]:  # fmt: skip
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    model = HistGradientBoostingRegressor(
        loss="absolute_error",
        # no more trees than the sample can support (small samples stop in seconds)
        max_iter=min(settings.gbdt_iterations, max(100, len(x_train) // ROWS_PER_TREE)),
        max_leaf_nodes=settings.gbdt_leaves,
        random_state=seed,
        # stop when 10 % of the rows, held out, stop improving
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=20,
    )
    # one OpenMP thread: on a shared 2-core machine, spinning threads cost 10-50x
    with threadpool_limits(limits=1, user_api="openmp"):
        model.fit(x_train, target)
        return [model.predict(x) for x in x_eval]


def _target(events: np.ndarray) -> np.ndarray:
    e_raw = np.asarray(events["e_raw"], dtype=np.float64)
    if np.any(e_raw <= 0):
        raise DatrigError("e_raw must be positive for the energy regression baselines")
    return np.asarray(events["e_true"], dtype=np.float64) / e_raw


def _regressors(seed: int, settings: CeilingSettings):
    """name -> (features of a Sample, fit-and-predict)."""

    def std(s: Sample) -> np.ndarray:
        return column_features(s.events, STANDARD_VARIABLES)

    def hgb(x, y, xe):
        return _hgb(x, y, xe, seed, settings)

    def mlp(x, y, xe):
        return fit_predict_mlp(x, y, xe, seed, settings.mlp)

    def columns(s: Sample) -> np.ndarray:
        return column_features(s.events, CEILING_COLUMNS)

    return {
        "standard_regression": (std, hgb),
        "ceiling_gbdt": (_with_cells, hgb),
        "ceiling_mlp": (columns, mlp),
    }


def energy_baselines(
    preds: RunPredictions, seed: int, settings: CeilingSettings | None = None
) -> tuple[dict[str, np.ndarray], str]:
    """E_pred [GeV] of every baseline for every event of ``preds``, and how they were trained
    (``"train split"`` or ``"cross-fit on the test events"``)."""
    settings = settings or CeilingSettings()
    samples = _run_samples(preds, settings.n_train)
    out: dict[str, np.ndarray] = {
        "raw_energy": raw_energy(preds.events),
        # the earlier reference: 100 iterations cross-fitted on the test events' sim halves
        "standard_regression_crossfit": standard_regression(
            preds.events, preds.field("domain"), seed
        ),
    }
    e_raw = out["raw_energy"]
    regressors = _regressors(seed, settings)
    if samples is not None:
        train, test = samples
        y = _target(train.events)
        for name, (features, fit) in regressors.items():
            out[name] = e_raw * fit(features(train), y, [features(test)])[0]
        how = "train split"
    else:
        test = Sample(preds.events, None)
        for name, (features, fit) in regressors.items():
            out[name] = e_raw * _cross_fit(features(test), _target(test.events), preds, seed, fit)
        how = "cross-fit on the test events"
    sim = preds.field("domain") == 0
    e_true = preds.field("e_true").astype(np.float64)

    def sim_resolution(name: str) -> float:
        q25, q75 = np.quantile(out[name][sim] / e_true[sim], [0.25, 0.75])
        return float(q75 - q25)

    out["ceiling"] = out[min(("ceiling_gbdt", "ceiling_mlp"), key=sim_resolution)]
    return out, how


def _cross_fit(x: np.ndarray, y: np.ndarray, preds: RunPredictions, seed: int, fit) -> np.ndarray:
    """Two seeded halves of the sim events, each predicted by the model of the other; data
    events by the mean of both."""
    domain = preds.field("domain")
    sim = np.flatnonzero(domain == 0)
    if sim.size < 20:
        raise DatrigError(
            f"need at least 20 sim events to fit the energy baselines, have {sim.size}"
        )
    fold = np.random.default_rng(seed).permutation(sim.size) % 2
    data = np.flatnonzero(domain != 0)
    correction = np.zeros(x.shape[0])
    for k in (0, 1):
        train, other = sim[fold == k], sim[fold != k]
        pred_other, pred_data = fit(x[train], y[train], [x[other], x[data]])
        correction[other] = pred_other
        correction[data] += 0.5 * pred_data
    return correction
