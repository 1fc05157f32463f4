"""The default dataset every stage trains and validates on, simulated once and cached."""

from __future__ import annotations

import sys
from pathlib import Path

from datrig.errors import SchemaError
from datrig.paths import DEFAULT_DATA_DIR

DEFAULT_N_PHOTONS = 500_000  # per domain: the test split holds 100k candidates per domain
DEFAULT_N_DIPHOTON = 500_000  # per domain


def _is_current(
    data_dir: Path, kind: str, domain: str, seed: int, n_rows: int, config: dict
) -> bool:
    from datrig.data.manifest import dataset_file
    from datrig.data.reader import open_dataset
    from datrig.sim.config import GENERATOR_VERSION

    try:
        info = open_dataset(dataset_file(data_dir, kind, domain))
    except SchemaError:
        return False
    return (
        info.kind == kind
        and info.seed == seed
        and info.n_rows == n_rows
        and info.config == config
        and info.generator_version == GENERATOR_VERSION
    )


def ensure_default_data(
    data_dir: Path = DEFAULT_DATA_DIR,
    seed: int = 1,
    n_photons: int = DEFAULT_N_PHOTONS,
    n_diphoton: int = DEFAULT_N_DIPHOTON,
    progress: bool = True,
) -> Path:
    """Return ``data_dir`` holding the four default files, simulating them if missing or stale
    (another seed, size, config or generator version)."""
    from datrig.data.manifest import FILE_NAMES
    from datrig.sim.config import GeneratorConfig
    from datrig.sim.simulate import simulate

    data_dir = Path(data_dir)
    cfg = GeneratorConfig()
    config = cfg.to_dict()
    stale = [
        name
        for (kind, domain), name in FILE_NAMES.items()
        if not _is_current(
            data_dir, kind, domain, seed, n_photons if kind == "photons" else n_diphoton, config
        )
    ]
    if stale:
        print(
            f"datrig: simulating default data into {data_dir} ({', '.join(stale)} missing or "
            f"stale; seed {seed})",
            file=sys.stderr,
        )
        simulate(data_dir, n_photons, n_diphoton, seed, cfg, progress=progress)
    return data_dir
