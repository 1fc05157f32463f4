"""The second review's defects D1-D21 (issue 34), one regression test each, named after it.

Every case runs the real ``datrig`` command in a new process, as the reviewer did. The
security cases put a marker (or a folder) outside the intended destination and check that
nothing reached it; the data-loss cases check that the user's files are byte-identical after.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def datrig(*argv: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600):
    """``datrig ARGV`` in a new process."""
    return subprocess.run(
        [sys.executable, "-m", "datrig.cli", *argv],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        timeout=timeout,
    )


def one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """The command failed with exit code 2 and one clear line (no traceback)."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    errors = [line for line in lines if ": error:" in line]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def peak_rss_mb(argv: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``datrig ARGV`` under a fresh parent and return it with its peak RSS in MB."""
    code = textwrap.dedent(
        """
        import resource, subprocess, sys
        p = subprocess.run([sys.executable, "-m", "datrig.cli", *sys.argv[1:]],
                           capture_output=True, text=True)
        sys.stderr.write(p.stderr)
        print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
        sys.exit(p.returncode)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
        check=False,
    )
    return proc, float(proc.stdout.strip().splitlines()[-1])


def mounted_tmpfs(mnt: Path, size: str) -> Path:
    """A small real filesystem of its own at ``mnt`` (skips the test where mount is denied);
    the caller unmounts it."""
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                      capture_output=True, check=False).returncode != 0:  # fmt: skip
        pytest.skip("needs root to mount a tmpfs")
    return mnt


def tree(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


# --- path escapes ---------------------------------------------------------------------------


def test_D2_validate_refuses_a_crafted_da_attribute(photon_id_project, tmp_path):
    run = tmp_path / "crafted"
    shutil.copytree(photon_id_project.run, run)
    outside = tmp_path / "outside"
    for da in ("../../outside/escaped_project", str(outside / "abs")):
        with h5py.File(run / "predictions_test.h5", "r+") as fh:
            fh.attrs["da"] = da
        proc = datrig("validate", "--model", "photon_id", "--runs", str(run), "--out",
                      str(tmp_path / "vout"), "--peers", cwd=tmp_path)  # fmt: skip
        one_line_error(proc, "is not a valid name")
        assert not outside.exists() and not (tmp_path.parent / "outside").exists()


def test_D3_scan_pick_refuses_links_in_a_trial(photon_id_project, tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "shadow").write_text("secret")
    trial = tmp_path / "scan" / "trials" / "t1"
    shutil.copytree(photon_id_project.run, trial / "run")
    shutil.copytree(photon_id_project.project, trial / "project")
    (trial / "trial.json").write_text(json.dumps({"status": "ok"}))
    (trial / "run" / "curves.json").unlink(missing_ok=True)
    (trial / "run" / "curves.json").symlink_to(secret / "shadow")
    proc = datrig("scan", "--model", "photon_id", "--out", str(tmp_path / "scan"), "--pick", "t1",
                  cwd=tmp_path)  # fmt: skip
    one_line_error(proc, "symbolic links", "curves.json")
    assert not (tmp_path / "runs" / "photon_id" / "t1").exists()
    assert not (tmp_path / "hls_projects" / "photon_id").exists()


def test_D4_qat_resume_refuses_a_symlinked_staging_folder(photon_id_project, tmp_path):
    outside = tmp_path / "outside" / "empty"
    outside.mkdir(parents=True)
    runs = tmp_path / "runs" / "photon_id"
    runs.mkdir(parents=True)
    (runs / ".sym.datrig-partial").symlink_to(outside)
    proc = datrig("qat", "--model", "photon_id", "--da", "none", "--out", str(runs / "sym"),
                  "--resume", "--data", str(photon_id_project.data), "--epochs", "1",
                  cwd=tmp_path)  # fmt: skip
    one_line_error(proc, "symbolic link")
    assert list(outside.iterdir()) == []
    assert not os.path.lexists(runs / "sym")


def test_D5_the_lock_file_never_follows_a_link(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    target = tmp_path / "outside" / "created_by_lock"
    target.parent.mkdir()
    (data / ".lk.datrig-lock").symlink_to(target)
    proc = datrig("simulate", "--out", str(data / "lk"), "--n", "100", "--quiet", cwd=tmp_path)
    one_line_error(proc, "symbolic link")
    assert not target.exists() and not (data / "lk").exists()


# --- data loss ------------------------------------------------------------------------------


def test_D1_validate_out_never_replaces_a_users_folder_or_a_run(photon_id_project, tmp_path):
    user = tmp_path / "userfolder"
    user.mkdir()
    (user / "report.md").write_text("my notes")
    (user / "metrics.json").write_text("{}")
    before = tree(user)
    run = tmp_path / "run"
    shutil.copytree(photon_id_project.run, run)
    run_before = tree(run)
    for out in (user, run):
        proc = datrig("validate", "--model", "photon_id", "--runs", str(run), "--out", str(out),
                      "--no-firmware", "--peers", cwd=tmp_path)  # fmt: skip
        one_line_error(proc, str(out))
    assert tree(user) == before and tree(run) == run_before


def test_D8_validate_report_is_one_staged_artefact(photon_id_project, tmp_path):
    """A report is swapped in whole: a SIGKILL before the swap leaves the previous one as it
    was (no new roc.png beside an old report.md), and a finished one replaces it."""
    out = tmp_path / "report"
    args = ("validate", "--model", "photon_id", "--runs", str(photon_id_project.run),
            "--out", str(out), "--no-firmware", "--peers")  # fmt: skip
    first = datrig(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    assert json.loads((out / "validate.json").read_text())["stage"] == "validate"
    before = tree(out)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATRIG_PAUSE_AT": "validate:before-swap"}
    proc = subprocess.Popen([sys.executable, "-m", "datrig.cli", *args, "--seed", "2"],
                            cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)  # fmt: skip
    for line in proc.stderr:
        if "datrig-paused-at validate:before-swap" in line:
            break
    proc.kill()
    proc.wait()
    assert tree(out) == before
    again = datrig(*args, "--seed", "2", cwd=tmp_path)  # the next writer sweeps and replaces
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads((out / "validate.json").read_text())["seed"] == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_D7_emulate_writes_only_its_own_outputs(photon_id_project, tmp_path):
    ana = tmp_path / "ana"
    ana.mkdir()
    (ana / "results.json").write_text("the user's own results")
    inputs = tmp_path / "x.npy"
    from datrig.project.meta import FirmwareProject

    project = FirmwareProject.load(photon_id_project.project)
    np.save(inputs, project.read_inputs(photon_id_project.run / "predictions_test.h5", 50))
    ok = datrig("emulate", "--project", str(photon_id_project.project), "--input", str(inputs),
                "--out", str(ana / "results.npy"))  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert (ana / "results.json").read_text() == "the user's own results"
    record = json.loads((ana / "results.npy.json").read_text())
    assert record["stage"] == "emulate" and record["output"] == "results.npy"
    again = datrig("emulate", "--project", str(photon_id_project.project), "--input", str(inputs),
                   "--out", str(ana / "results.npy"))  # fmt: skip
    assert again.returncode == 0, again.stderr  # its own output: replaced
    mine = tmp_path / "mine.npy"
    np.save(mine, np.arange(3))
    proc = datrig("csim", "--project", str(photon_id_project.project), "--input", str(inputs),
                  "--out", str(mine))  # fmt: skip
    one_line_error(proc, "was not written by `datrig csim`")
    assert np.array_equal(np.load(mine), np.arange(3))
    before = inputs.read_bytes()
    proc = datrig("emulate", "--project", str(photon_id_project.project), "--input", str(inputs),
                  "--out", str(inputs))  # fmt: skip
    one_line_error(proc, "is the input file")
    assert inputs.read_bytes() == before


# --- hangs and memory -----------------------------------------------------------------------

BOMB = textwrap.dedent(
    """
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
    """
)


@pytest.mark.parametrize(
    "argv",
    [
        ("import", "model.onnx", "--name", "n", "--config", "bomb.yml"),
        ("scan", "--model", "photon_id", "--space", "bomb.yml", "--out", "s"),
        ("simulate", "--out", "d", "--config", "bomb.yml"),
    ],
    ids=["firmware-config", "scan-space", "generator-config"],
)
def test_D10_yaml_alias_bombs_are_refused_in_bounded_memory(tmp_path, argv):
    (tmp_path / "bomb.yml").write_text(BOMB)
    proc, rss = peak_rss_mb(list(argv), tmp_path)
    assert proc.returncode == 2, proc.stderr[-1000:]
    assert "aliases" in proc.stderr and "Traceback" not in proc.stderr
    assert rss < 1024, f"peak RSS {rss:.0f} MB"


def test_D11_sizes_are_bounded_before_anything_is_allocated(photon_id_project, tmp_path):
    project = str(photon_id_project.project)
    proc, rss = peak_rss_mb(["verify", "--project", project, "--events", "50000000"], tmp_path)
    assert proc.returncode == 2 and "needs about" in proc.stderr and rss < 1024, proc.stderr
    proc = datrig("verify", "--project", project, "--events", "1000000000")
    one_line_error(proc, "beyond datrig's limit")
    proc, rss = peak_rss_mb(
        ["report", "--model", "photon_id", "--project", project, "--events", "30000000"], tmp_path
    )
    assert proc.returncode == 2 and "needs about" in proc.stderr and rss < 1024, proc.stderr
    proc = datrig("qat", "--model", "photon_id", "--hidden", "25000,25000")
    assert proc.returncode == 2 and "at most 16 layers of at most 4096 units" in proc.stderr
    (tmp_path / "space.yml").write_text(
        "penalties: [none, disco]\nlam: [" + ", ".join(str(i + 1) for i in range(300)) + "]\n"
        "weight_bits: [2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]\n"
        "act_bits: [2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]\n"
        "seeds: [" + ", ".join(str(i) for i in range(1000)) + "]\n"
    )
    proc, rss = peak_rss_mb(
        ["scan", "--model", "photon_id", "--space", "space.yml", "--out", "s"], tmp_path
    )
    assert proc.returncode == 2 and "grid points" in proc.stderr and rss < 1024, proc.stderr
    run = tmp_path / "run"
    shutil.copytree(photon_id_project.run, run)
    import torch

    payload = torch.load(run / "checkpoint.pt", weights_only=True)
    payload["model_config"]["hidden"] = [100_000, 100_000]
    torch.save(payload, run / "checkpoint.pt")
    proc, rss = peak_rss_mb(
        ["export", "--model", "photon_id", "--run", str(run), "--out", "p"], tmp_path
    )
    assert proc.returncode == 2 and "beyond datrig's limit" in proc.stderr, proc.stderr
    assert rss < 1024


def test_D9_sigterm_during_calibrates_export_ends_it(photon_id_project, tmp_path):
    """SIGTERM while calibrate exports a run's project: exit 143, no calibration written."""
    run = tmp_path / "run"
    shutil.copytree(photon_id_project.run, run)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATRIG_PAUSE_AT": "export:compiled"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "datrig.cli", "calibrate", "--run", str(run), "--data",
         str(photon_id_project.other_data), "--out", str(tmp_path / "cal"), "--peers"],
        cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "datrig-paused-at export:compiled" in line:
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 143, "".join(lines) + rest
    assert "terminated" in rest and "Traceback" not in rest
    assert not (tmp_path / "cal").exists()


