"""Acceptance of issues 11 and 17 on the default data with an independent 1M-candidate sample
per domain (slow: two trainings, two exports, 4M firmware evaluations, ~10 min).

The shipped decorrelated photon_id (its ``shipped_da`` at the penalty's default lam, default
bits) must be flat on the fail-ID ABCD plane at fixed pT in sim *and* in the mismodelled
``data`` domain; ``none`` shows the bias a sim-derived correction would have to fix. Issue 17's
full acceptance (three 300k training samples and seeds) is measured in docs/decorrelation.md.
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


def _fail_id(calibration) -> dict:
    """The shipped ID's point on the fail-ID plane (C, D = every candidate failing the ID)."""
    doc, _, shipped = calibration
    (point,) = [p for p in doc["plane"]["fail_id"] if p["method"] == shipped]
    return point


BLOCKED_DATA = (
    "blocked (issue 17, docs/decorrelation.md): the shipped run, trained on the default 150k "
    "candidates, has fail-ID R data 0.94 / 0.87 / 0.98 +- 0.02-0.03 on this sample (0.98 / 0.91 "
    "/ 0.93 on an independent one); the 300k-sample acceptance runs (seeds 41, 57, 71) pass"
)


@pytest.mark.parametrize(
    "domain",
    ["sim", pytest.param("data", marks=pytest.mark.xfail(reason=BLOCKED_DATA, strict=True))],
)
def test_shipped_id_is_flat_on_the_fail_id_plane_per_pt_tercile(calibration, domain):
    """|R - 1| <= 0.10 (+1 sigma) in every pT tercile: issue 17's closure criterion."""
    point = _fail_id(calibration)
    for r, err in zip(point[f"r_{domain}"], point[f"r_{domain}_err"], strict=True):
        assert abs(r - 1) <= 0.10 + err, (domain, point[f"r_{domain}"], point[f"r_{domain}_err"])


def test_shipped_id_all_pt_data_r_within_five_percent(calibration):
    point = _fail_id(calibration)
    assert abs(point["r_all_data"] - 1) <= 0.05 + point["r_all_data_err"], point


@pytest.mark.xfail(
    reason="blocked (issue 17, docs/decorrelation.md): R80 >= 10 at |R - 1| <= 0.1 within "
    "25 ns / 8.6k LUT reached by no variant; shipped ddt R80 9.0 (seeds 41/57/71: 9.4/9.0/8.7)",
    strict=True,  # if a model ever meets it, this fails: drop the xfail then
)
def test_shipped_id_keeps_r80_of_ten(calibration):
    assert _fail_id(calibration)["rejection80_sim"] >= 10


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
    """Issue 11, in the calibration's own regions (C, D in the control band)."""
    _r_within_ten_percent(calibration, "sim")


BLOCKED_CONTROL = (
    "blocked (issues 11 and 17, README calibration caveat): ddt flattens the fakes' pass rate "
    "at the working point, not in the control band (scores below the 99.8 % photon point); "
    "measured on the shipped run: control-band R data 0.87 / 0.85 / 1.04, uncorrected closure "
    "1.20 / 1.23 / 1.06 +- 0.03-0.04 on this sample (1.14 / 1.17 / 1.11 on an independent "
    "one; the 300k-sample seeds close to 0.95-1.10), which also biases the sideband-subtracted "
    "ID efficiency at low pT by +1.6 %"
)


@pytest.mark.xfail(reason=BLOCKED_CONTROL, strict=True)
def test_shipped_id_has_r_within_ten_percent_per_pt_tercile_in_data(calibration):
    _r_within_ten_percent(calibration, "data_truth")


@pytest.mark.xfail(reason=BLOCKED_CONTROL, strict=True)
def test_shipped_id_uncorrected_abcd_closes_within_five_percent(calibration):
    _, _, shipped = calibration
    for b in _bins(calibration, shipped):
        closure = b["closure"]["uncorrected"]
        assert abs(closure["value"] - 1) <= 0.05, (b["label"], closure)


@pytest.mark.xfail(reason=BLOCKED_CONTROL, strict=True)
def test_shipped_id_scale_factor_matches_truth(calibration):
    _, _, shipped = calibration
    for b in _bins(calibration, shipped):
        ratio = b["scale_factor"]["measured_over_truth"]
        assert abs(ratio["value"] - 1) <= 0.01 or abs(ratio["pull"]) <= 2, (b["label"], ratio)


def test_shipped_id_keeps_ninety_percent_of_the_conditional_bound(calibration):
    """Issue 11's rejection target (was a strict xfail with ``flat``: R80 6.8 of 9.0)."""
    from datrig.train.predictions import load_predictions
    from datrig.validate.report import pt_independence_bound

    _, runs, shipped = calibration
    preds = load_predictions(runs[shipped])
    bound = pt_independence_bound(preds, [preds.output_float], seed=1)["rejection80_sim"]
    r80 = json.loads((runs[shipped] / "metrics.json").read_text())["quant"]["sim"]
    assert r80["rejection_at_80"] >= 0.9 * bound, (r80["rejection_at_80"], bound)


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
