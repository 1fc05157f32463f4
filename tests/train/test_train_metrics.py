"""Run metrics come from the shared definitions of datrig.metrics (one figure, one formula)."""

from __future__ import annotations

import numpy as np

from datrig.metrics.classifier import working_point
from datrig.metrics.decorrelation import rank_distance_correlation
from datrig.train.metrics import classification_metrics, regression_metrics, run_metrics


def _events(n: int, rng: np.random.Generator) -> np.ndarray:
    events = np.zeros(n, dtype=[("label", "i1"), ("domain", "i1"), ("iso_calo", "f4"),
                                ("pt", "f4")])  # fmt: skip
    events["label"] = rng.random(n) < 0.5
    events["domain"] = np.arange(n) >= n // 2
    events["pt"] = rng.uniform(20, 100, n)
    events["iso_calo"] = rng.exponential(2.0, n) + 0.02 * events["pt"]
    return events


def test_rejection_and_rank_dcor_are_the_shared_definitions():
    rng = np.random.default_rng(0)
    events = _events(4000, rng)
    logit = 2.0 * events["label"] + rng.normal(size=4000) + 0.3 * events["iso_calo"]
    m = classification_metrics(logit, events, ("iso_calo",), max_events=1000)
    score = 1 / (1 + np.exp(-logit))
    assert m["rejection_at_80"] == working_point(score, events["label"], 0.8).rejection
    bkg = events["label"] == 0
    assert m["rank_dcor_iso_calo_bkg"] == rank_distance_correlation(
        logit[bkg], events["iso_calo"][bkg]
    )  # ranks: the logit and its sigmoid give the same figure
    assert "dcor_sigmoid_iso_calo_bkg" in m


def test_photon_id_runs_report_abcd_per_pt_tercile_defined_on_sim():
    rng = np.random.default_rng(1)
    events = _events(20_000, rng)
    logit = 2.0 * events["label"] + rng.normal(size=20_000)  # independent of isolation
    result = run_metrics("classification", ("iso_calo",), {"quant": logit}, events, 2000, "pt")
    for domain in ("sim", "data"):
        m = result["quant"][domain]
        assert len(m["abcd_r_ptbins"]) == 3 and len(m["pt_edges"]) == 4
        r, err = np.array(m["abcd_r_ptbins"]), np.array(m["abcd_r_err_ptbins"])
        assert np.all(np.abs(r - 1) < 4 * err), (r, err)  # independent: R = 1 in every bin
    assert result["quant"]["sim"]["pt_edges"] == result["quant"]["data"]["pt_edges"]


def test_response_and_resolution():
    events = np.zeros(4, dtype=[("e_true", "f4"), ("e_raw", "f4")])
    events["e_true"] = 100.0
    events["e_raw"] = [90.0, 95.0, 100.0, 105.0]
    m = regression_metrics(np.ones(4), events)
    assert abs(m["median_response"] - 0.975) < 1e-6
    assert m["raw_median_response"] == m["median_response"]
