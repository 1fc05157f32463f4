from __future__ import annotations

import h5py
import numpy as np
import pytest

from datrig.errors import DatrigError
from datrig.train.checkpoint import load_checkpoint, prepare_inputs
from datrig.train.loop import train
from datrig.train.objective import predict


@pytest.mark.parametrize("model", ["photon_id", "photon_id_gnn"])
def test_loaded_model_reproduces_predictions(tiny_config, tiny_data, tmp_path, model):
    train(tiny_config(model=model, da="none", n_test=None), tmp_path, progress=False)
    loaded = load_checkpoint(tmp_path / "checkpoint.pt")
    assert not loaded.model.training and loaded.spec.name == model
    inputs_sim = prepare_inputs(loaded, tiny_data / "photons_sim.h5", "test")
    with h5py.File(tmp_path / "predictions_test.h5") as fh:
        stored_inputs = fh["inputs"][: len(inputs_sim)]
        stored_quant = fh["output_quant"][: len(inputs_sim)]
    np.testing.assert_array_equal(inputs_sim, stored_inputs)
    out = loaded.model(loaded.model_input(inputs_sim)).detach().numpy().reshape(-1)
    np.testing.assert_array_equal(out, stored_quant)
    np.testing.assert_array_equal(predict(loaded.model, inputs_sim, loaded.spec, False), out)
    assert loaded.example_input().shape[1:] == loaded.model_input(inputs_sim[:1]).shape[1:]


def test_prepare_inputs_rejects_wrong_kind(tiny_config, tiny_data, tmp_path):
    train(tiny_config(da="none"), tmp_path, progress=False)
    loaded = load_checkpoint(tmp_path / "checkpoint.pt")
    with pytest.raises(DatrigError, match="diphoton"):
        prepare_inputs(loaded, tiny_data / "diphoton_sim.h5", "test")


def test_missing_or_corrupt_checkpoint(tmp_path):
    with pytest.raises(DatrigError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DatrigError, match="unreadable"):
        load_checkpoint(tmp_path / "bad.pt")


def test_s1_checkpoint_pickle_payload_does_not_run(photon_id_project, tmp_path, capsys):
    """A shared run whose checkpoint pickles code: `datrig export` refuses it in one line and
    the payload never runs (torch.load(weights_only=True))."""
    import shutil

    from datrig.cli import main
    from tests.project_fixture import plant_checkpoint_payload

    run, marker = tmp_path / "shared_run", tmp_path / "payload-ran"
    shutil.copytree(photon_id_project.run, run)
    plant_checkpoint_payload(run, marker)
    code = main(["export", "--model", "photon_id", "--run", str(run), "--out",
                 str(tmp_path / "prj"), "--events", "300"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "does not load objects from files" in err[0], err
    assert not marker.exists(), "the pickled payload ran"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared_run"]
