"""Validation throughput at the issue's scale (100k test events per domain).

Rows: dCor on 100k fakes (datrig's numpy merge sort; dcor's numba one, compiled), one working
point on 200k events, the cut-based tuning, and the whole photon_id evaluation of one output
column (`make test`: 10x to 20x fewer events).
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.results import compare, per_second, size
from datrig.metrics import classifier as m
from datrig.metrics import decorrelation as dm
from datrig.train.predictions import load_predictions
from datrig.validate.cutbased import tune_cuts
from datrig.validate.evaluate import evaluate_photon_id
from tests.validate.validate_toys import photon_events, photon_id_runs

N_EVENTS = size(200_000, 20_000)  # 100k sim + 100k data
N_DCOR = size(100_000, 5000)


@pytest.fixture(scope="module")
def events() -> np.ndarray:
    return photon_events(N_EVENTS, np.random.default_rng(0))


def test_dcor_100k(benchmark):
    rng = np.random.default_rng(1)
    x = rng.normal(size=N_DCOR)
    y = x + rng.normal(size=N_DCOR)
    result = benchmark(dm.distance_correlation, x, y)
    assert 0.5 < result < 0.9
    per_second(benchmark, "validate.dcor", N_DCOR)
    compare("dCor 100k: datrig numpy / dcor numba (compiled)", "validate.dcor", "validate.dcor_ref")


def test_dcor_reference_100k(benchmark):
    """dcor's merge sort after its numba compilation (~6 s per process, not timed here)."""
    import dcor

    rng = np.random.default_rng(1)
    x = rng.normal(size=N_DCOR)
    y = x + rng.normal(size=N_DCOR)
    dcor.distance_correlation(x[:10], y[:10], method="mergesort")  # compile outside the timing
    result = benchmark(dcor.distance_correlation, x, y, method="mergesort")
    assert result == pytest.approx(dm.distance_correlation(x, y), rel=1e-10)
    per_second(benchmark, "validate.dcor_ref", N_DCOR)


def test_working_point_200k(benchmark, events):
    score = events["Rhad"] - events["Reta"]
    wp = benchmark(m.working_point, score, events["label"], 0.8)
    assert wp.eff_sig == pytest.approx(0.8, abs=1e-4)


def test_cut_tuning_100k(benchmark, events):
    sim = events[events["domain"] == 0]
    cuts = benchmark.pedantic(tune_cuts, args=(sim, sim["label"], 0.8), rounds=1, iterations=1)
    assert cuts.passes(sim)[sim["label"] == 1].mean() == pytest.approx(0.8, abs=1e-4)


def test_evaluate_photon_id_200k(benchmark, tmp_path_factory):
    run = photon_id_runs(tmp_path_factory.mktemp("bench"), n=N_EVENTS)[0]
    preds = load_predictions(run)
    res = benchmark.pedantic(
        evaluate_photon_id, args=(preds, preds.output_float), rounds=1, iterations=1
    )
    assert {"rank_dcor_bkg_sim", "rank_dcor_bkg_data"} <= set(res.metrics)
    per_second(benchmark, "validate.evaluate_photon_id", N_EVENTS)
