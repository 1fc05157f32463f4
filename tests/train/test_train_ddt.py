"""Training the compensated photon ID with the learned DDT (datrig.da.ddt) end to end."""

from __future__ import annotations

import shutil

import h5py
import numpy as np

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
    cfg = tiny_config(da="ddt", lam=1.0, epochs=2, penalty_options={"refit_epochs": 2})
    metrics = train(cfg, tmp_path, progress=False)
    payload = read_checkpoint(tmp_path / "checkpoint.pt")
    comp = payload["model_config"]["compensation"]
    assert comp["hidden"] and comp["inputs"] == [11, 13]  # log pT and iso_calo
    assert 13 not in comp["score_inputs"]
    assert payload["finished"] is True
    rate = float(payload["penalty"]["module"]["fake_rate"])
    assert 0.0 < rate < 1.0
    assert metrics["quant"]["sim"]["auc"] > 0.5
