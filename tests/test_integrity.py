"""Nothing lost, nothing incomplete looks complete: real `datrig` processes are stopped with
SIGTERM or SIGKILL between the steps of `simulate`, `qat` and `export` (at the named pause
points of :mod:`datrig.faults`), and the previous good artefact must survive intact.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datrig.atomic import TMP_PREFIX
from datrig.cli import main
from datrig.models.registry import get_model_spec


def start(*argv: str, pause_at: str) -> subprocess.Popen:
    """``datrig ARGV`` in a new process that waits at ``pause_at``."""
    env = {**os.environ, "DATRIG_PAUSE_AT": pause_at}
    proc = subprocess.Popen([sys.executable, "-m", "datrig.cli", *argv],
                            stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    for line in proc.stderr:
        if line.startswith(f"datrig-paused-at {pause_at}"):
            return proc
    proc.wait(timeout=60)
    raise AssertionError(f"datrig never reached {pause_at} (exit {proc.returncode})")


def stop(proc: subprocess.Popen, sig: int) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout=60)


def digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (relative path -> hash)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def temporaries(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(TMP_PREFIX)]


# -- simulate ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
@pytest.mark.parametrize("point", ["wrote-photons_data.h5", "before-swap"])
def test_simulate_interrupted_keeps_the_previous_dataset(tmp_path, sig, point):
    out = tmp_path / "data"
    assert main(["simulate", "--out", str(out), "--n", "300", "--seed", "9", "--quiet"]) == 0
    before = digest(out)
    proc = start("simulate", "--out", str(out), "--n", "300", "--seed", "11", "--quiet",
                 pause_at=f"simulate:{point}")  # fmt: skip
    code = stop(proc, sig)
    assert code == (143 if sig == signal.SIGTERM else -signal.SIGKILL)
    assert digest(out) == before, "the previous dataset was changed"
    if sig == signal.SIGTERM:
        assert temporaries(tmp_path) == []
    # the next writer sweeps a killed writer's leftovers, and the new dataset is one piece
    assert main(["simulate", "--out", str(out), "--n", "300", "--seed", "11", "--quiet"]) == 0
    assert temporaries(tmp_path) == []
    from datrig.data.manifest import dataset_file
    from datrig.data.reader import open_dataset

    seeds = {open_dataset(dataset_file(out, k, d)).seed for k in ("photons", "diphoton")
             for d in ("sim", "data")}  # fmt: skip
    assert seeds == {11}


def test_simulate_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "thesis.tex").write_text("mine")
    assert main(["simulate", "--out", str(notes), "--n", "50", "--quiet"]) == 2
    assert "datrig did not write" in capsys.readouterr().err
    assert [p.name for p in notes.iterdir()] == ["thesis.tex"]


# -- qat --------------------------------------------------------------------------------------


def _qat(data: Path, out: Path, *extra: str) -> list[str]:
    return ["qat", "--model", "photon_id", "--da", "none", "--data", str(data), "--out", str(out),
            "--n-train", "600", "--n-test", "200", "--batch-size", "256", "--seed", "2",
            "--quiet", *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("sig", "point"),
    [(signal.SIGKILL, "qat:saved-epoch-1"), (signal.SIGTERM, "qat:before-swap")],
)
def test_qat_interrupted_keeps_the_previous_run_and_resumes(
    photon_id_project, tmp_path, sig, point
):
    data, run = photon_id_project.data, tmp_path / "run"
    assert main(_qat(data, run, "--epochs", "1")) == 0
    before = digest(run)
    proc = start(*_qat(data, run, "--epochs", "2", "--lr", "0.002"), pause_at=point)
    stop(proc, sig)
    assert digest(run) == before, "the previous complete run was changed"
    # the interrupted run continues from its last checkpoint and then replaces the old one
    assert main(_qat(data, run, "--epochs", "2", "--lr", "0.002", "--resume")) == 0
    from datrig.train.checkpoint import read_checkpoint

    payload = read_checkpoint(run / "checkpoint.pt")
    assert payload["epoch"] == 2 and payload["complete"]
    assert (run / "run.json").is_file() and digest(run) != before


def test_l1_two_qat_runs_to_one_out_are_serialised(photon_id_project, tmp_path):
    """Two qat runs to one --out both exited 0 leaving a run.json without a checkpoint: the
    second deleted the first's staging folder. Now the second waits for the destination's
    lock; here the first is then terminated, and the second writes one complete run."""
    data, run = photon_id_project.data, tmp_path / "run"
    first = start(*_qat(data, run, "--epochs", "1"), pause_at="qat:saved-epoch-1")
    second = subprocess.Popen([sys.executable, "-m", "datrig.cli",
                               *_qat(data, run, "--epochs", "1", "--seed", "3")],
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    for line in second.stderr:  # it waits for the first instead of sharing its staging folder
        if "waiting for another datrig process" in line:
            break
    assert (tmp_path / ".run.datrig-partial" / "checkpoint.pt").is_file()  # the first's, intact
    assert stop(first, signal.SIGTERM) == 143
    assert second.wait(timeout=120) == 0
    from datrig.train.checkpoint import read_checkpoint

    assert read_checkpoint(run / "checkpoint.pt")["train_config"]["seed"] == 3
    assert (run / "run.json").is_file() and temporaries(tmp_path) == []


def test_qat_refuses_a_file_or_a_foreign_folder_as_out(photon_id_project, tmp_path, capsys):
    data = photon_id_project.data
    mine = tmp_path / "results.txt"
    mine.write_text("keep me")
    for out in (mine, tmp_path):
        assert main(_qat(data, out, "--epochs", "1")) == 2
        assert "datrig" in capsys.readouterr().err
    assert mine.read_text() == "keep me"


# -- export -----------------------------------------------------------------------------------


def _export(case, out: Path, *extra: str) -> list[str]:
    return ["export", "--model", "photon_id", "--run", str(case.run), "--out", str(out),
            "--events", "300", *extra]  # fmt: skip


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
@pytest.mark.parametrize("point", ["compiled", "before-swap"])
def test_export_interrupted_keeps_the_verified_project(photon_id_project, tmp_path, sig, point):
    case = photon_id_project
    project = tmp_path / "prj"
    shutil.copytree(case.project, project)
    before = digest(project)
    proc = start(*_export(case, project), pause_at=f"export:{point}")
    stop(proc, sig)
    assert digest(project) == before
    if sig == signal.SIGTERM:
        assert temporaries(tmp_path) == []
    from datrig.project.meta import FirmwareProject

    reloaded = FirmwareProject.load(project)  # still a working project, moved and all
    x = reloaded.read_inputs(case.other_data / "photons_sim.h5", limit=200)
    assert reloaded.verify(x).ok


def test_concurrent_exports_of_one_destination_are_serialised(photon_id_project, tmp_path):
    case = photon_id_project
    project = tmp_path / "prj"
    first = start(*_export(case, project), pause_at="export:compiled")
    second = subprocess.Popen([sys.executable, "-m", "datrig.cli", *_export(case, project)],
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    for line in second.stderr:  # the second one waits for the first
        if "waiting for another datrig process" in line:
            break
    os.kill(first.pid, signal.SIGTERM)  # the first gives up; the second proceeds
    assert first.wait(timeout=60) == 143
    assert second.wait(timeout=120) == 0
    from datrig.project.meta import FirmwareProject

    assert FirmwareProject.load(project).meta.verification["emulator_vs_csim"].ok
    assert temporaries(tmp_path) == []


@pytest.mark.parametrize("what", ["run", "foreign", "file", "dot"])
def test_export_never_replaces_what_is_not_a_project(photon_id_project, tmp_path, what, capsys,
                                                     monkeypatch):  # fmt: skip
    case = photon_id_project
    if what == "run":
        out = tmp_path / "run"
        shutil.copytree(case.run, out)
    elif what == "foreign":
        out = tmp_path / "analysis"
        out.mkdir()
        (out / "fit.C").write_text("// mine")
    elif what == "file":
        out = tmp_path / "notes.txt"
        out.write_text("mine")
    else:
        monkeypatch.chdir(tmp_path)
        (tmp_path / "README").write_text("mine")
        out = Path(".")
    before = digest(tmp_path)
    assert main(_export(case, out)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and any(
        why in err[0] for why in ("datrig did not write", "not a folder", "working directory")
    ), err
    assert digest(tmp_path) == before


def test_export_of_a_run_of_another_model_is_refused(photon_id_project, tmp_path, capsys):
    case = photon_id_project
    code = main(["export", "--model", "diphoton", "--run", str(case.run),
                 "--out", str(tmp_path / "prj")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "holds a photon_id model, not diphoton" in err
    assert not (tmp_path / "prj").exists()


def test_same_seed_same_project_bytes(photon_id_project, tmp_path):
    """Deterministic export: the library name, sources, IR and metadata are reproducible."""
    case = photon_id_project
    for name in ("a", "b"):
        assert main(_export(case, tmp_path / name, "--seed", "4")) == 0
    a, b = digest(tmp_path / "a"), digest(tmp_path / "b")
    assert a.keys() == b.keys()
    differ = sorted(k for k in a if a[k] != b[k])
    assert differ == [], differ
    from datrig.project.meta import FirmwareProject

    x = np.zeros((1, len(get_model_spec("photon_id").feature_names)))
    assert FirmwareProject.load(tmp_path / "a").csim(x) == FirmwareProject.load(
        tmp_path / "b"
    ).csim(x)
