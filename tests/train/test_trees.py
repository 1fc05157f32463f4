"""The tree-ensemble trainer on the toy's photons: determinism, the run artefacts a network
run has, the grids it records, and clear refusals."""

from __future__ import annotations

import dataclasses
import json

import pytest

from datrig.cli import main
from datrig.models import registry
from datrig.models.trees import TreeSettings


@pytest.fixture
def small_bdt(monkeypatch):
    spec = dataclasses.replace(
        registry.MODELS["photon_id_bdt"], trees=TreeSettings(n_trees=6, max_depth=3)
    )
    monkeypatch.setitem(registry.MODELS, "photon_id_bdt", spec)


def _qat(data, out, da="ddt", seed="4"):
    return main(["qat", "--model", "photon_id_bdt", "--da", da, "--data", str(data),
                 "--out", str(out), "--seed", seed, "--quiet"])  # fmt: skip


def test_same_seed_same_bytes_and_a_complete_run(tiny_data, tmp_path, small_bdt):
    assert _qat(tiny_data, tmp_path / "a") == 0
    assert _qat(tiny_data, tmp_path / "b") == 0
    for name in ("ensemble.json", "normalisation.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    run = tmp_path / "a"
    assert {"run.json", "config.json", "metrics.json", "predictions_test.h5"} <= {
        p.name for p in run.iterdir()
    }
    ir = json.loads((run / "ensemble.json").read_text())
    assert len(ir["trees"]) == 6 and ir["threshold_map"] is not None
    assert ir["input_type"]["integer"] == 1 and ir["input_type"]["overflow"] == "SAT"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["quant"]["sim"]["auc"] > 0.8
    assert metrics["firmware_types"]["threshold_map"]["background_pass"] > 0


def test_a_network_penalty_is_refused_in_one_line(tiny_data, tmp_path, small_bdt, capsys):
    assert _qat(tiny_data, tmp_path / "c", da="disco") != 0
    err = capsys.readouterr().err
    assert "tree ensemble takes none or ddt" in err and "Traceback" not in err


def test_uniform_boosting_runs_as_a_tree_variant(tiny_data, tmp_path, small_bdt):
    assert _qat(tiny_data, tmp_path / "flat", da="flat") == 0
    ir = json.loads((tmp_path / "flat" / "ensemble.json").read_text())
    assert len(ir["trees"]) == 6 and ir["threshold_map"] is None
    iso = ir["features"].index("iso_calo")
    assert all(iso not in t["feature"] for t in ir["trees"])  # the trees never read isolation
