"""`datrig scan`: a tiny scan end to end on local Ray, determinism, bad input, the front."""

from __future__ import annotations

import csv
import json
import re
import time
from pathlib import Path

import pytest

from datrig.cli import main
from datrig.errors import SchemaError
from datrig.scan.objectives import OBJECTIVES, pareto_front
from datrig.scan.space import LogUniform, parse_space

SPACE = """\
penalties: [none, disco]
lam: [3.0]
weight_bits: [8]
epochs: 8
n_train: 15000
"""
VOLATILE = {"wall_seconds", "host", "node"}  # allowed to differ between identical scans


@pytest.fixture(scope="module")
def scan_data(tmp_path_factory):
    from datrig.sim.simulate import simulate

    out = tmp_path_factory.mktemp("scan_data")
    simulate(out, 30_000, 100, seed=3, progress=False)
    return out


def _scan(out: Path, data: Path, space: Path, *extra: str) -> int:
    return main(["scan", "--model", "photon_id", "--space", str(space), "--data", str(data),
                 "--out", str(out), "--workers", "2", "--seed", "1", "--no-front-synth",
                 *extra])  # fmt: skip


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "trials.csv") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def tiny_scan(scan_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("scan")
    (root / "space.yml").write_text(SPACE)
    assert _scan(root / "a", scan_data, root / "space.yml") == 0
    return root


def test_a_tiny_scan_runs_the_chain_on_local_ray(tiny_scan):
    out = tiny_scan / "a"
    rows = _rows(out)
    assert [r["trial"] for r in rows] == ["disco-lam3-w8a8-h32x16-s1", "none-lam0-w8a8-h32x16-s1"]
    for r in rows:
        assert r["status"] == "ok", r["error"]
        assert float(r["rejection80_sim"]) > 2 and float(r["lut"]) > 1000
        assert r["lut_source"].startswith("estimate: tool model (da4ml)")
        from datrig.project.meta import FirmwareProject

        project = FirmwareProject.load(out / "trials" / r["trial"] / "project")
        assert project.meta.verification["emulator_vs_csim"].n_mismatch == 0
    assert json.loads((out / "scan.json").read_text())["n_trials"] == 2
    for name in ("report.md", "front.json", "trials.parquet", "rejection_vs_lut.png",
                 "rejection_vs_decorrelation.png"):  # fmt: skip
        assert (out / name).is_file(), name
    assert "datrig scan --model photon_id" in (out / "report.md").read_text()


def test_same_space_and_seed_give_the_same_trials_and_metrics(tiny_scan, scan_data):
    out = tiny_scan / "b"
    assert _scan(out, scan_data, tiny_scan / "space.yml") == 0
    a, b = _rows(tiny_scan / "a"), _rows(out)
    for x, y in zip(a, b, strict=True):
        differ = sorted(k for k in x if k not in VOLATILE and x[k] != y[k])
        assert differ == [], differ


def test_pick_exports_a_trial_as_a_run_and_project(tiny_scan, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tiny_scan / "a"
    trial = "disco-lam3-w8a8-h32x16-s1"
    assert main(["scan", "--model", "photon_id", "--out", str(out), "--pick", trial]) == 0
    assert (tmp_path / "runs" / "photon_id" / trial / "run.json").is_file()
    from datrig.project.meta import FirmwareProject

    assert FirmwareProject.load(tmp_path / "hls_projects" / "photon_id").meta.model == "photon_id"


def test_a_finished_scan_is_not_overwritten(tiny_scan, scan_data, capsys):
    assert _scan(tiny_scan / "a", scan_data, tiny_scan / "space.yml") == 2
    assert "already holds a scan; add --resume" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("penalties: [none]\nbits: [4]\n", r"unknown key\(s\) \['bits'\]"),
        ("penalties: [disko]\n", "unknown penalty 'disko'"),
        ("{}\n", "the search space is empty"),
        ("penalties: []\n", "'penalties' must be a non-empty list"),
        ("penalties: [disco]\nlam: [-1]\n", "every lam must be a finite number >= 0"),
        ("penalties: [disco]\nweight_bits: [1]\n", "between 2 and 16 bits"),
        ("penalties: [disco]\nlam: {log_uniform: [0.1, 10]}\n", "a grid search needs lam"),
    ],
)
def test_bad_spaces_are_one_line(tmp_path, text, match, capsys):
    import re

    (tmp_path / "space.yml").write_text(text)
    code = main(["scan", "--model", "photon_id", "--space", str(tmp_path / "space.yml"),
                 "--out", str(tmp_path / "out"), "--data", str(tmp_path)])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and re.search(match, err[0]), err
    assert not (tmp_path / "out" / "scan.json").exists()


def test_an_unreachable_cluster_is_one_line_in_seconds(tmp_path, scan_data, capsys):

    (tmp_path / "space.yml").write_text(SPACE)
    start = time.monotonic()
    code = _scan(tmp_path / "out", scan_data, tmp_path / "space.yml", "--address", "127.0.0.1:1")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "cannot reach a Ray cluster at 127.0.0.1:1" in err[-1]
    assert time.monotonic() - start < 30
    assert not (tmp_path / "out").exists()  # no scan_config.json that blocks the next try


