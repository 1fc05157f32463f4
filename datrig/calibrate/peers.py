"""The peers of the calibrated photon IDs, on the same candidates, and the calibration plane.

For every distinct training sample among the calibrated runs, the methods an analyst would use
instead (:mod:`datrig.validate.peers`: cut-based ID, gradient boosting, its DDT, hep_ml's
flatness BDTs) are fitted on that sample's simulated train/validation rows and score the very
candidates the runs' firmware was evaluated on. Every method, network or peer, then gets the
same figures (:mod:`datrig.validate.plane`): R80 and the ABCD factor per pT tercile and over all
pT in both domains, with the calibration's regions.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datrig.calibrate.analysis import Settings
from datrig.calibrate.evaluate import MethodCalibration
from datrig.validate.plane import PlanePoint, plane_point


@dataclass
class PeerSet:
    """The peers measured in a calibration, and those that could not be, with why."""

    scores: list[PeerScores]
    skipped: dict[str, str]


@dataclass
class PeerScores:
    """One peer method fitted on one training sample, scored on a run's candidates."""

    name: str  # e.g. "gbdt_ddt", or "gbdt_ddt@<sample>" when several samples are calibrated
    training: Path
    scores: dict[str, np.ndarray]  # domain -> score per candidate of ``events_of``
    events_of: str  # the method whose candidates these are


def peer_scores(results: list[MethodCalibration], names: tuple[str, ...], seed: int) -> PeerSet:
    """Fit the peers once per distinct training sample; score that sample's first run's
    candidates (all runs share them when ``--data`` is given)."""
    from datrig.train.runs import run_data_dir
    from datrig.validate.peers import fit_peers, peer_sample

    out = PeerSet([], {})
    if not names:
        return out
    first_run: dict[Path, MethodCalibration] = {}
    for cal in results:
        first_run.setdefault(run_data_dir(cal.run_dir).resolve(), cal)
    several = len(first_run) > 1
    for data_dir, cal in first_run.items():
        print(f"datrig calibrate: fitting the peers on {data_dir} ...", file=sys.stderr)
        fitted = fit_peers(peer_sample(data_dir, seed), names)
        suffix = f"@{data_dir.name}" if several else ""
        for name, why in fitted.skipped.items():
            out.skipped[name + suffix] = why
        for name, scorer in fitted.scorers.items():
            scores = {d: scorer(s.events) for d, s in cal.samples.items()}
            out.scores.append(PeerScores(name + suffix, data_dir, scores, cal.method))
    return out


def _events(cal: MethodCalibration) -> np.ndarray:
    return np.concatenate([cal.samples["sim"].events, cal.samples["data"].events])


def plane_points(
    results: list[MethodCalibration],
    peers: list[PeerScores],
    settings: Settings,
    control: bool = True,
) -> list[PlanePoint]:
    """Every method's figures with the calibration's regions (``control``: C and D in the
    control band, else every candidate failing the ID)."""
    efficiency = settings.control_efficiency if control else None
    by_method = {cal.method: cal for cal in results}
    points = []
    for cal in results:
        score = np.concatenate([cal.samples["sim"].score, cal.samples["data"].score])
        points.append(
            plane_point(
                cal.method, "firmware", score, _events(cal), efficiency, settings.id_efficiency
            )
        )
    for peer in peers:
        events = _events(by_method[peer.events_of])
        score = np.concatenate([peer.scores["sim"], peer.scores["data"]])
        points.append(
            plane_point(peer.name, "peer", score, events, efficiency, settings.id_efficiency)
        )
    return points
