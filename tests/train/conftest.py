"""One torch thread (the machine is shared; small models are faster single-threaded)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    from datrig.runtime import configure_torch

    configure_torch(1)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """The four default files, simulated with 2000 rows each (a second or two)."""
    from datrig.sim.simulate import simulate

    out = tmp_path_factory.mktemp("tiny_data")
    simulate(out, 2000, 2000, seed=7, progress=False)
    return out


@pytest.fixture
def tiny_config(tiny_data):
    from datrig.train.config import TrainConfig

    def make(model: str = "photon_id", da: str = "disco", **kwargs):
        defaults = {"lam": 5.0, "epochs": 1, "batch_size": 256, "n_train": 800, "n_test": 300}
        defaults = {"data_dir": str(tiny_data), "seed": 3, **defaults, **kwargs}
        return TrainConfig(model=model, da=da, **defaults)

    return make
