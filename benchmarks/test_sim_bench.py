"""Toy-calorimeter speed (issue 2, item 6): photon candidates per second including cells.

Target: >= 50,000 candidates/s per core for generation (`photon_chunk`, cells included). The
end-to-end benchmark adds HDF5 compression and writing. Read the candidates/s from
``extra_info`` or as N_ROWS x ops.
"""

from __future__ import annotations

import numpy as np

from benchmarks.results import per_second, size
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
