"""Scan throughput: trials per hour with 1 and 2 Ray workers on the same small space.

One run of each (trials take tens of seconds; the ratio, measured in one session, is the
number that matters on a noisy machine), in the summary of `make bench`. `make test` runs a
one-trial space once, with 2 workers (a trial exports and compiles a C-simulation, ~20 s).
"""

from __future__ import annotations

import csv
import time

import pytest

from benchmarks.results import compare, record, small

SPACE = "penalties: [none, disco]\nlam: [3.0]\nweight_bits: [4, 6, 8]\nepochs: 6\nn_train: 10000\n"
SMALL_SPACE = "penalties: [none]\nlam: [3.0]\nweight_bits: [6]\nepochs: 1\nn_train: 1000\n"

compare("scan trials/h, 2 workers / 1 worker", "scan.trials_per_h_2_workers",
        "scan.trials_per_h_1_worker")  # fmt: skip


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from datrig.sim.simulate import simulate

    root = tmp_path_factory.mktemp("scan_bench")
    simulate(root / "data", 2000 if small() else 20_000, 100, seed=3, progress=False)
    (root / "space.yml").write_text(SMALL_SPACE if small() else SPACE)
    return root


def test_trials_per_hour_with_one_and_two_workers(benchmark, setup):
    from datrig.cli import main

    rates = {}

    def scan_both() -> None:
        for workers in (2,) if small() else (1, 2):
            out = setup / f"w{workers}-{time.monotonic_ns()}"
            start = time.monotonic()
            argv = ["scan", "--model", "photon_id", "--space", str(setup / "space.yml"),
                    "--data", str(setup / "data"), "--out", str(out), "--workers",
                    str(workers), "--no-front-synth"]  # fmt: skip
            assert main(argv) == 0
            seconds = time.monotonic() - start
            with open(out / "trials.csv") as fh:
                n = sum(1 for _ in csv.DictReader(fh))
            rates[workers] = 3600 * n / seconds

    benchmark.pedantic(scan_both, rounds=1, iterations=1)
    if benchmark.enabled:
        record(benchmark, "scan.trials_per_h_1_worker", rates[1], "trials/h")
        record(benchmark, "scan.trials_per_h_2_workers", rates[2], "trials/h")
