"""The firmware column: export the run's checkpoint, emulate it, reuse the project."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from datrig.errors import DatrigError
from datrig.firmware.run_firmware import firmware_outputs
from datrig.project.meta import FirmwareProject
from datrig.provenance import file_sha256
from datrig.train.predictions import load_predictions
from tests.validate.validate_toys import photon_id_runs, real_photon_id_run

ROOT = Path(__file__).resolve().parents[2]


def test_missing_checkpoint_says_what_to_do(tmp_path):
    preds = load_predictions(photon_id_runs(tmp_path, n=100)[0])
    with pytest.raises(DatrigError, match="--no-firmware"):
        firmware_outputs(preds, tmp_path / "proj", seed=0)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None, reason="hls4ml C-simulation needs g++")
def test_firmware_outputs_equal_brevitas_on_a_real_checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # firmware_configs/<model>.yml
    run = real_photon_id_run(tmp_path / "run", n=1500)
    preds = load_predictions(run)
    project = tmp_path / "proj"
    fw = firmware_outputs(preds, project, seed=1)
    differ = int(np.count_nonzero(fw != preds.output_quant))
    assert differ == 0, f"{differ} of {fw.size} events differ between firmware and Brevitas"
    meta = FirmwareProject.load(project).meta
    assert meta.source.kind == "checkpoint"
    assert meta.source.sha256 == file_sha256(run / "checkpoint.pt")
    stamp = (project / "emulator_ir.npz").stat().st_mtime_ns
    np.testing.assert_array_equal(firmware_outputs(preds, project, seed=1), fw)
    assert (project / "emulator_ir.npz").stat().st_mtime_ns == stamp  # reused, not re-exported


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None, reason="hls4ml C-simulation needs g++")
def test_validate_command_default_is_firmware(tmp_path, monkeypatch):
    from datrig.cli import main

    monkeypatch.chdir(ROOT)
    run = real_photon_id_run(tmp_path / "run", n=1200, seed=3)
    out = tmp_path / "report"
    assert main(["validate", "--model", "photon_id", "--runs", str(run), "--out", str(out)]) == 0
    entry = json.loads((out / "metrics.json").read_text())["photon_id"]["none"]
    assert entry["firmware_vs_quant"] == {"n_events_differ": 0, "max_abs_diff": 0.0}
    assert entry["firmware"] == entry["quant"]
    assert (out / "firmware" / "none" / "emulator_ir.npz").is_file()
    assert "Float vs firmware, none" in (out / "report.md").read_text()


def test_an_hls4ml_project_is_the_firmware_later_stages_use():
    """validate and calibrate see projects only through the Firmware protocol."""
    from datrig.project.meta import FirmwareProject
    from datrig.project.protocol import Firmware

    assert isinstance(FirmwareProject(Path("p"), None), Firmware)
