"""The default dataset every stage trains and validates on, simulated once and cached."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Collection
from pathlib import Path

from datrig.data.task import TaskConfig
from datrig.errors import SchemaError
from datrig.paths import DEFAULT_DATA_DIR

DEFAULT_N_PHOTONS = 500_000  # per domain: the test split holds 100k candidates per domain
DEFAULT_N_DIPHOTON = 500_000  # per domain
# resonance events per domain (two photons each): the scale per |eta| bin to ~1e-4
DEFAULT_N_RESONANCE = 100_000
SAMPLES = ("photons", "diphoton", "resonance")  # the toy's samples, in the files' order


def resonance_events(n_photons: int) -> int:
    """Resonance events that go with ``n_photons`` candidates unless given: the default, or as
    many photons (two per event) as the photon sample."""
    return DEFAULT_N_RESONANCE if n_photons == DEFAULT_N_PHOTONS else max(1, n_photons // 2)


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
    n_resonance: int | None = None,
    kinds: Collection[str] = SAMPLES,
) -> Path:
    """Return ``data_dir`` holding the default files of the samples ``kinds`` (both domains),
    simulating them if missing or stale (another seed, size, config or generator version).

    A command asks only for the samples it reads (``make hls MODEL=photon_id``: the photons,
    10 s instead of 24): the folder is still one artefact, rewritten as a whole with the
    samples asked for and those it already held current, carried over by a hard link (each
    file is its own random stream, so simulating them again would write the same bytes).
    ``n_resonance`` (events): :data:`DEFAULT_N_RESONANCE` with the default photons, else half
    of ``n_photons``, as ``datrig simulate`` does."""
    from datrig.data.manifest import FILE_NAMES, read_manifest
    from datrig.sim.config import GeneratorConfig
    from datrig.sim.simulate import simulate

    data_dir = Path(data_dir)
    cfg = GeneratorConfig()
    if n_resonance is None:
        n_resonance = resonance_events(n_photons)
    rows = {"photons": n_photons, "diphoton": n_diphoton, "resonance": 2 * n_resonance}
    current = {
        name: _is_current(data_dir, kind, domain, seed, rows[kind], cfg.stored_config(kind))
        for (kind, domain), name in FILE_NAMES.items()
    }
    stale = [name for (kind, _), name in FILE_NAMES.items() if kind in kinds and not current[name]]
    if stale:
        incomplete = {kind for (kind, _), name in FILE_NAMES.items() if not current[name]}
        held = set(SAMPLES) - incomplete
        manifest = read_manifest(data_dir) if held else None
        reuse = {  # the current members the folder keeps: carried over, not simulated again
            name: manifest["files"][name]["sha256"]
            for (kind, _), name in FILE_NAMES.items()
            if kind in held and manifest and name in manifest["files"]
        }
        print(
            f"datrig: simulating default data into {data_dir} ({', '.join(stale)} missing or "
            f"stale; seed {seed})",
            file=sys.stderr,
        )
        simulate(
            data_dir, n_photons, n_diphoton, seed, cfg, progress=progress,
            n_resonance=n_resonance, kinds=sorted(set(kinds) | held, key=SAMPLES.index),
            reuse=reuse,
        )  # fmt: skip
    return data_dir


def with_toy_data(task: TaskConfig, folder: Path | None = None) -> TaskConfig:
    """``task`` with its ``toy`` sources bound to a simulated dataset: ``folder`` if given,
    else the default data (simulated on first use); a task without toy sources unchanged."""
    if not task.uses_toy:
        return task
    return dataclasses.replace(task, toy_dir=Path(folder or ensure_default_data(DEFAULT_DATA_DIR)))
