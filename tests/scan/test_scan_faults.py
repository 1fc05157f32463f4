"""Scans survive what clusters do to them: a second node, a killed driver, a killed worker.

Slow (minutes): each test runs a small real scan. Ray binds to 127.0.0.1 only; the two-node
cluster is ``ray.cluster_utils.Cluster`` on loopback (the ``ray start`` CLI cannot put two
nodes on one loopback address).
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from datrig.cli import main

pytestmark = pytest.mark.slow

SPACE = "penalties: [none, disco]\nlam: [3.0]\nweight_bits: [6, 8]\nepochs: 8\nn_train: 15000\n"
VOLATILE = {"wall_seconds", "host", "node"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from datrig.sim.simulate import simulate

    root = tmp_path_factory.mktemp("scan_faults")
    simulate(root / "data", 30_000, 100, seed=3, progress=False)
    (root / "space.yml").write_text(SPACE)
    return root


def _argv(root: Path, out: str, *extra: str) -> list[str]:
    return ["scan", "--model", "photon_id", "--space", str(root / "space.yml"), "--data",
            str(root / "data"), "--out", str(root / out), "--no-front-synth", *extra]  # fmt: skip


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "trials.csv") as fh:
        return {r["trial"]: r for r in csv.DictReader(fh)}


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        differ = sorted(k for k in a[key] if k not in VOLATILE and a[key][k] != b[key][k])
        assert differ == [], (key, differ)


def test_two_node_cluster_runs_trials_on_both_nodes_with_local_results(setup):
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    from ray.cluster_utils import Cluster

    head = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False,
            "object_store_memory": 200 * 1024**2}  # fmt: skip
    cluster = Cluster(initialize_head=True, head_node_args=head)
    try:
        cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1",
                         object_store_memory=200 * 1024**2)  # fmt: skip
        assert main(_argv(setup, "cluster", "--address", cluster.address)) == 0
    finally:
        import ray

        ray.shutdown()
        cluster.shutdown()
    on_cluster = _rows(setup / "cluster")
    assert len({r["node"] for r in on_cluster.values()}) == 2, "trials ran on one node only"
    assert main(_argv(setup, "local", "--workers", "2")) == 0
    _same(on_cluster, _rows(setup / "local"))


def _spawn(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "datrig.cli", *argv], text=True,
                            stderr=subprocess.PIPE, env={**os.environ, **(env or {})})  # fmt: skip


def test_killed_driver_resumes_without_redoing_finished_trials(setup):
    proc = _spawn(_argv(setup, "resume", "--workers", "1"))
    for line in proc.stderr:
        if line.startswith("datrig scan [1]"):
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    first = next((setup / "resume" / "trials").glob("*/trial.json"))
    stamp = (first.parent / "run" / "checkpoint.pt").stat().st_mtime_ns
    assert not (setup / "resume" / "scan.json").exists()  # nothing looks complete
    assert main(_argv(setup, "resume", "--workers", "1", "--resume")) == 0
    rows = _rows(setup / "resume")
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows.values())
    assert (first.parent / "run" / "checkpoint.pt").stat().st_mtime_ns == stamp


def test_a_worker_killed_mid_trial_is_retried(setup, tmp_path):
    announce = tmp_path / "paused.txt"
    env = {"DATRIG_PAUSE_AT": "scan:trial-started", "DATRIG_PAUSE_FILE": str(announce)}
    proc = _spawn(_argv(setup, "killed", "--workers", "1"), env)
    deadline = time.monotonic() + 120
    while not (announce.is_file() and announce.read_text().strip()):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    worker = int(announce.read_text().split()[-1])
    os.kill(worker, signal.SIGKILL)  # the Ray worker running the first trial dies
    # the retried trial must not pause again: every later pause is released at once
    assert proc.wait(timeout=900) == 0, proc.stderr.read()
    rows = _rows(setup / "killed")
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows.values()), rows
