"""`datrig calibrate` end to end on a real (tiny) run: firmware scores, files, bad input."""

from __future__ import annotations

import json
import shutil
import signal

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


def _argv(run, sample, out, *extra: str) -> list[str]:
    return ["calibrate", "--run", str(run), "--data", str(sample), "--out", str(out),
            "--replicas", "20", "--seed", "3", "--control-efficiency", "0.98", *extra]  # fmt: skip


@pytest.fixture(scope="module")
def calibrated(photon_id_project, sample, tmp_path_factory):
    """A finished calibration of the tiny run (its project exported into firmware/none)."""
    out = tmp_path_factory.mktemp("calibrated") / "cal"
    assert main(_argv(photon_id_project.run, sample, out)) == 0
    return out


def test_calibrate_writes_its_measurement_on_firmware_outputs(photon_id_project, sample,
                                                              calibrated):  # fmt: skip
    out = calibrated
    for name in ("calibration.json", "per_event.h5", "report.md", "abcd_r_vs_pt.png",
                 "closure_pulls.png", "scale_factors.png", "calibrate.json"):  # fmt: skip
        assert (out / name).is_file(), name
    marker = json.loads((out / "calibrate.json").read_text())
    assert marker["stage"] == "calibrate" and marker["seed"] == 3
    assert [p.name for p in out.parent.iterdir()] == ["cal"]  # no staging or lock left
    doc = json.loads((out / "calibration.json").read_text())["none"]
    assert doc["n_events"] == {"sim": 30_000, "data": 30_000}
    assert [len(doc["bins"][b]) for b in ("pt", "pt_eta", "cluster")] == [3, 6, 4]
    from datrig.project.meta import FirmwareProject

    assert doc["project"] == "firmware/none"  # relative to the calibration, not staging
    project = FirmwareProject.load(out / doc["project"])  # exported first: the run had none
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


# -- trust and integrity (issue 18) -------------------------------------------------------------


def _one_line(capsys) -> str:
    """The error: one line, the last (progress lines of the work before it may precede it)."""
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if "error" in line.lower() or "Traceback" in line]
    assert len(errors) == 1 and err[-1] == errors[0], err
    return err[-1]


def _tree(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_s5_a_run_naming_a_path_as_its_method_writes_nothing_there(photon_id_project, sample,
                                                                   tmp_path, capsys):  # fmt: skip
    """calibrate built out/"firmware"/config["da"]: a run whose config.json says "da":
    "/abs/x" made it write a project at /abs/x."""
    run, escaped = tmp_path / "run", tmp_path / "escaped"
    shutil.copytree(photon_id_project.run, run)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "da": str(escaped)}))
    assert main(_argv(run, sample, tmp_path / "cal")) == 2
    assert "is not a valid name" in _one_line(capsys)
    assert not escaped.exists() and not (tmp_path / "cal").exists()


def test_s6_calibrate_does_not_run_a_checkpoint_payload(photon_id_project, sample, tmp_path,
                                                        capsys, monkeypatch):  # fmt: skip
    """The checkpoint payload ran during `datrig calibrate` too (exit 0); and a failed
    calibrate left out/firmware/<da>/ behind."""
    from tests.project_fixture import plant_checkpoint_payload

    monkeypatch.chdir(tmp_path)  # no hls_projects/photon_id here: the run is exported
    run, marker = tmp_path / "run", tmp_path / "payload-ran"
    shutil.copytree(photon_id_project.run, run)
    plant_checkpoint_payload(run, marker)
    assert main(_argv(run, sample, tmp_path / "cal")) == 2
    assert "does not load objects from files" in _one_line(capsys)
    assert not marker.exists(), "the pickled payload ran"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no cal/, no firmware/


def _refused(photon_id_project, sample, out, capsys) -> None:
    before = _tree(out.parent)
    assert main(_argv(photon_id_project.run, sample, out)) == 2
    assert "nothing was changed" in _one_line(capsys)
    assert _tree(out.parent) == before


