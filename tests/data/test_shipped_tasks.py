"""The shipped models as task files (tasks/*.yml): read by the same code as a user's task, on
the embedded toy (a ``toy`` source), with the registry model's inputs and recipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from datrig.data.task import load_task
from datrig.models.registry import get_model_spec
from datrig.models.task_spec import spec_for_task

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {"photon_id": "photon_id", "diphoton": "diphoton", "photon_energy": "photon_energy"}


@pytest.mark.parametrize("name", list(SHIPPED))
def test_a_shipped_task_file_is_the_registry_model(name):
    task = load_task(ROOT / "tasks" / f"{name}.yml")
    spec, model = spec_for_task(task), get_model_spec(SHIPPED[name])
    assert [(f.column, f.transform) for f in spec.inputs] == [
        (f.column, f.transform) for f in model.inputs
    ]
    assert (spec.task, spec.protected, spec.condition, spec.shipped_da) == (
        model.task, model.protected, model.condition, model.shipped_da
    )  # fmt: skip
    assert (spec.hidden, spec.compensation_hidden, spec.default_bits) == (
        model.hidden, model.compensation_hidden, model.default_bits
    )  # fmt: skip
    assert spec.default_resource_lam == model.default_resource_lam
    assert (spec.default_updates, spec.default_batch_size, spec.default_lr_schedule) == (
        model.default_updates, model.default_batch_size, model.default_lr_schedule
    )  # fmt: skip
    if model.default_updates is None:  # else the training length is counted in updates
        assert spec.default_epochs == model.default_epochs
    assert task.sources["sim"].toy and task.sources["data"].truth  # the toy's data has truth


def test_the_photon_id_task_trains_on_a_toy_dataset(tmp_path):
    from datrig.sim.simulate import simulate

    simulate(tmp_path / "toy", 3000, 100, n_resonance=100, seed=3, progress=False)
    proc = subprocess.run(
        [sys.executable, "-m", "datrig.cli", "qat", "--task", str(ROOT / "tasks/photon_id.yml"),
         "--toy-data", str(tmp_path / "toy"), "--epochs", "1", "--out", "run", "--quiet"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
        text=True, check=False, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    config = json.loads((tmp_path / "run/config.json").read_text())
    assert config["da"] == "ddt" and config["task"]["name"] == "photon_id_task"
    metrics = json.loads((tmp_path / "run/metrics.json").read_text())
    assert "auc" in metrics["quant"]["data"]  # the toy's data has truth: its figures exist
