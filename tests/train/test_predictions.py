from __future__ import annotations

import h5py
import numpy as np
import pytest

from datrig.errors import SchemaError
from datrig.train.predictions import load_predictions
from tests.validate.validate_toys import photon_id_runs


def test_loads_a_run_in_the_artefact_format(tmp_path):
    run = photon_id_runs(tmp_path, n=200)[0]
    p = load_predictions(run)
    assert (p.model, p.da, p.task, p.output_kind, p.protected) == (
        "photon_id",
        "none",
        "classification",
        "logit",
        "iso_calo",
    )
    assert p.n_events == 200 and p.output_float.dtype == np.float64
    assert p.field("iso_calo").shape == (200,)
    with pytest.raises(SchemaError, match="no field 'm_gg'"):
        p.field("m_gg")


def test_missing_run_says_to_train_first(tmp_path):
    with pytest.raises(SchemaError, match="run `datrig qat` first"):
        load_predictions(tmp_path / "nowhere")


def test_not_hdf5_is_a_clear_error(tmp_path):
    (tmp_path / "predictions_test.h5").write_text("not hdf5")
    with pytest.raises(SchemaError, match="not a readable HDF5 file"):
        load_predictions(tmp_path)


def test_wrong_layout_is_a_clear_error(tmp_path):
    with h5py.File(tmp_path / "predictions_test.h5", "w") as fh:
        fh["candidates"] = np.zeros(3)
    with pytest.raises(SchemaError, match="missing inputs, events"):
        load_predictions(tmp_path)


def test_nan_outputs_are_rejected(tmp_path):
    run = photon_id_runs(tmp_path, n=50)[0]
    with h5py.File(run / "predictions_test.h5", "r+") as fh:
        out = fh["output_float"][()]
        out[[3, 7]] = np.nan
        fh["output_float"][...] = out
    with pytest.raises(SchemaError, match="output_float has 2 NaN"):
        load_predictions(run)


def test_row_count_mismatch_is_rejected(tmp_path):
    run = photon_id_runs(tmp_path, n=50)[0]
    with h5py.File(run / "predictions_test.h5", "r+") as fh:
        del fh["output_quant"]
        fh["output_quant"] = np.zeros(49, dtype=np.float32)
    with pytest.raises(SchemaError, match="output_quant has 49 rows but events has 50"):
        load_predictions(run)
