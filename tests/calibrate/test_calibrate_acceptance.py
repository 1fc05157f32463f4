"""Acceptance of issue 11 on the default data with an independent 1M-candidate sample per
domain (slow: two trainings, two exports, 4M firmware evaluations, ~10 min).

The shipped decorrelated photon_id (its ``shipped_da`` at the penalty's default lam, default
bits) must make the ABCD calibration work in the mismodelled ``data`` domain; ``none`` shows
the bias a sim-derived correction would have to fix.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.slow

N_EVAL = 1_000_000


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    from datrig.calibrate.analysis import Settings
    from datrig.calibrate.artefact import calibrate_into
    from datrig.models.registry import get_model_spec
    from datrig.sim.default import ensure_default_data
    from datrig.sim.simulate import simulate
    from datrig.train.runs import ensure_run, resolve_config

    root = tmp_path_factory.mktemp("calibration_acceptance")
    data = ensure_default_data(progress=False)
    shipped = get_model_spec("photon_id").shipped_da
    runs = {
        da: ensure_run(resolve_config("photon_id", da, data, seed=1), root / da, progress=False)
        for da in ("none", shipped)
    }
    simulate(root / "eval", N_EVAL, 1000, seed=7, progress=False)
    calibrate_into(list(runs.values()), root / "eval", root / "out", Settings(seed=1))
    doc = json.loads((root / "out" / "calibration.json").read_text())
    return doc, runs, shipped


def _bins(calibration, method: str) -> list[dict]:
    """The per-pT-tercile results of one method."""
    doc, _, _ = calibration
    return doc[method]["bins"]["pt"]


def _r_within_ten_percent(calibration, domain: str) -> None:
    _, _, shipped = calibration
    for b in _bins(calibration, shipped):
        r = b["abcd_r"][domain]
        assert abs(r["value"] - 1) <= 0.10, (b["label"], domain, r)


def test_shipped_id_has_r_within_ten_percent_per_pt_tercile_in_sim(calibration):
    _r_within_ten_percent(calibration, "sim")


BLOCKED_DATA = (
    "blocked (issue 11, docs/decorrelation.md): measured R in data 1.04 / 1.11 / 1.09 +- 0.03 "
    "and uncorrected closure 0.98 / 0.92 / 0.99 +- 0.02-0.03 per pT tercile (sim R 1.04 / "
    "1.04 / 0.94): the data mismodelling of the hadronic variables that the flat score "
    "balances leaves R ~ 1.1 in data"
)


@pytest.mark.xfail(reason=BLOCKED_DATA, strict=True)
def test_shipped_id_has_r_within_ten_percent_per_pt_tercile_in_data(calibration):
    _r_within_ten_percent(calibration, "data_truth")


@pytest.mark.xfail(reason=BLOCKED_DATA, strict=True)
def test_shipped_id_uncorrected_abcd_closes_within_five_percent(calibration):
    _, _, shipped = calibration
    for b in _bins(calibration, shipped):
        closure = b["closure"]["uncorrected"]
        assert abs(closure["value"] - 1) <= 0.05, (b["label"], closure)


def test_shipped_id_scale_factor_matches_truth(calibration):
    _, _, shipped = calibration
    for b in _bins(calibration, shipped):
        ratio = b["scale_factor"]["measured_over_truth"]
        assert abs(ratio["value"] - 1) <= 0.01 or abs(ratio["pull"]) <= 2, (b["label"], ratio)


def test_undecorrelated_id_shows_the_mismodelling_bias(calibration):
    """For ``none`` R is far from 1 and a sim-derived R mis-corrects data by >= 3 sigma in at
    least one pT tercile (the toy's fragmentation mismodelling, issue 11.5)."""
    bins = _bins(calibration, "none")
    assert all(b["abcd_r"]["sim"]["value"] > 2 for b in bins)
    pulls = []
    for b in bins:
        sim, data = b["abcd_r"]["sim"], b["abcd_r"]["data_truth"]
        ratio = data["value"] / sim["value"]
        err = ratio * np.hypot(sim["err"] / sim["value"], data["err"] / data["value"])
        pulls.append((ratio - 1) / err)
    assert max(pulls) >= 3, pulls


@pytest.mark.xfail(
    reason="blocked (issue 11, docs/decorrelation.md): no penalty reached R80 >= 90 % of the "
    "pT-conditional independence bound (9.0 of 9.97) with |R - 1| <= 0.1; shipped: R80 6.8",
    strict=True,  # if a model ever meets it, this fails: drop the xfail then
)
def test_shipped_id_keeps_ninety_percent_of_the_conditional_bound(calibration):
    from datrig.validate.predictions import load_predictions
    from datrig.validate.report import pt_independence_bound

    _, runs, shipped = calibration
    preds = load_predictions(runs[shipped])
    bound = pt_independence_bound(preds, [preds.output_float], seed=1)["rejection80_sim"]
    r80 = json.loads((runs[shipped] / "metrics.json").read_text())["quant"]["sim"]
    assert r80["rejection_at_80"] >= 0.9 * bound, (r80["rejection_at_80"], bound)
