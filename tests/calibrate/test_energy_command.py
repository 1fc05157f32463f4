"""`datrig calibrate --energy` end to end on a real (tiny) energy run: firmware energies of the
resonance photons, the staged artefact, per_event.h5, bad input."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest

from datrig.cli import main


@pytest.fixture(scope="module")
def energy_case(tmp_path_factory):
    """A tiny photon_energy run and a sample with a resonance file of 8,000 events/domain."""
    if shutil.which("g++") is None:
        pytest.skip("hls4ml's C-simulation needs g++")
    from datrig.runtime import configure_torch
    from datrig.sim.simulate import simulate
    from datrig.train.config import TrainConfig
    from datrig.train.loop import train

    configure_torch(1)
    root = tmp_path_factory.mktemp("energy_case")
    simulate(root / "data", 2000, 10, seed=7, progress=False, n_resonance=10)
    simulate(root / "sample", 10, 10, seed=8, progress=False, n_resonance=8000)
    cfg = TrainConfig(model="photon_energy", da="none", epochs=2, batch_size=256, n_train=1000,
                      data_dir=str(root / "data"), seed=5)  # fmt: skip
    train(cfg, root / "run", progress=False)
    return root


def _argv(case, out, *extra: str) -> list[str]:
    return ["calibrate", "--energy", "--run", str(case / "run"), "--data", str(case / "sample"),
            "--out", str(out), "--seed", "2", *extra]  # fmt: skip


def test_energy_calibration_on_firmware_energies(energy_case, tmp_path):
    out = tmp_path / "cal"
    assert main(_argv(energy_case, out)) == 0
    for name in ("energy_calibration.json", "per_event.h5", "report.md", "energy_closure.png",
                 "energy_mass.png", "calibrate.json"):  # fmt: skip
        assert (out / name).is_file(), name
    assert json.loads((out / "calibrate.json").read_text())["stage"] == "calibrate"
    assert [p.name for p in tmp_path.iterdir()] == ["cal"]  # no staging or lock left
    doc = json.loads((out / "energy_calibration.json").read_text())
    assert doc["n_photons"] == {"sim": 16_000, "data": 16_000}
    assert doc["project"] == "firmware/none"  # exported: the run had none
    assert len(doc["bins"]) == 5 and "max_abs_data_minus_sim_after" in doc["summary"]
    from datrig.metrics.energy_bins import eta_bin
    from datrig.project.meta import FirmwareProject

    project = FirmwareProject.load(out / doc["project"])
    with h5py.File(out / "per_event.h5") as fh:
        cols = {k: fh[k][:] for k in ("e_true", "e_firmware", "e_corrected", "eta", "domain")}
    assert np.array_equal(cols["domain"], np.repeat([0, 1], 16_000))
    for code, domain in ((0, "sim"), (1, "data")):
        path = energy_case / "sample" / f"resonance_{domain}.h5"
        with h5py.File(path) as fh:
            rows = fh["candidates"][:]
        x = project.meta.inputs.normalisation.network_inputs(path).astype(np.float64)
        firmware = rows["e_raw"].astype(np.float64) * project.emulate(x)[:, 0]
        sel = cols["domain"] == code
        np.testing.assert_array_equal(cols["e_firmware"][sel], firmware.astype(np.float32))
        np.testing.assert_array_equal(cols["e_true"][sel], rows["e_true"])
    # sim is the reference; each data photon is divided by its |eta| bin's measured scale
    sim, data = cols["domain"] == 0, cols["domain"] == 1
    assert np.array_equal(cols["e_corrected"][sim], cols["e_firmware"][sim])
    scales = np.array([b["scale"]["value"] for b in doc["bins"]])
    bins = eta_bin(np.abs(cols["eta"][data]))
    np.testing.assert_allclose(
        cols["e_corrected"][data], cols["e_firmware"][data] / scales[bins], rtol=1e-6
    )
    assert main(_argv(energy_case, out)) == 0  # the same seed: the same numbers
    assert json.loads((out / "energy_calibration.json").read_text()) == doc


def test_bad_input_is_one_line(energy_case, tmp_path, capsys):
    run = energy_case / "run"
    assert main(["calibrate", "--energy", "--run", str(run), str(run), "--out",
                 str(tmp_path / "o")]) == 2  # fmt: skip
    assert "--energy calibrates one run at a time" in capsys.readouterr().err
    old = tmp_path / "old"
    shutil.copytree(energy_case / "sample", old)
    manifest = json.loads((old / "simulate.json").read_text())
    for domain in ("sim", "data"):  # as a dataset of an older datrig
        del manifest["files"][f"resonance_{domain}.h5"]
        (old / f"resonance_{domain}.h5").unlink()
    (old / "simulate.json").write_text(json.dumps(manifest))
    argv = ["calibrate", "--energy", "--run", str(run), "--data", str(old), "--out",
            str(tmp_path / "o")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert any("has no resonance sample, only diphoton + photons" in line for line in err)
    assert not (tmp_path / "o").exists()
    other = tmp_path / "id_run"
    shutil.copytree(run, other)
    with h5py.File(other / "predictions_test.h5", "r+") as fh:
        fh.attrs["model"] = "photon_id"
    assert main(["calibrate", "--energy", "--run", str(other), "--out", str(tmp_path / "o")]) == 2
    assert "calibrate --energy measures the energy scale" in capsys.readouterr().err