def test_D9_a_swallowed_sigterm_still_stops_the_swap(tmp_path):
    """Third-party code that catches the Terminated exception cannot make datrig swap in an
    artefact: the signal is recorded and checked at the swap."""
    from datrig import signals
    from datrig.atomic import ArtefactKind, atomic_dir, write_json

    kind = ArtefactKind("test artefact", "marker.json", "test")
    try:
        with contextlib.suppress(signals.Terminated):  # swallowed, as torch's exporter did
            signals.on_sigterm(signal.SIGTERM, None)
        with pytest.raises(signals.Terminated), atomic_dir(tmp_path / "a", kind) as tmp:
            write_json(tmp / "marker.json", {"stage": "test"})
    finally:
        signals.reset()
    assert not (tmp_path / "a").exists()


# --- silently wrong -------------------------------------------------------------------------


def _edited_project(photon_id_project, tmp_path: Path, edit) -> Path:
    project = tmp_path / "prj"
    shutil.copytree(photon_id_project.project, project)
    path = project / "datrig_project.json"
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    return project


@pytest.mark.parametrize("field,value", [("n_in", 1), ("n_out", 0), ("n_out", 7)])
def test_D6_csim_sizes_are_checked_against_the_library(photon_id_project, tmp_path, field, value):
    project = _edited_project(
        photon_id_project, tmp_path, lambda d: d["csim"].update({field: value})
    )
    line = one_line_error(datrig("verify", "--project", str(project), "--events", "100"))
    assert "damaged or crafted" in line or "must be positive" in line, line


