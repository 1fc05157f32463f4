"""A run's resolved config: the training length of a model counted in updates."""

from __future__ import annotations

import dataclasses

import pytest

from datrig.data.manifest import dataset_file
from datrig.data.reader import split_rows
from datrig.models import registry
from datrig.train.runs import resolve_config


@pytest.fixture
def in_updates(monkeypatch):
    """photon_id trained for 30 updates (the shipped model counts 10,560)."""

    def use(updates):
        spec = dataclasses.replace(registry.MODELS["photon_id"], default_updates=updates)
        monkeypatch.setitem(registry.MODELS, "photon_id", spec)

    return use


def test_a_smaller_sample_trains_more_epochs_for_the_same_updates(tiny_data, in_updates):
    in_updates(30)
    rows = split_rows(dataset_file(tiny_data, "photons", "sim"), "train")
    assert rows == 1200  # 60 % of 2000
    # 1200 rows in batches of 1024: 2 updates per epoch; of 500 rows, 1; of 256, 5
    assert resolve_config("photon_id", "ddt", tiny_data, 1).epochs == 15
    assert resolve_config("photon_id", "ddt", tiny_data, 1, n_train=500).epochs == 30
    assert resolve_config("photon_id", "ddt", tiny_data, 1, batch_size=256).epochs == 6
    in_updates(31)  # the last epoch is completed: 31 updates take 16 epochs of 2
    assert resolve_config("photon_id", "ddt", tiny_data, 1).epochs == 16


def test_epochs_asked_for_and_models_counted_in_epochs_are_kept(tiny_data, in_updates):
    in_updates(30)
    assert resolve_config("photon_id", "ddt", tiny_data, 1, epochs=4).epochs == 4
    in_updates(None)
    spec = registry.MODELS["photon_id"]
    assert resolve_config("photon_id", "ddt", tiny_data, 1).epochs == spec.default_epochs
    energy = registry.MODELS["photon_energy"]
    assert resolve_config("photon_energy", "disco", tiny_data, 1).epochs == energy.default_epochs


def test_the_shipped_photon_id_trains_60_epochs_of_180k_candidates():
    """The recipe's numbers (docs/decorrelation.md) were measured at 60 epochs of 180k."""
    spec = registry.MODELS["photon_id"]
    assert spec.default_updates == 60 * -(-180_000 // spec.default_batch_size)
