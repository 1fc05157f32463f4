"""Signed event weights enter every sum: an exact-cancelling pair (the same candidate twice,
with +w and -w) leaves the task loss, the metrics and the calibration's counts unchanged,
while a weight-blind sum would move (issue 28, item 5; the penalties: tests/da)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from datrig.calibrate.measure import bootstrap_counts
from datrig.metrics.classifier import roc, weighted_quantiles, working_point
from datrig.metrics.decorrelation import AbcdRegions, pt_binned_decorrelation
from datrig.models.registry import get_model_spec
from datrig.train.objective import class_weights, task_loss


@pytest.fixture
def events():
    rng = np.random.default_rng(7)
    n = 3000
    label = (rng.uniform(size=n) < 0.4).astype(np.int8)
    score = rng.normal(label * 1.5, 1.0)
    iso = rng.gamma(2.0, 1.0, n) + 0.5 * (1 - label) * rng.uniform(0, 3, n)
    pt = rng.uniform(10, 100, n)
    w = rng.uniform(0.5, 2.0, n)
    return {"label": label, "score": score, "iso": iso, "pt": pt, "w": w}


def with_pairs(ev: dict, flip: bool) -> dict:
    """Every 4th candidate twice more, with +w and -w (label flipped if ``flip``: what a
    weight-blind trainer would learn as label noise)."""
    idx = np.arange(0, len(ev["label"]), 4)
    out = {k: np.concatenate([v, v[idx], v[idx]]) for k, v in ev.items()}
    out["w"] = np.concatenate([ev["w"], ev["w"][idx], -ev["w"][idx]])
    if flip:
        n = len(ev["label"])
        out["label"][n:] = 1 - out["label"][n:]
    return out


def test_the_task_loss_is_unchanged_by_cancelling_pairs(events):
    spec = get_model_spec("photon_id")
    paired = with_pairs(events, flip=True)

    def loss(ev: dict) -> float:
        w = class_weights(spec, ev["label"], ev["w"].astype(np.float32))
        out = torch.tensor(ev["score"], dtype=torch.float64)
        target = torch.tensor(ev["label"], dtype=torch.float64)
        return float(task_loss(spec, out, target, torch.tensor(w, dtype=torch.float64)))

    assert loss(paired) == pytest.approx(loss(events), rel=1e-6)
    blind = dict(paired, w=np.abs(paired["w"]))  # a trainer that ignores the signs
    assert abs(loss(blind) - loss(events)) > 0.01


def test_every_metric_is_unchanged_by_cancelling_pairs(events):
    paired = with_pairs(events, flip=True)
    for key in ("score",):
        wp, wp2 = (
            working_point(e[key], e["label"], 0.8, e["w"]) for e in (events, paired)
        )  # fmt: skip
        assert (wp2.threshold, wp2.eff_sig, wp2.eff_bkg) == pytest.approx(
            (wp.threshold, wp.eff_sig, wp.eff_bkg), rel=1e-9
        )
    assert roc(paired["score"], paired["label"], paired["w"])[2] == pytest.approx(
        roc(events["score"], events["label"], events["w"])[2], rel=1e-9
    )
    assert weighted_quantiles(paired["iso"], [0.1, 0.5, 0.9], paired["w"]) == pytest.approx(
        weighted_quantiles(events["iso"], [0.1, 0.5, 0.9], events["w"])
    )
    figs = []
    for e in (events, paired):
        regions = AbcdRegions.from_sim(e["score"], e["label"], e["iso"], weights=e["w"])
        fake = e["label"] == 0
        figs.append(
            pt_binned_decorrelation(e["score"][fake], e["iso"][fake], e["pt"][fake], regions,
                                    np.array([10.0, 40.0, 70.0, 100.0]), weights=e["w"][fake])
        )  # fmt: skip
    np.testing.assert_allclose(figs[1].counts, figs[0].counts, rtol=1e-12)
    np.testing.assert_allclose(figs[1].abcd_r, figs[0].abcd_r, rtol=1e-12)
    assert np.all(figs[1].abcd_r_err > figs[0].abcd_r_err)  # sum of w^2: the pairs cost


def test_calibration_counts_are_unchanged_by_cancelling_pairs(events):
    paired = with_pairs(events, flip=False)
    cells = [(events["pt"] // 30).astype(np.int64)]
    cells_p = [(paired["pt"] // 30).astype(np.int64)]
    plain = bootstrap_counts(cells, [4], 50, 3, events["w"])
    pairs = bootstrap_counts(cells_p, [4], 50, 3, paired["w"])
    np.testing.assert_allclose(pairs[0][0], plain[0][0], rtol=1e-12)  # the measurement
    assert np.std(pairs[0][1:], axis=0).sum() > np.std(plain[0][1:], axis=0).sum()
