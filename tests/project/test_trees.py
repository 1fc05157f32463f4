"""A tree-ensemble project is read as data: its record, IR and ranges are checked, and its
C-simulation executable is only ever run from inside the folder (no symlink out)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from datrig.data.features import Normalisation
from datrig.errors import DatrigError, SchemaError
from datrig.project.trees import CSIM_EXE, ENSEMBLE, NORMALISATION, TreeProject
from tests.ensemble_models import N_FEATURES, fitted_ensemble


def _project(folder):
    ir, xq, *_ = fitted_ensemble(n_trees=3)
    folder.mkdir()
    (folder / "datrig_project.json").write_text(json.dumps({"stage": "export-trees"}))
    (folder / ENSEMBLE).write_text(json.dumps(ir.to_json()))
    names = [f"f{i}" for i in range(N_FEATURES)]
    norm = Normalisation(names, ["identity"] * N_FEATURES, [0.0] * N_FEATURES, [1.0] * N_FEATURES)
    (folder / NORMALISATION).write_text(json.dumps(norm.to_dict()))
    return ir, xq


def test_a_csim_linked_out_of_the_project_is_refused(tmp_path):
    _, xq = _project(tmp_path / "p")
    outside = tmp_path / "elsewhere"
    outside.write_text("#!/bin/sh\necho pwned > " + str(tmp_path / "ran") + "\n")
    outside.chmod(0o755)
    (tmp_path / "p" / "hls").mkdir()
    (tmp_path / "p" / CSIM_EXE).symlink_to(outside)
    project = TreeProject.load(tmp_path / "p")
    with pytest.raises(DatrigError, match="outside the folder"):
        project.csim_mantissas(xq[:10])
    assert not (tmp_path / "ran").exists()


def test_a_crafted_ensemble_or_foreign_folder_is_refused(tmp_path):
    _project(tmp_path / "p")
    doc = json.loads((tmp_path / "p" / ENSEMBLE).read_text())
    doc["trees"][0]["left"][0] = 999
    (tmp_path / "p" / ENSEMBLE).write_text(json.dumps(doc))
    with pytest.raises(SchemaError, match="points outside"):
        TreeProject.load(tmp_path / "p")
    (tmp_path / "q").mkdir()
    with pytest.raises(DatrigError, match="not a datrig tree-ensemble project"):
        TreeProject.load(tmp_path / "q")


def test_the_emulated_output_is_on_the_output_grid(tmp_path):
    ir, xq = _project(tmp_path / "p")
    project = TreeProject.load(tmp_path / "p")
    out = project.emulate(xq[:100] * ir.input_type.lsb)
    assert out.shape == (100, 1)
    assert np.all(out / ir.output_type.lsb == np.round(out / ir.output_type.lsb))


def test_verify_refuses_an_event_count_beyond_the_limit_in_one_line(tmp_path, capsys):
    from datrig.cli import main

    _project(tmp_path / "p")
    code = main(["verify", "--project", str(tmp_path / "p"), "--events", "300000000"])
    err = capsys.readouterr().err
    assert code != 0 and "beyond datrig's limit" in err and "Traceback" not in err
