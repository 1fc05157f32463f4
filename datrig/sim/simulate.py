"""Produce one dataset folder: photons_{sim,data}.h5, diphoton_{sim,data}.h5,
resonance_{sim,data}.h5 and its manifest.

The six files are one artefact (:mod:`datrig.data.manifest`): they are written into a
temporary folder next to ``out_dir`` and swapped into place together, after the manifest, so
an interrupted, failed or repeated simulate never leaves a mix of two runs.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from datrig.argtypes import MAX_SEED
from datrig.atomic import atomic_dir, destination_lock, write_json
from datrig.bounds import human_bytes
from datrig.data.manifest import DATASET, FILE_NAMES, MANIFEST, member_record
from datrig.errors import DatrigError
from datrig.faults import pause_point
from datrig.provenance import sidecar
from datrig.sim.candidates import photon_chunk
from datrig.sim.config import GENERATOR_VERSION, GeneratorConfig
from datrig.sim.diphoton import diphoton_chunk
from datrig.sim.geometry import N_CELLS
from datrig.sim.resonance import resonance_chunk
from datrig.sim.writer import SampleSpec, write_sample

STREAMS: dict[tuple[str, str], int] = {key: i for i, key in enumerate(FILE_NAMES)}
MAX_ROWS = 1_000_000_000  # per file; HDF5 chunking and the readers are sized well below
# Compressed bytes per row (measured ~585 with all 108 cells, ~65, ~110 per resonance photon;
# kept low so only a dataset that clearly cannot fit is refused before hours of work)
BYTES_PER_ROW = {"photons": 600, "diphoton": 50, "resonance": 90}


def _check_free_space(out_dir: Path, rows: dict[str, int]) -> None:
    """Refuse upfront a dataset that cannot fit on the destination's filesystem."""
    import shutil

    need = 2 * sum(n * BYTES_PER_ROW[kind] for kind, n in rows.items())
    existing = Path(os.path.abspath(out_dir))
    while not existing.exists():
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if need > free:
        raise DatrigError(
            f"the dataset needs about {human_bytes(need)} but {existing} has "
            f"{human_bytes(free)} free; lower --n/--n-diphoton or choose another --out"
        )


def _photon_fn(cfg: GeneratorConfig, domain: str, rng, n):
    return photon_chunk(rng, n, cfg, domain)


def _diphoton_fn(cfg: GeneratorConfig, domain: str, rng, n):
    return diphoton_chunk(rng, n, cfg, domain), None


def _resonance_fn(cfg: GeneratorConfig, domain: str, rng, n):
    return resonance_chunk(rng, n, cfg, domain), None


CHUNK_FNS = {"photons": _photon_fn, "diphoton": _diphoton_fn, "resonance": _resonance_fn}


def simulate(
    out_dir: Path,
    n_photons: int,
    n_diphoton: int,
    seed: int,
    cfg: GeneratorConfig | None = None,
    progress: bool = True,
    n_resonance: int | None = None,
) -> dict[str, Path]:
    """Simulate both domains of the three samples into ``out_dir``; returns name -> path.

    ``n_resonance`` counts resonance *events* (two photon rows each); None: as many photons as
    the photon sample. ``out_dir`` must be
    missing, empty or an earlier datrig dataset (which is replaced as a whole, only once the
    new one is complete).
    """
    from tqdm import tqdm

    cfg = cfg or GeneratorConfig()
    if n_resonance is None:
        n_resonance = max(1, n_photons // 2)
    if min(n_photons, n_diphoton, n_resonance) < 1:
        raise DatrigError(
            f"need at least 1 row per file, got n={n_photons}, n-diphoton={n_diphoton}, "
            f"n-resonance={n_resonance}"
        )
    if max(n_photons, n_diphoton, 2 * n_resonance) > MAX_ROWS:
        raise DatrigError(
            f"at most {MAX_ROWS:,} rows per file, got n={n_photons:,}, n-diphoton="
            f"{n_diphoton:,}, n-resonance={n_resonance:,} (x2 photons); simulate several "
            "datasets with different seeds instead"
        )
    if not 0 <= seed <= MAX_SEED:
        raise DatrigError(f"--seed must be >= 0 and < 2**63 (an int64 in every file), got {seed}")
    if cfg.chunk_rows % 2:
        raise DatrigError(
            f"config key chunk_rows must be even (the resonance sample is written in photon "
            f"pairs), got {cfg.chunk_rows}"
        )
    out_dir = Path(out_dir)
    rows = {"photons": n_photons, "diphoton": n_diphoton, "resonance": 2 * n_resonance}
    _check_free_space(out_dir, rows)
    total = 2 * sum(rows.values())
    with (
        destination_lock(out_dir),
        atomic_dir(out_dir, DATASET) as tmp,
        tqdm(total=total, unit="row", desc="simulate", disable=not progress, leave=False) as bar,
    ):
        members = {}
        for (kind, domain), name in FILE_NAMES.items():
            n = rows[kind]
            bar.set_postfix_str(name)
            write_sample(
                tmp / name,
                SampleSpec(kind, domain, n, STREAMS[(kind, domain)]),
                seed,
                cfg,
                functools.partial(CHUNK_FNS[kind], cfg, domain),
                N_CELLS if kind == "photons" else None,
                bar.update,
            )
            members[name] = {**member_record(tmp / name), "n_rows": n}
            pause_point(f"simulate:wrote-{name}")
        write_json(
            tmp / MANIFEST,
            sidecar(
                stage="simulate",
                seed=seed,
                generator_version=GENERATOR_VERSION,
                n_photons=n_photons,
                n_diphoton=n_diphoton,
                n_resonance=n_resonance,
                config=cfg.to_dict(),
                files=members,
            ),
        )
        pause_point("simulate:before-swap")
    return {name: out_dir / name for name in FILE_NAMES.values()}