def test_log_uniform_lam_and_penalties_that_do_not_apply():
    space = parse_space({"penalties": ["disco"], "lam": {"log_uniform": [0.1, 10]}}, "photon_id",
                        "t")  # fmt: skip
    assert space.lam == LogUniform(0.1, 10.0)
    with pytest.raises(SchemaError, match="'disco_pt' does not apply to model diphoton"):
        parse_space({"penalties": ["disco_pt"]}, "diphoton", "t")


def test_pareto_front_by_hand():
    objectives = OBJECTIVES["photon_id"]  # max rejection, min non-closure, min LUT
    rows = [
        {"rejection80_sim": 10, "abcd_nonclosure": 0.1, "lut": 5000},  # front
        {"rejection80_sim": 9, "abcd_nonclosure": 0.2, "lut": 6000},  # dominated by 0
        {"rejection80_sim": 12, "abcd_nonclosure": 0.5, "lut": 9000},  # front: best rejection
        {"rejection80_sim": 5, "abcd_nonclosure": 0.05, "lut": 2000},  # front
        {"rejection80_sim": 10, "abcd_nonclosure": float("nan"), "lut": 100},  # not measured
    ]
    assert pareto_front(rows, objectives) == [0, 2, 3]


def test_progress_counts_the_trials_finished_before_a_resume(tmp_path, capsys):
    from datrig.atomic import write_json
    from datrig.scan.engine import Progress

    objectives = OBJECTIVES["photon_id"]
    before = {"trial": "a", "status": "ok", "rejection80_sim": 20.0, "abcd_nonclosure": 0.7,
              "lut": 9000}  # fmt: skip
    write_json(tmp_path / "a" / "trial.json", before)
    progress = Progress(objectives, tmp_path)  # a fresh driver: knows only the folder
    dominated = {**before, "trial": "b", "rejection80_sim": 10.0}
    progress(dominated)
    assert "datrig scan [2] b: rejection80_sim=10" in capsys.readouterr().err
    progress({"trial": "c", "status": "error", "error": "worker died"})
    err = capsys.readouterr().err
    assert "[3] c: FAILED: worker died; front 1" in err


def test_front_costs_run_as_ray_tasks_and_a_failure_is_recorded(tiny_scan, tmp_path):
    import shutil

    import ray

    from datrig.scan.engine import run_tasks, start_ray
    from datrig.scan.trial import measured_cost

    if shutil.which("yosys") is None or shutil.which("iverilog") is None:
        pytest.skip("needs yosys and iverilog")
    project = tiny_scan / "a" / "trials" / "none-lam0-w8a8-h32x16-s1" / "project"
    start_ray(None, 2)
    try:
        missing, measured = run_tasks(
            measured_cost,
            [(str(tmp_path / "missing"), 1), (str(project), 1)],
            ["missing", "none"],
            "measured",
        )
    finally:
        ray.shutdown()
    assert "missing" in missing["error"]
    assert measured["lut_source"].startswith("measured: synthesis (yosys"), measured
    assert measured["lut"] > 1000 and measured["latency_ns"] > 0


# -- issue 18 -----------------------------------------------------------------------------------


def _one_error(code: int, capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    return err[0]


def test_t4_hidden_widths_as_a_flat_list_are_one_line(tmp_path, capsys):
    """`hidden: [32]` (one layer of 32, meant as [[32]]) was a TypeError traceback."""
    (tmp_path / "space.yml").write_text("penalties: [none]\nhidden: [32]\n")
    code = main(["scan", "--model", "photon_id", "--space", str(tmp_path / "space.yml"),
                 "--out", str(tmp_path / "out"), "--data", str(tmp_path)])  # fmt: skip
    assert "'hidden' must list layer-width lists, e.g. [[32, 16], [64]]" in _one_error(code, capsys)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("weight_bits", [8.7], "'weight_bits' has 8.7, which is not an integer"),
        ("seeds", [True], "'seeds' has True, which is not an integer"),
        ("seeds", 1, "'seeds' must be a non-empty list, got 1"),
        ("hidden", [[32, 16.5]], "'hidden' has 16.5, which is not an integer"),
        ("lam", [True], "'lam' has True, which is not a number"),
    ],
)
def test_w3_space_values_are_typed_strictly(key, value, match):
    """8.7 bits became 8 and `seeds: [true]` became seed 1; an int is not a list either."""
    with pytest.raises(SchemaError, match=re.escape(match)):
        parse_space({"penalties": ["disco"], key: value}, "photon_id", "t")
    assert parse_space({"penalties": ["disco"], "lam": [2, 2.5]}, "photon_id", "t").lam == (2, 2.5)


