"""A project's InputSpec carries the cell-feature builder: `datrig emulate --input photons.h5`
builds the same per-cell features as training; projects written before builders read "raw"."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from datrig.data.features import fit_cells
from datrig.data.reader import read_cells
from datrig.project.inputs import InputSpec, read_inputs
from datrig.sim.simulate import simulate


@pytest.fixture(scope="module")
def photons(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cells")
    simulate(out, 400, 100, 7, progress=False)
    return out / "photons_sim.h5"


@pytest.mark.parametrize("builder", ["raw", "upstream", "upstream_energy"])
def test_spec_from_json_builds_the_training_features(photons, builder):
    norm = fit_cells(read_cells(photons, "train"), 16, builder)
    spec = InputSpec.from_json(json.loads(json.dumps(InputSpec("photons", norm).to_json())))
    assert spec.normalisation.cell_builder == builder
    x = read_inputs(photons, spec, split="test")
    assert x.shape[1:] == (16, len(norm.features))
    np.testing.assert_array_equal(x, norm.network_inputs(photons, "test").astype(np.float64))


def test_project_written_before_cell_builders_reads_raw_cells(photons):
    norm = fit_cells(read_cells(photons, "train"), 8, "raw")
    old = InputSpec("photons", norm).to_json()
    del old["normalisation"]["cell_builder"]
    spec = InputSpec.from_json(old)
    assert spec.normalisation.cell_builder == "raw"
    np.testing.assert_array_equal(
        spec.from_file(photons, "test"), norm.network_inputs(photons, "test").astype(np.float64)
    )