def test_l2_calibrate_refuses_a_foreign_folder(photon_id_project, sample, tmp_path, capsys):
    """report.md and per_event.h5 of a user's folder were overwritten."""
    out = tmp_path / "analysis"
    out.mkdir()
    for name in ("report.md", "per_event.h5"):
        (out / name).write_text("mine")
    _refused(photon_id_project, sample, out, capsys)
    assert (out / "report.md").read_text() == "mine"


def test_l3_calibrate_refuses_a_dataset(photon_id_project, sample, tmp_path, capsys):
    out = tmp_path / "data"
    shutil.copytree(sample, out)
    _refused(photon_id_project, sample, out, capsys)


def test_l4_calibrate_refuses_an_hls_project(photon_id_project, sample, tmp_path, capsys):
    """The project's firmware report.md was replaced by the calibration's."""
    out = tmp_path / "prj"
    shutil.copytree(photon_id_project.project, out)
    (out / "report.md").write_text("# Firmware report")  # datrig report's, a derived file
    _refused(photon_id_project, sample, out, capsys)
    assert (out / "report.md").read_text() == "# Firmware report"


def test_l5_calibrate_refuses_a_qat_run(photon_id_project, sample, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(photon_id_project.run, out)
    _refused(photon_id_project, sample, out, capsys)


def test_l9_a_killed_calibrate_keeps_the_previous_calibration(photon_id_project, sample,
                                                              calibrated, tmp_path):  # fmt: skip
    """SIGKILL mid-write left calibration.json and per_event.h5 of the new seed beside the
    report and plots of the old one, plus an empty temporary PNG. Now the calibration is one
    staged folder: the previous one survives whole, and the next writer sweeps the rest."""
    from datrig.atomic import TMP_PREFIX, sweep_stale
    from tests.test_integrity import digest, start, stop

    out = tmp_path / "cal"
    shutil.copytree(calibrated, out)  # its firmware/none is reused: no export in the child
    before = digest(out)
    proc = start(*_argv(photon_id_project.run, sample, out, "--seed", "4"),
                 pause_at="calibrate:wrote-per-event")  # fmt: skip
    assert stop(proc, signal.SIGKILL) == -signal.SIGKILL
    assert digest(out) == before, "the previous calibration was changed"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "cal"]
    assert leftovers and all(n.startswith(TMP_PREFIX) or n.endswith("lock") for n in leftovers)
    sweep_stale(tmp_path)  # what the next writer does first
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(TMP_PREFIX)] == []


def test_peers_are_measured_on_the_same_candidates(calibrated):
    """The peers' scores per candidate are stored next to the firmware's, and the plane's R80
    of each method follows from them (80 % of simulated photons pass; fakes' pass fraction)."""
    doc = json.loads((calibrated / "calibration.json").read_text())
    points = {p["method"]: p for p in doc["plane"]["control_band"]}
    measured = set(doc["peers"])
    assert "none" in points and {"cut_based", "gbdt"} <= measured
    assert set(points) == {"none", *measured}
    assert set(doc["peers_not_measured"]) | measured == {
        "cut_based", "gbdt", "gbdt_ddt", "flat_bdt", "flat_bdt_pt"}  # fmt: skip
    assert (calibrated / "calibration_plane.png").is_file()
    assert "Every method on the same candidates" in (calibrated / "report.md").read_text()
    with h5py.File(calibrated / "per_event.h5") as fh:
        for name in measured:
            score = fh[f"peers/{name}/sim/score"][:]
            label = fh["none/sim/label"][:]
            assert score.shape == label.shape
            cut = np.sort(score[label == 1])[::-1][int(np.ceil(0.8 * np.sum(label == 1))) - 1]
            expected = 1.0 / np.mean(score[label == 0] >= cut)
            assert points[name]["rejection80_sim"] == pytest.approx(expected), name
