"""Toy-calorimeter speed (issue 2, item 6): photon candidates per second including cells.

Target: >= 50,000 candidates/s per core for generation (`photon_chunk`, cells included). The
end-to-end benchmark adds HDF5 compression and writing. Read the candidates/s from
``extra_info`` or as N_ROWS x ops.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.results import compare, per_second, size
from datrig.sim.candidates import photon_chunk
from datrig.sim.config import GeneratorConfig
from datrig.sim.diphoton import diphoton_chunk
from datrig.sim.geometry import N_CELLS
from datrig.sim.writer import SampleSpec, write_sample

N_ROWS = size(20_000, 1000)


def test_photon_generation_with_cells(benchmark):
    cfg = GeneratorConfig()
    rng = np.random.default_rng(1)
    rows, cells = benchmark(photon_chunk, rng, N_ROWS, cfg, "sim")
    assert rows.shape == (N_ROWS,) and cells.shape == (N_ROWS, N_CELLS, 4)
    per_second(benchmark, "sim.photon_candidates_with_cells", N_ROWS, "candidates/s")


def test_photon_generation_and_hdf5_write(benchmark, tmp_path):
    cfg = GeneratorConfig()
    spec = SampleSpec("photons", "sim", N_ROWS, 0)

    def run():
        write_sample(
            tmp_path / "p.h5",
            spec,
            1,
            cfg,
            lambda rng, n: photon_chunk(rng, n, cfg, "sim"),
            N_CELLS,
        )

    benchmark.pedantic(run, rounds=3, iterations=1)
    per_second(benchmark, "sim.photon_candidates_with_hdf5", N_ROWS, "candidates/s")


def test_diphoton_generation(benchmark):
    cfg = GeneratorConfig()
    rng = np.random.default_rng(1)
    rows = benchmark(diphoton_chunk, rng, N_ROWS, cfg, "sim")
    assert rows.shape == (N_ROWS,)
    per_second(benchmark, "sim.diphoton_events", N_ROWS)


compare(
    "simulate rows/s (six files), worker processes / one process",
    "sim.dataset.pool",
    "sim.dataset.one",
)


@pytest.mark.parametrize("mode", ["one", "pool"])
def test_simulate_dataset_one_process_or_a_pool(benchmark, tmp_path, monkeypatch, mode):
    """The whole dataset (six files) written by one process or by a pool of two (what
    `datrig simulate` does for a large sample on two cores); the bytes are the same."""
    from datrig.sim import simulate as simulate_mod

    n = size(60_000, 600)
    if mode == "pool":
        monkeypatch.setattr(simulate_mod, "PARALLEL_MIN_ROWS", 0)
        monkeypatch.setattr(simulate_mod.os, "sched_getaffinity", lambda _pid: {0, 1})
    else:
        monkeypatch.setattr(simulate_mod, "PARALLEL_MIN_ROWS", 10**12)
    rounds = {"i": 0}

    def run():
        rounds["i"] += 1
        simulate_mod.simulate(tmp_path / f"d{rounds['i']}", n, n, 1, progress=False)

    benchmark.pedantic(run, rounds=2, iterations=1)
    per_second(benchmark, f"sim.dataset.{mode}", 4 * n + 2 * n, "rows/s")
