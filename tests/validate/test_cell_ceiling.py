"""The float ceiling of a cell-level ID: R80 with errors, both networks on the run's own
events, and a dataset that is not the run's refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from datrig.errors import DatrigError
from datrig.train.predictions import RunPredictions
from datrig.validate.cell_ceiling import (
    Ceiling,
    CeilingSettings,
    ceiling_markdown,
    measure_ceiling,
    rejection_with_error,
)

TINY = CeilingSettings(hidden=(8,), epochs=3, batch_size=256, n_train=1200)


def test_rejection_of_a_hand_made_score():
    # 10 photons at 1..10: the 80 % threshold is 3; 100 fakes, 10 of them at 5, the rest at 0
    score = np.concatenate([np.arange(1.0, 11.0), np.full(10, 5.0), np.zeros(90)])
    label = np.concatenate([np.ones(10), np.zeros(100)]).astype(np.int8)
    value, err = rejection_with_error(score, label, seed=1, n_boot=50)
    assert value == 10.0
    assert 0.5 < err < 10.0  # ~R * sqrt((1 - eps) / n_pass): a few units


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> RunPredictions:
    """A run folder naming a tiny simulated dataset, with its test events (sim, then data)."""
    from datrig.data.reader import read_rows
    from datrig.sim.simulate import simulate

    root = tmp_path_factory.mktemp("ceiling")
    data = root / "data"
    simulate(data, 2000, 10, 4, progress=False)
    run = root / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"data_dir": str(data)}))
    events = np.concatenate([read_rows(data / f"photons_{d}.h5", "test") for d in ("sim", "data")])
    n = len(events)
    return RunPredictions(
        run, "photon_id_gnn", "none", "classification", "logit", "iso_calo",
        np.zeros((n, 1, 109), np.float32), events, np.zeros(n, np.float32),
        np.zeros(n, np.float32),
    )  # fmt: skip


def test_both_networks_are_measured_on_the_runs_sim_test_events(tiny_run):
    ceiling = measure_ceiling(tiny_run, seed=3, settings=TINY)
    assert ceiling.n_test == 400 and ceiling.n_train == 1200
    for r80, err in (ceiling.shower_shape_mlp, ceiling.cell_mlp):
        assert r80 > 1.5 and np.isfinite(err) and err > 0  # both learn something
    out = ceiling.to_json()
    assert out["ratio"] == pytest.approx(ceiling.cell_mlp[0] / ceiling.shower_shape_mlp[0])
    assert out["reached"] == (out["ratio"] >= 0.9)
    again = measure_ceiling(tiny_run, seed=3, settings=TINY)
    assert again == ceiling  # seeded: the same numbers


def test_a_dataset_that_is_not_the_runs_is_refused(tiny_run, tmp_path: Path):
    events = tiny_run.events.copy()
    events["pt"][3] += 1.0
    other = RunPredictions(**{**tiny_run.__dict__, "events": events})
    with pytest.raises(DatrigError, match="not the events of"):
        measure_ceiling(other, seed=3, settings=TINY)


def test_markdown_states_the_ratio_and_the_verdict():
    c = Ceiling((20.0, 0.5), (17.0, 0.5), 300_000, 100_000, "data/default", CeilingSettings())
    text = "\n".join(ceiling_markdown(c, {"none": {"float": 19.0, "firmware": 18.5}}))
    assert "= 0.85 +- 0.03" in text and "NOT reached" in text
    assert "| none | 19.00 | 18.50 |" in text