def test_w7_an_empty_front_says_why(tmp_path):
    """A 1-trial scan ended with abcd_nonclosure = nan and an empty front, without a word."""
    from datrig.scan.report import write_report

    row = {"trial": "none-lam0-w8a8-h32x16-s1", "status": "ok", "penalty": "none", "lam": 0.0,
           "weight_bits": 8, "act_bits": 8, "hidden": "32x16", "seed": 1, "resource_lam": 0.0,
           "rejection80_sim": 9.5, "abcd_nonclosure": float("nan"), "lut": 5000.0,
           "calibration_error": "region D of pT bin 2 holds 3 fakes"}  # fmt: skip
    report = write_report(tmp_path, [row], OBJECTIVES["photon_id"], model="photon_id",
                          command="datrig scan", reference=None, bound=None, meta={})  # fmt: skip
    text = report.read_text()
    assert "The front is empty: no finished trial has a finite value of every objective" in text
    why = "none-lam0-w8a8-h32x16-s1: abcd_nonclosure undefined (region D of pT bin 2 holds 3"
    assert why in text
    assert json.loads((tmp_path / "scan.json").read_text())["unranked"][0].startswith(why)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (read from /proc: Ray's raylet, GCS, agents, workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="needs Linux /proc")
def test_t5_sigterm_to_the_scan_driver_is_one_line_and_stops_ray(scan_data, tmp_path):
    """SIGTERM to the driver gave Ray's native stack dump and no datrig line, and Ray's
    DashboardAgent and RuntimeEnvAgent outlived it."""
    import os
    import signal
    import subprocess
    import sys

    (tmp_path / "space.yml").write_text("penalties: [none]\nepochs: 1\nn_train: 2000\n")
    announce = tmp_path / "paused.txt"
    env = {
        **os.environ,
        "DATRIG_PAUSE_AT": "scan:trial-started",
        "DATRIG_PAUSE_FILE": str(announce),
    }
    proc = subprocess.Popen([sys.executable, "-m", "datrig.cli", "scan", "--model", "photon_id",
                             "--space", str(tmp_path / "space.yml"), "--data", str(scan_data),
                             "--out", str(tmp_path / "out"), "--workers", "1", "--no-front-synth"],
                            stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    deadline = time.monotonic() + 120
    while not (announce.is_file() and announce.read_text().strip()):  # a trial is running
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.2)
    ray_processes = _descendants(proc.pid)
    names = " ".join(Path(f"/proc/{p}/cmdline").read_text() for p in ray_processes)
    assert "DashboardAgent" in names and "RuntimeEnvAgent" in names, names
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 143
    err = proc.stderr.read().strip().splitlines()
    assert err[-1] == ("datrig scan: terminated; Ray was shut down; finished trials are kept: "
                       "continue with --resume"), err  # fmt: skip
    assert not any("Traceback" in line or "SIGTERM received" in line for line in err), err
    deadline = time.monotonic() + 30
    while any(_running(p) for p in ray_processes) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = [Path(f"/proc/{p}/cmdline").read_text() for p in ray_processes if _running(p)]
    assert left == [], f"Ray processes outlived the driver: {left}"


def test_a_scan_of_a_task_ranks_its_trials_without_data_truth(tmp_path):
    """`datrig scan --task`: a user's ntuple (signed weights, data without labels), the task's
    penalties and objectives (the simulated background's ABCD factor per condition tercile)."""
    import os
    import subprocess
    import sys

    from datrig.sim.simulate import simulate

    root = Path(__file__).resolve().parents[2]
    simulate(tmp_path / "toy", 6000, 100, n_resonance=100, seed=5, progress=False)
    subprocess.run([sys.executable, str(root / "scripts" / "toy_to_ntuple.py"), "--data",
                    str(tmp_path / "toy"), "--out", str(tmp_path)], check=True,
                   capture_output=True, env={**os.environ, "PYTHONPATH": str(root)})  # fmt: skip
    (tmp_path / "task.yml").write_text(
        "name: scan_task\nkind: classification\n"
        "sources:\n  sim: {files: [mc.root], tree: photons}\n"
        "  data: {files: [data.root], tree: photons}\n"
        "inputs: [ph_pt, ph_eta, ph_rhad, ph_reta, ph_weta2]\n"
        "label: ph_isPrompt == 1\nweight: mcWeight\nprotected: ph_topoetcone20\n"
        "condition: ph_pt\ncalibration: {gap: 2.0}\n"
    )
    (tmp_path / "space.yml").write_text("penalties: [none, ddt]\nlam: [1.0]\nepochs: 2\n")
    code = main(["scan", "--task", str(tmp_path / "task.yml"), "--space",
                 str(tmp_path / "space.yml"), "--out", str(tmp_path / "scan"), "--workers", "2",
                 "--no-front-synth"])  # fmt: skip
    assert code == 0
    rows = _rows(tmp_path / "scan")
    assert {r["penalty"] for r in rows} == {"none", "ddt"}
    for r in rows:
        assert r["status"] == "ok", r["error"]
        assert float(r["rejection80_sim"]) > 1 and float(r["abcd_r_max_dev_sim"]) >= 0
    assert "abcd_r_max_dev_sim" in (tmp_path / "scan" / "report.md").read_text()
