"""The photon IDs analysts would use instead of a decorrelated network, on the same events.

Each peer is fitted on the *simulated* events of the run's own training sample (its train split,
and its validation split where a method needs independent events), exactly the information the
network had, and then scores any candidates given to it:

* ``cut_based``: rectangular cuts on the shower shapes (:mod:`datrig.validate.cutbased`) at
  80 % photon efficiency, as a continuous score: the smallest margin, in units of the photons'
  spread, by which a candidate passes (> 0) or fails (< 0) the cuts. Cutting the score at other
  values loosens or tightens every cut together, a nested menu (ATLAS loose/tight).
* ``gbdt``: gradient boosting on the network's inputs (shower shapes, pT, |eta|), no
  decorrelation: the rejection that is available when the ABCD factor may be anything.
* ``ddt``: designed decorrelation: the ``gbdt`` score minus a threshold per (pT, isolation) cell
  chosen on the simulated fakes of the *validation* split so that they pass at the same rate in
  every cell, the rate at which 80 % of the photons pass (thresholds from the training events
  are biased by the boosting's overtraining: measured R 1.3 instead of 1).
* ``flat_bdt`` / ``flat_bdt_pt``: hep_ml's uniform gradient boosting with
  ``BinFlatnessLossFunction`` (Rogozhnikov et al., JINST 10 (2015) T03002), the standard
  flatness BDT, uniform in isolation (strength 300) or in isolation x pT (strength 1000). hep_ml
  bins its uniform features by equal width, so it is given ranks (uniform in [0, 1]).

The data domain is never used to fit a peer.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datrig.data.schema import SHOWER_SHAPES
from datrig.errors import DatrigError
from datrig.metrics.decorrelation import bin_index
from datrig.validate.cutbased import RectangularCuts, tune_cuts

ID_EFFICIENCY = 0.8  # the calibration's working point
ISO_QUANTILE = 0.9  # isolated: below this quantile of the simulated photons' isolation
ISO_GAP = 2.0  # GeV
GBDT_ITERATIONS = 300
FLAT_BDT_TREES = 150
FLAT_BDT_MAX_EVENTS = 100_000  # hep_ml's flatness loss is pure numpy: ~4 min per 100k events
DDT_PT_BINS = 9  # three per pT tercile of the calibration: its bins are unions of cells
DDT_NONISOLATED_BINS = 5


@dataclass
class PeerSample:
    """The simulated candidates a peer is fitted on (structured rows with truth labels)."""

    train: np.ndarray
    validation: np.ndarray
    seed: int

    def __post_init__(self) -> None:
        for name, rows in (("train", self.train), ("validation", self.validation)):
            labels = np.unique(rows["label"]) if len(rows) else np.array([])
            if not {0, 1} <= set(labels.tolist()):
                raise DatrigError(
                    f"the peers need simulated photons and fakes in the {name} split; it has "
                    f"labels {labels.tolist()}"
                )


Scorer = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Peer:
    """``fit(sample, shared)``: ``shared`` carries models that several peers build on (the DDT
    thresholds the ``gbdt`` peer's score), fitted once per sample."""

    name: str
    description: str
    fit: Callable[[PeerSample, dict], Scorer]


def network_features(events: np.ndarray) -> np.ndarray:
    """Shower shapes, log pT and |eta|: the photon_id score branch's inputs."""
    cols = [np.asarray(events[s], dtype=np.float64) for s in SHOWER_SHAPES]
    cols.append(np.log(np.maximum(np.asarray(events["pt"], dtype=np.float64), 1e-3)))
    cols.append(np.abs(np.asarray(events["eta"], dtype=np.float64)))
    return np.stack(cols, axis=1)


def _fit_cut_based(sample: PeerSample, shared: dict) -> Scorer:
    rows, label = sample.train, sample.train["label"]
    cuts = tune_cuts(rows, label, ID_EFFICIENCY)
    photons = rows[label == 1]
    scale = {}
    for name in cuts.cuts:
        lo, hi = np.quantile(np.asarray(photons[name], dtype=np.float64), [0.16, 0.84])
        scale[name] = (hi - lo) / 2 if hi > lo else 1.0
    return lambda events: cut_margin(cuts, scale, events)


def cut_margin(cuts: RectangularCuts, scale: dict[str, float], events: np.ndarray) -> np.ndarray:
    """Smallest signed margin of the cuts (> 0: passes all of them), in units of ``scale``."""
    margin = np.full(len(events), np.inf)
    for name, cut in cuts.cuts.items():
        x = np.asarray(events[name], dtype=np.float64)
        signed = (x - cut) if cuts.directions[name] > 0 else (cut - x)
        margin = np.minimum(margin, signed / scale[name])
    return margin


def _gbdt(sample: PeerSample, shared: dict):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    if "gbdt" in shared:
        return shared["gbdt"]
    model = HistGradientBoostingClassifier(
        max_iter=GBDT_ITERATIONS, early_stopping=False, random_state=sample.seed
    )
    with threadpool_limits(limits=1, user_api="openmp"):  # 2 shared cores: no spinning
        model.fit(network_features(sample.train), sample.train["label"])
    shared["gbdt"] = model
    return model


def _decision(model, events: np.ndarray) -> np.ndarray:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        return model.decision_function(network_features(events))


def _fit_gbdt(sample: PeerSample, shared: dict) -> Scorer:
    model = _gbdt(sample, shared)
    return lambda events: _decision(model, events)


@dataclass(frozen=True)
class DdtTable:
    """Thresholds per (pT, isolation) cell; a candidate's DDT score is its score minus the
    threshold of its cell."""

    pt_edges: np.ndarray
    iso_edges: np.ndarray
    thresholds: np.ndarray  # (n_pt, n_iso)

    def cells(self, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pt = np.asarray(events["pt"], dtype=np.float64)
        iso = np.asarray(events["iso_calo"], dtype=np.float64)
        return bin_index(pt, self.pt_edges), bin_index(iso, self.iso_edges)

    def apply(self, score: np.ndarray, events: np.ndarray) -> np.ndarray:
        return score - self.thresholds[self.cells(events)]


def ddt_table(score: np.ndarray, events: np.ndarray) -> DdtTable:
    """Cells and per-cell fake thresholds for a common fake rate at which ``ID_EFFICIENCY``
    of the photons pass (found by bisection), from labelled simulated ``events``.

    Isolation cells: terciles of the isolated fakes, the isolation cut, the gap, then
    equal-population bins of the non-isolated fakes, so the ABCD regions are cell unions."""
    label = np.asarray(events["label"])
    iso = np.asarray(events["iso_calo"], dtype=np.float64)
    pt = np.asarray(events["pt"], dtype=np.float64)
    fakes, photons = label == 0, label == 1
    iso_cut = float(np.quantile(iso[photons], ISO_QUANTILE))
    beyond = iso[fakes & (iso > iso_cut + ISO_GAP)]
    isolated = iso[fakes & (iso < iso_cut)]
    if beyond.size == 0 or isolated.size == 0:
        raise DatrigError("the DDT peer needs simulated fakes on both sides of the isolation cut")
    inner = np.concatenate(
        [
            np.quantile(isolated, [1 / 3, 2 / 3]),
            [iso_cut, iso_cut + ISO_GAP],
            np.quantile(beyond, np.linspace(0, 1, DDT_NONISOLATED_BINS + 1)[1:-1]),
        ]
    )
    iso_edges = np.concatenate([[-np.inf], np.unique(inner), [np.inf]])
    pt_edges = np.quantile(pt[fakes], np.linspace(0, 1, DDT_PT_BINS + 1))
    pt_edges[0], pt_edges[-1] = -np.inf, np.inf
    table = DdtTable(pt_edges, iso_edges, np.zeros((DDT_PT_BINS, iso_edges.size - 1)))
    pt_bin, iso_bin = table.cells(events)
    cell = pt_bin * table.thresholds.shape[1] + iso_bin
    n_cells = table.thresholds.size
    fake_scores = [np.sort(score[fakes & (cell == c)]) for c in range(n_cells)]
    if min(len(s) for s in fake_scores) < 20:
        raise DatrigError(
            "the DDT peer needs >= 20 simulated fakes in every (pT, isolation) cell of the "
            "validation split; use a larger sample"
        )

    def thresholds(rate: float) -> np.ndarray:
        return np.array([np.quantile(s, 1.0 - rate) for s in fake_scores])

    lo, hi = 1e-3, 0.999
    for _ in range(40):  # photon efficiency grows with the fake rate
        rate = 0.5 * (lo + hi)
        eff = np.mean(score[photons] >= thresholds(rate)[cell[photons]])
        lo, hi = (lo, rate) if eff >= ID_EFFICIENCY else (rate, hi)
    return DdtTable(pt_edges, iso_edges, thresholds(hi).reshape(table.thresholds.shape))


def _fit_ddt(sample: PeerSample, shared: dict) -> Scorer:
    model = _gbdt(sample, shared)
    table = ddt_table(_decision(model, sample.validation), sample.validation)
    return lambda events: table.apply(_decision(model, events), events)


def _ranks(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(x) / max(len(x), 1)


def _fit_flat_bdt(uniform_in_pt: bool, strength: float) -> Callable[[PeerSample, dict], Scorer]:
    def fit(sample: PeerSample, shared: dict) -> Scorer:
        import pandas as pd
        from hep_ml.gradientboosting import UGradientBoostingClassifier
        from hep_ml.losses import BinFlatnessLossFunction

        rows = sample.train[:FLAT_BDT_MAX_EVENTS]
        names = [f"x{i}" for i in range(len(SHOWER_SHAPES) + 2)]
        frame = pd.DataFrame(network_features(rows), columns=names)
        frame["iso_rank"] = _ranks(np.asarray(rows["iso_calo"], dtype=np.float64))
        uniform = ["iso_rank"]
        if uniform_in_pt:
            frame["pt_rank"] = _ranks(np.asarray(rows["pt"], dtype=np.float64))
            uniform.append("pt_rank")
        loss = BinFlatnessLossFunction(uniform, uniform_label=0, n_bins=10, fl_coefficient=strength)
        model = UGradientBoostingClassifier(
            loss=loss,
            n_estimators=FLAT_BDT_TREES,
            max_depth=4,
            learning_rate=0.1,
            subsample=0.7,
            train_features=names,
            random_state=sample.seed,
        )
        model.fit(frame, np.asarray(rows["label"]))

        def score(events: np.ndarray) -> np.ndarray:
            return model.decision_function(pd.DataFrame(network_features(events), columns=names))

        return score

    return fit


PEERS: dict[str, Peer] = {
    peer.name: peer
    for peer in (
        Peer("cut_based", "rectangular cuts on the shower shapes", _fit_cut_based),
        Peer("gbdt", "gradient boosting, all inputs, no decorrelation", _fit_gbdt),
        Peer("gbdt_ddt", "gradient boosting thresholded per (pT, isolation) cell (DDT)", _fit_ddt),
        Peer(
            "flat_bdt",
            "hep_ml uniform boosting, flat in isolation (fl 300)",
            _fit_flat_bdt(False, 300.0),
        ),
        Peer(
            "flat_bdt_pt",
            "hep_ml uniform boosting, flat in isolation x pT (fl 1000)",
            _fit_flat_bdt(True, 1000.0),
        ),
    )
}


def resolve_peers(names: list[str] | None) -> tuple[str, ...]:
    """``--peers``: None (the option absent) means every peer; unknown names are an error."""
    chosen = tuple(PEERS) if names is None else tuple(names)
    unknown = [n for n in chosen if n not in PEERS]
    if unknown:
        raise DatrigError(f"unknown --peers {unknown}; choose from {', '.join(PEERS)}")
    return chosen


def peer_sample(data_dir: Path, seed: int) -> PeerSample:
    """The simulated train and validation rows of the dataset in ``data_dir``."""
    from datrig.data.manifest import dataset_file
    from datrig.data.reader import read_rows

    path = dataset_file(Path(data_dir), "photons", "sim")
    return PeerSample(read_rows(path, "train"), read_rows(path, "val"), seed)


@dataclass
class FittedPeers:
    """Peers ready to score candidates, and those that could not be fitted, with why (a
    peer the sample cannot support is reported, not fatal: the networks are still measured)."""

    scorers: dict[str, Scorer]
    skipped: dict[str, str]

    def notes(self) -> list[str]:
        return [f"{name}: not measured ({why})" for name, why in self.skipped.items()]


def fit_peers(
    sample: PeerSample, names: tuple[str, ...] = tuple(PEERS), progress: bool = True
) -> FittedPeers:
    """Fit the named peers on ``sample`` (deterministic for a given sample and seed)."""
    resolve_peers(list(names))
    from tqdm import tqdm

    fitted = FittedPeers({}, {})
    shared: dict = {}
    for name in tqdm(names, desc="peers", unit="method", file=sys.stderr, disable=not progress):
        try:
            fitted.scorers[name] = PEERS[name].fit(sample, shared)
        except DatrigError as exc:
            fitted.skipped[name] = str(exc)
    return fitted


def training_sample(run_dir: Path, seed: int) -> tuple[PeerSample | None, str]:
    """The peers' sample for a run: its training data's sim rows, or None and why not."""
    from datrig.train.runs import run_data_dir

    try:
        data_dir = run_data_dir(run_dir)
        return peer_sample(data_dir, seed), str(data_dir)
    except DatrigError as exc:
        return None, str(exc)
