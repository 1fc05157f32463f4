"""The energy ceiling and the per-bin resolution table, on a real (small) toy dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest

from datrig.data.reader import read_rows
from datrig.metrics.energy_bins import ETA_BINS, PT_EDGES, eta_bin, pt_bin
from datrig.train.predictions import load_predictions
from datrig.validate.energy_ceiling import CeilingSettings, energy_baselines
from datrig.validate.energy_mlp import MlpSettings
from datrig.validate.energy_table import resolution_table, table_markdown
from tests.validate.validate_toys import write_run

SMALL = CeilingSettings(n_train=None, mlp=MlpSettings(hidden=(32, 16), epochs=10))


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """A run folder whose test events are its dataset's test split (the network's output:
    the raw energy, i.e. correction 1)."""
    from datrig.sim.simulate import simulate

    root = tmp_path_factory.mktemp("ceiling")
    simulate(root / "data", 6_000, 10, seed=13, progress=False, n_resonance=1)
    events = np.concatenate(
        [read_rows(root / "data" / f"photons_{d}.h5", "test") for d in ("sim", "data")]
    )
    run = write_run(
        root / "run",
        "photon_energy",
        "none",
        events,
        np.ones(len(events)),
        task="regression",
        output_kind="energy_correction",
        protected="domain",
    )
    (run / "config.json").write_text(json.dumps({"data_dir": str(root / "data")}))
    return run


def _iqr_half(x):
    q25, q75 = np.quantile(x, [0.25, 0.75])
    return (q75 - q25) / 2


def test_ceiling_beats_the_standard_regression_trained_on_the_train_split(toy_run):
    preds = load_predictions(toy_run)
    out, how = energy_baselines(preds, seed=3, settings=SMALL)
    assert how == "train split"
    sim = preds.field("domain") == 0
    e_true = preds.field("e_true")
    res = {name: _iqr_half(e[sim] / e_true[sim]) for name, e in out.items()}
    assert res["standard_regression"] < 0.8 * res["raw_energy"]  # calibrated
    assert res["ceiling"] == min(res["ceiling_gbdt"], res["ceiling_mlp"])
    assert res["ceiling"] < res["standard_regression"]  # shower shapes carry information


def test_mlp_ceiling_is_seeded():
    from datrig.validate.energy_mlp import fit_predict_mlp

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(600, 4)), rng.normal(1.0, 0.1, 600)
    small = MlpSettings(hidden=(8,), epochs=3)
    a, b = (fit_predict_mlp(x, y, [x[:50]], seed=4, settings=small)[0] for _ in range(2))
    np.testing.assert_array_equal(a, b)


def test_test_rows_that_are_not_the_datasets_fall_back_to_cross_fitting(toy_run, tmp_path):
    import shutil

    import h5py

    run = tmp_path / "run"
    shutil.copytree(toy_run, run)
    with h5py.File(run / "predictions_test.h5", "r+") as fh:
        events = fh["events"][:]
        events["e_true"] = events["e_true"][::-1]
        fh["events"][...] = events
    _, how = energy_baselines(load_predictions(run), seed=3, settings=SMALL)
    assert how == "cross-fit on the test events"


def test_bins_by_hand():
    assert pt_bin(np.array([0.0, 24.9, 25.0, 54.9, 55.0, 1e5, -1.0])).tolist() == [
        0, 0, 1, 2, 3, 3, -1,
    ]  # fmt: skip
    assert eta_bin(np.array([0.0, 1.37, 1.45, 1.52, 2.37])).tolist() == [0, -1, -1, 3, 4]
    assert len(PT_EDGES) == 5 and len(ETA_BINS) == 5


def test_table_gains_and_ceiling_share_by_hand():
    """Responses whose IQR/2 are 2 %, 1 % and 1.5 %: gains 50 % and 25 %, share 50 %."""
    n = 4001
    u = np.linspace(-1, 1, n)  # IQR/2 of u = 0.5
    events = np.zeros(n, dtype=[("e_true", "f8"), ("domain", "i1"), ("pt", "f4"), ("eta", "f4")])
    events["e_true"], events["pt"], events["eta"] = 100.0, 30.0, 0.1
    outputs = {"standard_regression": 100 * (1 + 0.04 * u), "ceiling": 100 * (1 + 0.02 * u),
               "net": 100 * (1 + 0.03 * u)}  # fmt: skip
    table = resolution_table(events, outputs, seed=1)
    (inclusive, *bins) = table["sim"]
    assert inclusive["resolution"]["standard_regression"]["value"] == pytest.approx(0.02)
    assert inclusive["gain"]["ceiling"]["value"] == pytest.approx(0.5)
    assert inclusive["gain"]["net"]["value"] == pytest.approx(0.25)
    assert inclusive["ceiling_fraction"]["net"]["value"] == pytest.approx(0.5)
    filled = [b for b in bins if b["n"]]
    assert len(filled) == 1 and filled[0]["pt"] == "25-35" and filled[0]["eta"] == "0-0.6"
    assert "data" not in table
    md = table_markdown(table, ["net"], "train split")
    assert "| 25-35 | 0-0.6 | 4,001 | 0.02000 | 0.01000 | 50.0 ± 0.0 | 0.01500 |" in md
