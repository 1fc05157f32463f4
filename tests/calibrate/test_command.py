"""`datrig calibrate` end to end on a real (tiny) run: firmware scores, files, bad input."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest

from datrig.cli import main


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from datrig.sim.simulate import simulate

    out = tmp_path_factory.mktemp("calib_data")
    simulate(out, 30_000, 100, seed=21, progress=False)
    return out


def test_calibrate_writes_its_measurement_on_firmware_outputs(photon_id_project, sample, tmp_path):
    out = tmp_path / "cal"
    argv = ["calibrate", "--run", str(photon_id_project.run), "--data", str(sample),
            "--out", str(out), "--replicas", "20", "--seed", "3",
            "--control-efficiency", "0.98"]  # fmt: skip
    assert main(argv) == 0
    for name in ("calibration.json", "per_event.h5", "report.md", "abcd_r_vs_pt.png",
                 "closure_pulls.png", "scale_factors.png"):  # fmt: skip
        assert (out / name).is_file(), name
    doc = json.loads((out / "calibration.json").read_text())["none"]
    assert doc["n_events"] == {"sim": 30_000, "data": 30_000}
    assert [len(doc["bins"][b]) for b in ("pt", "pt_eta", "cluster")] == [3, 6, 4]
    from datrig.project.meta import FirmwareProject

    project = FirmwareProject.load(doc["project"])  # exported first: the run had none
    with h5py.File(out / "per_event.h5") as fh:
        score = fh["none/data/score"][:]
        assert fh["none/data/label"].shape == (30_000,)
    x = project.read_inputs(sample / "photons_data.h5")
    np.testing.assert_array_equal(score, project.emulate(x)[:, 0])
    assert np.array_equal(project.csim(x[:2000])[:, 0], score[:2000])  # == the C-simulation


def test_a_non_photon_id_run_and_missing_fields_are_one_line(photon_id_project, sample, tmp_path,
                                                              capsys):  # fmt: skip
    run = tmp_path / "run"
    shutil.copytree(photon_id_project.run, run)
    with h5py.File(run / "predictions_test.h5", "r+") as fh:
        fh.attrs["model"] = "diphoton"
    assert main(["calibrate", "--run", str(run), "--data", str(sample), "--out",
                 str(tmp_path / "o")]) == 2  # fmt: skip
    assert "calibrate measures photon-ID calibrations" in capsys.readouterr().err
    broken = tmp_path / "broken"
    shutil.copytree(sample, broken)
    (broken / "simulate.json").unlink()  # a user's own files
    with h5py.File(broken / "photons_data.h5", "r+") as fh:
        rows = fh["candidates"][:]
        names = [n for n in rows.dtype.names if n != "iso_calo"]
        del fh["candidates"]
        fh.create_dataset("candidates", data=rows[names].copy())
    code = main(["calibrate", "--run", str(photon_id_project.run), "--data", str(broken),
                 "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "lacks field(s) iso_calo" in err[-1]
    assert not (tmp_path / "o" / "report.md").exists()


@pytest.mark.parametrize(
    ("option", "value", "match"),
    [("--control-efficiency", "1.5", "must be a fraction between 0 and 1"),
     ("--id-efficiency", "nan", "must be a finite number")],
)  # fmt: skip
def test_efficiencies_must_be_fractions(option, value, match, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", "--run", str(tmp_path), option, value])
    assert exc.value.code == 2 and match in capsys.readouterr().err


def test_control_band_must_lie_below_the_id(photon_id_project, tmp_path, capsys):
    argv = ["calibrate", "--run", str(photon_id_project.run), "--out", str(tmp_path / "o"),
            "--id-efficiency", "0.9", "--control-efficiency", "0.85"]  # fmt: skip
    assert main(argv) == 2
    assert "must be above --id-efficiency" in capsys.readouterr().err