def test_D12_virtual_and_external_datasets_are_refused(photon_id_project, tmp_path):
    src = photon_id_project.data / "photons_sim.h5"
    vds = tmp_path / "photons_sim.h5"
    with h5py.File(src) as fin, h5py.File(vds, "w") as fout:
        for key, value in fin.attrs.items():
            fout.attrs[key] = value
        for name in ("candidates", "cells"):
            ds = fin[name]
            layout = h5py.VirtualLayout(shape=ds.shape, dtype=ds.dtype)
            layout[...] = h5py.VirtualSource(str(tmp_path / "missing.h5"), name, shape=ds.shape)
            fout.create_virtual_dataset(name, layout, fillvalue=None)
    one_line_error(datrig("inspect", str(vds)), "virtual dataset")
    proc = datrig("verify", "--project", str(photon_id_project.project), "--input", str(vds))
    one_line_error(proc, "virtual dataset")
    linked = tmp_path / "linked.h5"
    with h5py.File(src) as fin, h5py.File(linked, "w") as fout:
        for key, value in fin.attrs.items():
            fout.attrs[key] = value
        fout["candidates"] = h5py.ExternalLink(str(src), "candidates")
        fout["cells"] = h5py.ExternalLink(str(src), "cells")
    one_line_error(datrig("inspect", str(linked)), "is a link")


