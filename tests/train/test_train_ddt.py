"""Training the compensated photon ID with the learned DDT (datrig.da.ddt) end to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from datrig.errors import DatrigError
from datrig.train.checkpoint import read_checkpoint
from datrig.train.loop import train


def _copy_without_manifest(src, dst, permute_data_labels: bool):
    """The dataset as a user's folder (no manifest, so an edited file is accepted), with the
    data domain's truth labels shuffled if asked."""
    dst.mkdir()
    for name in ("photons_sim.h5", "photons_data.h5"):
        shutil.copy(src / name, dst / name)
    if permute_data_labels:
        with h5py.File(dst / "photons_data.h5", "r+") as fh:
            rows = fh["candidates"][:]
            rows["label"] = np.random.default_rng(5).permutation(rows["label"])
            fh["candidates"][...] = rows
    return dst


def test_ddt_run_never_reads_the_data_labels(tiny_data, tiny_config, tmp_path):
    """The domain term uses unlabelled data: shuffling the data labels in the file changes
    nothing the training produced (the test metrics, which do read them, aside)."""
    states = []
    for permute in (False, True):
        data = _copy_without_manifest(tiny_data, tmp_path / f"data{permute}", permute)
        cfg = tiny_config(da="ddt", lam=1.0, epochs=2, data_dir=str(data),
                          penalty_options={"refit_epochs": 2})  # fmt: skip
        train(cfg, tmp_path / f"run{permute}", progress=False)
        payload = read_checkpoint(tmp_path / f"run{permute}/checkpoint.pt")
        states.append((payload["state_dict"], payload["penalty"]["module"]))
    for a, b in zip(states[0], states[1], strict=True):
        for key in a:
            differ = int((a[key] != b[key]).sum())
            assert differ == 0, f"{key}: {differ} of {a[key].numel()} elements differ"


def test_ddt_run_is_a_compensated_model_with_a_refitted_rate(tiny_config, tmp_path):
    options = {"refit_epochs": 2, "table_bins": 0}  # the learned compensation branch
    cfg = tiny_config(da="ddt", lam=1.0, epochs=2, penalty_options=options)
    metrics = train(cfg, tmp_path, progress=False)
    payload = read_checkpoint(tmp_path / "checkpoint.pt")
    comp = payload["model_config"]["compensation"]
    assert comp["hidden"] and comp["inputs"] == [11, 13]  # log pT and iso_calo
    assert 13 not in comp["score_inputs"]
    assert payload["finished"] is True
    rate = float(payload["penalty"]["module"]["fake_rate"])
    assert 0.0 < rate < 1.0
    assert metrics["quant"]["sim"]["auc"] > 0.5


def test_the_refit_reads_the_validation_events_or_with_refit_train_also_the_training_ones(
    tiny_config, tmp_path, monkeypatch
):
    """The compensation's refit sees the validation split; with ``refit_train=1`` also the
    train split, capped as in training (docs/decorrelation.md: what that changes)."""
    from datrig.da.ddt import LearnedDdtPenalty
    from datrig.data.manifest import dataset_file
    from datrig.data.reader import open_dataset
    from datrig.data.splits import split_slice

    seen = []
    monkeypatch.setattr(
        LearnedDdtPenalty, "after_training", lambda self, m, events, seed: seen.append(events)
    )
    for refit_train in (1, 0):  # 0 is the default
        options = {"refit_epochs": 1, "refit_train": refit_train, "table_bins": 0}
        cfg = tiny_config(da="ddt", lam=1.0, epochs=1, n_train=300, penalty_options=options)
        train(cfg, tmp_path / f"run{refit_train}", progress=False)
    n = open_dataset(dataset_file(Path(cfg.data_dir), "photons", "sim")).n_rows
    n_val = len(range(n)[split_slice(n, "val")])
    assert [len(e.label) for e in seen] == [300 + n_val, n_val]
    assert all(e.inputs is not None and len(e.inputs) == len(e.label) for e in seen)
    assert LearnedDdtPenalty(table_bins=0).refit_splits() == ("val",)
    assert LearnedDdtPenalty().refit_splits() == ("train", "val")  # the default table
    with pytest.raises(DatrigError, match="refit_train must be 0 or 1"):
        LearnedDdtPenalty(refit_train=0.5, table_bins=0)


def test_a_table_ddt_run_has_no_compensation_units_and_a_fitted_table(tiny_config, tmp_path):
    """``table_bins``: the score is trained alone and the table fitted after the last epoch,
    stored in the checkpoint (the same bytes from the same seed) and in every output."""
    import torch

    from datrig.models import threshold_table as tt
    from datrig.train.checkpoint import load_checkpoint

    cfg = tiny_config(da="ddt", lam=1.0, epochs=2, penalty_options={"table_bins": 3})
    for name in ("a", "b"):
        train(cfg, tmp_path / name, progress=False)
    payload = read_checkpoint(tmp_path / "a/checkpoint.pt")
    comp = payload["model_config"]["compensation"]
    assert comp["hidden"] == [] and comp["table"] is True and comp["inputs"] == [11, 13]
    state, other = payload["state_dict"], read_checkpoint(tmp_path / "b/checkpoint.pt")
    for key in tt.BUFFERS:
        assert state[key].shape[0] >= 2 and torch.equal(state[key], other["state_dict"][key])
    loaded = load_checkpoint(tmp_path / "a/checkpoint.pt")
    with h5py.File(tmp_path / "a/predictions_test.h5") as fh:
        x, saved = fh["inputs"][:], fh["output_quant"][:].reshape(-1)
    with torch.no_grad():
        terms = loaded.model.eval().forward_terms(torch.from_numpy(x).float())
    assert np.array_equal(saved, terms.output.numpy().astype(np.float32))
    assert not np.array_equal(saved, terms.task.numpy().astype(np.float32))  # T is applied
