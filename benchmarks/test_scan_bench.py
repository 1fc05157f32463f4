"""Scan throughput: trials per hour with 1 and 2 Ray workers on the same small space.

One run of each (trials take tens of seconds; the ratio, measured in one session, is the
number that matters on a noisy machine). Results go to the benchmark's extra_info and stderr.
"""

from __future__ import annotations

import csv
import sys
import time

import pytest

SPACE = "penalties: [none, disco]\nlam: [3.0]\nweight_bits: [4, 6, 8]\nepochs: 6\nn_train: 10000\n"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from datrig.sim.simulate import simulate

    root = tmp_path_factory.mktemp("scan_bench")
    simulate(root / "data", 20_000, 100, seed=3, progress=False)
    (root / "space.yml").write_text(SPACE)
    return root


def test_trials_per_hour_with_one_and_two_workers(benchmark, setup):
    from datrig.cli import main

    rates = {}

    def scan_both() -> None:
        for workers in (1, 2):
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
    benchmark.extra_info["trials_per_hour"] = rates
    benchmark.extra_info["speedup_2_workers"] = rates[2] / rates[1]
    print(f"\nscan: {rates[1]:.0f} trials/h with 1 worker, {rates[2]:.0f} with 2 "
          f"({rates[2] / rates[1]:.2f}x)", file=sys.stderr)  # fmt: skip
