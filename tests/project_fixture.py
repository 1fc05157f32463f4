"""A real exported photon_id project from a tiny run (one g++ build per test session),
shared by the project, export-integrity and calibration tests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class ProjectCase:
    data: Path  # the run's dataset (seed 7)
    other_data: Path  # a sample the project never saw (seed 99)
    run: Path
    project: Path


@pytest.fixture(scope="session")
def photon_id_project(tmp_path_factory: pytest.TempPathFactory) -> ProjectCase:
    if shutil.which("g++") is None:
        pytest.skip("hls4ml's C-simulation needs g++")
    from datrig.export.project import export_checkpoint
    from datrig.project.config import FirmwareConfig, VerificationSettings
    from datrig.project.inputs import read_inputs
    from datrig.runtime import configure_torch
    from datrig.sim.simulate import simulate
    from datrig.train.config import TrainConfig
    from datrig.train.loop import train

    configure_torch(1)
    root = tmp_path_factory.mktemp("project_case")
    simulate(root / "data", 2000, 200, seed=7, progress=False)
    simulate(root / "other", 1500, 200, seed=99, progress=False)
    cfg = TrainConfig(model="photon_id", da="none", epochs=2, batch_size=256, n_train=1000,
                      n_test=None, data_dir=str(root / "data"), seed=5)  # fmt: skip
    train(cfg, root / "run", progress=False)
    fw = FirmwareConfig(model="photon_id", verification=VerificationSettings(n_events=500))
    calib = read_inputs(root / "run" / "predictions_test.h5", limit=500)
    export_checkpoint(root / "run" / "checkpoint.pt", root / "prj", fw, calib_inputs=calib)
    return ProjectCase(root / "data", root / "other", root / "run", root / "prj")


class _Payload:
    """What a crafted checkpoint pickles: unpickled with code execution allowed, it calls
    ``open(marker, "w")`` (a harmless stand-in for ``os.system``), creating the marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def plant_checkpoint_payload(run: Path, marker: Path) -> None:
    """Rewrite ``run/checkpoint.pt`` as a crafted run someone shares: a real checkpoint whose
    ``epoch`` is a pickled payload that creates ``marker`` if it ever runs."""
    import torch

    payload = torch.load(run / "checkpoint.pt", weights_only=True)
    payload["epoch"] = _Payload(str(marker))
    torch.save(payload, run / "checkpoint.pt")