@pytest.mark.tools
def test_D13_report_is_byte_identical_for_the_same_seed(photon_id_project, tmp_path):
    if shutil.which("iverilog") is None and shutil.which("verilator") is None:
        pytest.skip("needs an RTL simulator")
    texts = []
    for k in range(2):
        project = tmp_path / f"p{k}"
        shutil.copytree(photon_id_project.project, project)
        proc = datrig(
            "report",
            "--model",
            "photon_id",
            "--project",
            str(project),
            "--events",
            "500",
            "--no-synth",
        )
        assert proc.returncode in (0, 1), proc.stderr[-2000:]
        assert "this run (not recorded)" in proc.stderr
        texts.append((project / "report.json").read_bytes())
    assert texts[0] == texts[1]
    doc = json.loads(texts[0])
    assert not any(k.endswith(("_seconds", "_per_s", "_cached")) for k in doc["details"])


def test_D14_verify_waits_for_an_export_of_the_same_project(photon_id_project, tmp_path):
    project = tmp_path / "prj"
    shutil.copytree(photon_id_project.project, project)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATRIG_PAUSE_AT": "export:before-swap"}
    export = subprocess.Popen(
        [sys.executable, "-m", "datrig.cli", "export", "--model", "photon_id", "--run",
         str(photon_id_project.run), "--out", str(project), "--events", "200"],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    for line in export.stderr:
        if "datrig-paused-at export:before-swap" in line:
            break
    verify = subprocess.Popen(
        [sys.executable, "-m", "datrig.cli", "verify", "--project", str(project), "--events",
         "300"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    waiting = ""
    while time.monotonic() < deadline and "waiting for another datrig process" not in waiting:
        waiting += verify.stderr.readline()
    assert "waiting for another datrig process" in waiting
    export.send_signal(signal.SIGTERM)
    assert export.wait(timeout=60) == 143
    out, err = verify.communicate(timeout=300)
    assert verify.returncode == 0, err
    assert "0 of 300 events differ bit for bit" in out


# --- tracebacks and unclear errors ----------------------------------------------------------


def test_D15_a_broken_generator_config_is_one_line(tmp_path):
    (tmp_path / "bad.yml").write_text("photons: {prompt_fraction: [0.5\n")
    proc = datrig("simulate", "--out", str(tmp_path / "d"), "--config", str(tmp_path / "bad.yml"))
    one_line_error(proc, "bad.yml", "line", "not valid YAML")


def test_D16_a_full_disk_is_one_line_and_no_crash(tmp_path):
    """A real tmpfs that fills up mid-write (the upfront estimate skipped, to reach it)."""
    mnt = mounted_tmpfs(tmp_path / "small", "2m")
    try:
        (mnt / "fill").write_bytes(b"\0" * 1_500_000)
        code = textwrap.dedent(
            """
            import sys
            import datrig.sim.simulate as s
            from datrig.cli import main
            s._check_free_space = lambda out_dir, rows: None
            sys.exit(main(["simulate", "--out", sys.argv[1], "--n", "3000", "--quiet"]))
            """
        )
        proc = subprocess.run([sys.executable, "-c", code, str(mnt / "d")], capture_output=True,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              check=False, timeout=300)  # fmt: skip
        one_line_error(proc, "the disk is full")
        assert sorted(p.name for p in mnt.iterdir()) == ["fill"]  # nothing half-written left
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def _crafted_project_cases():
    def set_(key, value):
        return lambda d: d.__setitem__(key, value)

    def set_csim(key, value):
        return lambda d: d["csim"].__setitem__(key, value)

    return {
        "verification-list": set_("verification", [1, 2]),
        "negative-shape": set_("input_shape", [-3]),
        "huge-shape": set_("input_shape", [10**9, 10**9]),
        "nul-library": set_csim("library", "firmware/lib\0.so"),
        "string-n_in": set_csim("n_in", "abc"),
        "input-range-1e308": lambda d: d["firmware_config"]["verification"].__setitem__(
            "input_range", 1e308
        ),
        "deep-nesting": None,
        "missing-key": lambda d: d.pop("csim"),
    }


@pytest.mark.parametrize("case", list(_crafted_project_cases()))
def test_D17_crafted_project_records_are_one_line(photon_id_project, tmp_path, case):
    edit = _crafted_project_cases()[case]
    if case == "deep-nesting":
        project = tmp_path / "prj"
        shutil.copytree(photon_id_project.project, project)
        path = project / "datrig_project.json"
        path.write_text(path.read_text()[:-2] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}")
    else:
        project = _edited_project(photon_id_project, tmp_path, edit)
    one_line_error(datrig("verify", "--project", str(project), "--events", "50"))


def test_D17_crafted_emulator_ir_is_one_line(photon_id_project, tmp_path):
    project = tmp_path / "prj"
    shutil.copytree(photon_id_project.project, project)
    path = project / "emulator_ir.json"
    doc = json.loads(path.read_text())
    del doc["layers"][0]["shape"]
    path.write_text(json.dumps(doc))
    one_line_error(datrig("emulate", "--project", str(project), "--input",
                          str(photon_id_project.other_data / "photons_sim.h5"), "--out",
                          str(tmp_path / "y.npy")))  # fmt: skip


@pytest.mark.parametrize("case", ["string-file", "deep-nesting"])
def test_D17_crafted_dataset_manifest_is_one_line(photon_id_project, tmp_path, case):
    data = tmp_path / "data"
    shutil.copytree(photon_id_project.data, data)
    path = data / "simulate.json"
    doc = json.loads(path.read_text())
    if case == "string-file":
        doc["files"]["photons_sim.h5"] = "abc"
        path.write_text(json.dumps(doc))
    else:
        path.write_text("[" * 100_000 + "]" * 100_000)
    proc = datrig("qat", "--model", "photon_id", "--data", str(data), "--out", str(tmp_path / "r"),
                  "--epochs", "1")  # fmt: skip
    one_line_error(proc, "simulate.json")


@pytest.mark.parametrize("case", ["missing-keys", "state-dict-mismatch", "epoch-abc"])
def test_D17_crafted_checkpoints_are_one_line(photon_id_project, tmp_path, case):
    import torch

    run = tmp_path / "run"
    shutil.copytree(photon_id_project.run, run)
    payload = torch.load(run / "checkpoint.pt", weights_only=True)
    if case == "missing-keys":
        del payload["normalisation"]
    elif case == "state-dict-mismatch":
        payload["state_dict"].pop(next(iter(payload["state_dict"])))
    else:
        payload["epoch"] = "abc"
    torch.save(payload, run / "checkpoint.pt")
    one_line_error(
        datrig("export", "--model", "photon_id", "--run", str(run), "--out", str(tmp_path / "p"))
    )


@pytest.mark.parametrize("case", ["n_rows-abc", "seed-abc", "complete-array", "bit-flip"])
def test_D17_crafted_hdf5_attributes_are_one_line(photon_id_project, tmp_path, case):
    path = tmp_path / "photons_sim.h5"
    shutil.copy(photon_id_project.other_data / "photons_sim.h5", path)
    if case == "bit-flip":
        raw = bytearray(path.read_bytes())
        for offset in range(8, 400, 7):
            raw[offset] ^= 0xFF
        path.write_bytes(bytes(raw))
    else:
        with h5py.File(path, "r+") as fh:
            key = case.split("-")[0]
            del fh.attrs[key]
            fh.attrs[key] = np.array([1, 1]) if case == "complete-array" else "abc"
    one_line_error(datrig("inspect", str(path)))


def test_D17_an_npy_declaring_a_huge_shape_is_one_line(photon_id_project, tmp_path):
    path = tmp_path / "x.npy"
    with open(path, "wb") as fh:
        header = {"descr": "<f8", "fortran_order": False, "shape": (400_000_000_000, 14)}
        np.lib.format.write_array_header_2_0(fh, header)
        fh.write(b"\0" * 1024)
    proc, rss = peak_rss_mb(["emulate", "--project", str(photon_id_project.project), "--input",
                             str(path), "--out", "y.npy"], tmp_path)  # fmt: skip
    one_line_error(proc, "not a plain numpy array")
    assert rss < 1024


def _reference_onnx(photon_id_project, tmp_path: Path):
    import onnx

    return onnx.load(str(photon_id_project.project / "model_qonnx.onnx"))


def test_D18_a_zero_bit_quant_or_no_graph_input_is_one_line(photon_id_project, tmp_path):
    import onnx
    from onnx import numpy_helper

    model = _reference_onnx(photon_id_project, tmp_path)
    quant = next(n for n in model.graph.node if n.op_type == "Quant")
    init = next(i for i in model.graph.initializer if i.name == quant.input[3])
    init.CopyFrom(numpy_helper.from_array(np.array(0.0, dtype=np.float32), init.name))
    onnx.save(model, str(tmp_path / "zero.onnx"))
    proc = datrig(
        "import", str(tmp_path / "zero.onnx"), "--name", "z", "--out", str(tmp_path / "z")
    )
    one_line_error(proc, "bit width below 1")
    model = _reference_onnx(photon_id_project, tmp_path)
    del model.graph.input[:]
    onnx.save(model, str(tmp_path / "noinput.onnx"))
    proc = datrig("import", str(tmp_path / "noinput.onnx"), "--name", "z", "--out",
                  str(tmp_path / "z"))  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr


def test_D19_negative_seeds_and_absurd_learning_rates_are_refused():
    proc = datrig("verify", "--model", "photon_id", "--seed", "-1")
    assert proc.returncode == 2 and "must be >= 0" in proc.stderr
    proc = datrig("qat", "--model", "photon_id", "--lr", "1e300")
    assert proc.returncode == 2 and "must be at most 1e+06" in proc.stderr


def test_D20_unclear_messages_are_clear(photon_id_project, tmp_path):
    import onnx
    from onnx import numpy_helper

    model = _reference_onnx(photon_id_project, tmp_path)
    init = max(model.graph.initializer, key=lambda i: numpy_helper.to_array(i).size)
    values = numpy_helper.to_array(init).copy()
    values.flat[0] = np.nan
    init.CopyFrom(numpy_helper.from_array(values, init.name))
    onnx.save(model, str(tmp_path / "nan.onnx"))
    proc = datrig("import", str(tmp_path / "nan.onnx"), "--name", "n", "--out", str(tmp_path / "n"))
    one_line_error(proc, "NaN/inf")
    (tmp_path / "empty.onnx").write_bytes(b"")
    proc = datrig("import", str(tmp_path / "empty.onnx"), "--name", "n", "--out",
                  str(tmp_path / "n"))  # fmt: skip
    one_line_error(proc, "is empty")
    np.save(tmp_path / "complex.npy", np.ones((5, 14), dtype=complex))
    proc = datrig("emulate", "--project", str(photon_id_project.project), "--input",
                  str(tmp_path / "complex.npy"), "--out", str(tmp_path / "y.npy"))  # fmt: skip
    one_line_error(proc, "complex")
    one_line_error(datrig("inspect", str(photon_id_project.data)), "is a folder")


def test_D21_sizes_in_messages_are_never_zero_and_report_names_no_missing_option(
    photon_id_project, tmp_path
):
    from datrig.bounds import human_bytes

    assert human_bytes(1.6e6) == "1.53 MiB" and human_bytes(3e9) == "2.79 GiB"
    assert "0.0" not in human_bytes(5e5)
    mnt = mounted_tmpfs(tmp_path / "ro", "64m")
    try:
        shutil.copytree(photon_id_project.project, mnt / "prj")
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        proc = datrig("report", "--model", "photon_id", "--project", str(mnt / "prj"), "--no-synth")
        line = one_line_error(proc, "not writable")
        assert "--out" not in line
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
