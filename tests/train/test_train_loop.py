from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from datrig.errors import DatrigError
from datrig.train import lifecycle, loop, step
from datrig.train.checkpoint import read_checkpoint
from datrig.train.loop import train


def _states_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        differ = int((a[key] != b[key]).sum())
        assert differ == 0, f"{key}: {differ} of {a[key].numel()} elements differ"


def test_same_seed_same_bytes(tiny_config, tmp_path):
    cfg = tiny_config()
    train(cfg, tmp_path / "a", progress=False)
    train(cfg, tmp_path / "b", progress=False)
    _states_equal(
        read_checkpoint(tmp_path / "a/checkpoint.pt")["state_dict"],
        read_checkpoint(tmp_path / "b/checkpoint.pt")["state_dict"],
    )
    for name in ("metrics.json", "curves.json", "config.json", "checkpoint.pt"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    with (
        h5py.File(tmp_path / "a/predictions_test.h5") as fa,
        h5py.File(tmp_path / "b/predictions_test.h5") as fb,
    ):
        np.testing.assert_array_equal(fa["output_quant"][:], fb["output_quant"][:])


def test_outputs_are_well_formed(tiny_config, tmp_path):
    metrics = train(tiny_config(), tmp_path, progress=False)
    files = {p.name for p in tmp_path.iterdir()}
    assert {"checkpoint.pt", "config.json", "curves.json", "curves.png", "metrics.json",
            "predictions_test.h5", "run.json"} <= files  # fmt: skip
    assert not [f for f in files if f.startswith(".datrig-tmp")]
    with h5py.File(tmp_path / "predictions_test.h5") as fh:
        n = len(fh["output_quant"])
        assert n == 600  # 300 sim + 300 data test rows
        assert fh["inputs"].shape == (n, 14) and fh["inputs"].dtype == np.float32
        assert fh["output_float"].shape == (n,)
        events = fh["events"][:]
        np.testing.assert_array_equal(events["domain"], np.repeat([0, 1], 300))
        assert {"iso_calo", "label", "pt"} <= set(events.dtype.names)
        assert dict(fh.attrs) == {"model": "photon_id", "da": "disco", "task": "classification",
                                  "output_kind": "logit", "protected": "iso_calo"}  # fmt: skip
        assert np.isfinite(fh["output_quant"][:]).all()
    for flavour in ("float", "quant"):
        for domain in ("sim", "data"):
            m = metrics[flavour][domain]
            assert 0 <= m["auc"] <= 1 and 0 <= m["rank_dcor_iso_calo_bkg"] <= 1
            assert m["rejection_at_80"] >= 1
    assert "auc_quant_minus_float_sim" in metrics["summary"]


def test_resume_after_interrupt_equals_uninterrupted(tiny_config, tmp_path, monkeypatch):
    cfg = tiny_config(da="adversarial", epochs=2, penalty_options={"warmup_epochs": 1})
    train(cfg, tmp_path / "straight", progress=False)

    calls = {"n": 0}
    original = step.Step.batch

    def crash_in_second_epoch(self, *args):
        calls["n"] += 1
        if calls["n"] == 6:  # 800 events / 256 per batch = 4 batches per epoch
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(step.Step, "batch", crash_in_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "resumed", progress=False)
    assert not (tmp_path / "resumed").exists()  # an unfinished run never looks like one
    partial = lifecycle.staging_dir(tmp_path / "resumed") / "checkpoint.pt"
    assert read_checkpoint(partial)["epoch"] == 1
    monkeypatch.setattr(step.Step, "batch", original)
    train(cfg, tmp_path / "resumed", resume=True, progress=False)
    a = read_checkpoint(tmp_path / "straight/checkpoint.pt")
    b = read_checkpoint(tmp_path / "resumed/checkpoint.pt")
    _states_equal(a["state_dict"], b["state_dict"])
    _states_equal(a["penalty"]["module"], b["penalty"]["module"])
    assert a["curves"] == b["curves"]


def test_resume_with_other_settings_is_refused(tiny_config, tmp_path):
    train(tiny_config(), tmp_path, progress=False)
    with pytest.raises(DatrigError, match=r"other settings or data \(lam: 5.0 -> 1.0\)"):
        train(tiny_config(lam=1.0), tmp_path, resume=True, progress=False)
    with pytest.raises(DatrigError, match=r"epochs: 1 -> 2.*--force"):
        train(tiny_config(epochs=2), tmp_path, resume=True, progress=False)


@pytest.mark.parametrize(
    ("model", "da", "shape"),
    [
        ("photon_energy", "disco", (600, 12)),
        ("diphoton", "none", (600, 10)),
        ("photon_id_gnn", "frt", (600, 1, 109)),  # the cell window as one node
    ],
)
def test_other_models_train(tiny_config, tmp_path, model, da, shape):
    metrics = train(tiny_config(model=model, da=da), tmp_path, progress=False)
    with h5py.File(tmp_path / "predictions_test.h5") as fh:
        assert fh["inputs"].shape == shape
    if model == "photon_energy":
        assert 0.5 < metrics["quant"]["data"]["median_response"] < 1.5
    if model == "diphoton":
        assert 0 <= metrics["quant"]["sim"]["jsd_mgg_50"] <= 1


def test_data_domain_labels_never_reach_the_loss(tiny_config):
    trainer = loop.Trainer(tiny_config(model="photon_energy", da="adversarial"), "unused")
    from datrig.da.registry import make_penalty
    from datrig.train import dataset as ds

    norm = ds.fit_for(trainer.spec, trainer.sim_path, 800)
    loaded = step.load_training_data(
        trainer.spec, trainer.cfg, trainer.sim_path, trainer.data_path, norm,
        make_penalty("adversarial"),
    )  # fmt: skip
    data = loaded.train.domain == 1
    assert data.sum() == 800 and loaded.uses_data_domain
    assert (loaded.train.label[data] == -1).all() and np.isnan(loaded.train.target[data]).all()
    assert (loaded.weights[data] == 0).all()
    assert torch.isfinite(torch.from_numpy(np.nan_to_num(loaded.train.target))).all()


def test_data_changed_during_training_is_an_error(tiny_config, tiny_data, tmp_path, monkeypatch):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    original = loop.Trainer.train_epoch

    def train_then_resimulate(self, *args):
        original(self, *args)
        with h5py.File(data / "photons_data.h5", "r+") as fh:
            fh.attrs["touched"] = 1

    monkeypatch.setattr(loop.Trainer, "train_epoch", train_then_resimulate)
    with pytest.raises(DatrigError, match="changed during training"):
        train(tiny_config(data_dir=str(data)), tmp_path / "run", progress=False)
    assert not (tmp_path / "run/metrics.json").exists()


def test_resume_on_resimulated_data_needs_force(tiny_config, tiny_data, tmp_path, monkeypatch):
    """Data re-simulated at the same path after an interruption: --resume refuses, naming
    the file; --force continues and the run records the new settings (issue 9.10)."""
    import json
    import shutil

    from datrig.sim.simulate import simulate

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    cfg = tiny_config(data_dir=str(data), epochs=2)
    original = loop.Trainer.train_epoch

    def stop_after_first(self, epoch, *args):
        if epoch == 1:
            raise KeyboardInterrupt
        return original(self, epoch, *args)

    monkeypatch.setattr(loop.Trainer, "train_epoch", stop_after_first)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "run", progress=False)
    monkeypatch.setattr(loop.Trainer, "train_epoch", original)
    simulate(data, 2000, 2000, seed=8, progress=False)  # same path, other events
    with pytest.raises(DatrigError, match=r"photons_sim.h5 \(sha256 differs\).*--force"):
        train(cfg, tmp_path / "run", resume=True, progress=False)
    train(cfg, tmp_path / "run", resume=True, progress=False, force=True)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["epochs"] == 2 and saved["data_dir"] == str(data)
