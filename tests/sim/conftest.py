"""A small but statistically meaningful toy dataset, simulated once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from datrig.sim.simulate import simulate

N_PHOTONS = 40_000  # per domain
N_DIPHOTON = 40_000  # per domain
SEED = int(os.environ.get("DATRIG_TOY_SEED", "11"))  # robustness checks: try other seeds


@pytest.fixture(scope="session")
def toy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("toy")
    simulate(out, N_PHOTONS, N_DIPHOTON, SEED, progress=False)
    return out
