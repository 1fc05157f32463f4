"""Produce one dataset folder: photons_{sim,data}.h5, diphoton_{sim,data}.h5,
resonance_{sim,data}.h5 and its manifest.

The six files are one artefact (:mod:`datrig.data.manifest`): they are written into a
temporary folder next to ``out_dir`` and swapped into place together, after the manifest, so
an interrupted, failed or repeated simulate never leaves a mix of two runs.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Collection, Mapping
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


def _check_free_space(out_dir: Path, specs: list[SampleSpec]) -> None:
    """Refuse upfront a dataset whose files to write cannot fit on the destination's
    filesystem (members carried over by a hard link take no space)."""
    import shutil

    need = sum(spec.n_rows * BYTES_PER_ROW[spec.kind] for spec in specs)
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
# Below this many rows in all, one process: starting workers (~1 s each) would cost more
# than it saves.
PARALLEL_MIN_ROWS = 200_000
_PROGRESS = None  # a worker's queue of rows written (set by _start_worker)


def _workers(total_rows: int) -> int:
    """Processes to write the files with: one per core, at most one per file. Each file is
    its own random stream, so the bytes do not depend on how many there are."""
    if total_rows < PARALLEL_MIN_ROWS:
        return 1
    return max(1, min(len(FILE_NAMES), len(os.sched_getaffinity(0))))


def _write_member(tmp: Path, name: str, spec: SampleSpec, seed: int, cfg: GeneratorConfig,
                  progress) -> None:  # fmt: skip
    chunk_fn = functools.partial(CHUNK_FNS[spec.kind], cfg, spec.domain)
    n_cells = N_CELLS if spec.kind == "photons" else None
    write_sample(tmp / name, spec, seed, cfg, chunk_fn, n_cells, progress)


def _start_worker(queue) -> None:
    import signal

    global _PROGRESS
    _PROGRESS = queue
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops the pool


def _worker_write(tmp: Path, name: str, spec: SampleSpec, seed: int, cfg: GeneratorConfig):
    _write_member(tmp, name, spec, seed, cfg, _PROGRESS.put)


def _write_members(tmp: Path, jobs, seed: int, cfg: GeneratorConfig, bar, workers: int):
    """Write every (name, spec) of ``jobs`` into ``tmp``; yields each name once its file is
    complete, in the order of ``jobs``. With several workers the files are written by a pool
    of fresh processes (spawned: the parent may hold torch's threads), which is terminated
    if anything fails or the command is interrupted, before the folder is discarded."""
    if workers == 1:
        for name, spec in jobs:
            bar.set_postfix_str(name)
            _write_member(tmp, name, spec, seed, cfg, bar.update)
            yield name
        return
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.SimpleQueue()

    def drain() -> None:
        while not queue.empty():
            bar.update(queue.get())

    bar.set_postfix_str(f"{workers} processes")
    with ctx.Pool(workers, initializer=_start_worker, initargs=(queue,)) as pool:
        pending = [
            (name, pool.apply_async(_worker_write, (tmp, name, spec, seed, cfg)))
            for name, spec in jobs
        ]
        for name, result in pending:
            while not result.ready():
                result.wait(0.2)
                drain()
            result.get()  # the worker's error, raised here
            drain()
            yield name


def _carry(src: Path, dst: Path, sha256: str) -> dict:
    """Hard-link an earlier dataset's member into the new folder (both on one filesystem:
    the new folder is made beside the old), and check it is still the file the caller
    checked: a folder replaced meanwhile by another seed's is not mixed into this one."""
    if src.is_symlink() or not src.is_file():
        raise DatrigError(f"{src} is not a regular file; cannot carry it into the new dataset")
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError as exc:
        raise DatrigError(f"cannot link {src} into the new dataset: {exc.strerror}") from None
    record = member_record(dst)
    if record["sha256"] != sha256:
        raise DatrigError(f"{src} changed while the dataset was being rewritten; run again")
    return record


def simulate(
    out_dir: Path,
    n_photons: int,
    n_diphoton: int,
    seed: int,
    cfg: GeneratorConfig | None = None,
    progress: bool = True,
    n_resonance: int | None = None,
    kinds: Collection[str] | None = None,
    reuse: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """Simulate both domains of the three samples into ``out_dir``; returns name -> path.

    ``n_resonance`` counts resonance *events* (two photon rows each); None: as many photons as
    the photon sample. ``kinds``: only these samples (None: all three); each file is its own
    random stream, so a member comes out byte-identical either way. ``reuse``: name -> sha256
    of ``out_dir``'s members that the caller checked current for these arguments (seed, sizes,
    config, generator version); they are hard-linked into the new folder instead of simulated
    again, which would write the same bytes. ``out_dir`` must be
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
    unknown = sorted(set(kinds or ()) - set(CHUNK_FNS))
    if unknown or (kinds is not None and not kinds):
        raise DatrigError(f"samples to simulate: any of {', '.join(CHUNK_FNS)}, got {unknown}")
    out_dir = Path(out_dir)
    rows = {"photons": n_photons, "diphoton": n_diphoton, "resonance": 2 * n_resonance}
    rows = {kind: n for kind, n in rows.items() if kinds is None or kind in kinds}
    jobs = [
        (name, SampleSpec(kind, domain, rows[kind], STREAMS[(kind, domain)]))
        for (kind, domain), name in FILE_NAMES.items()
        if kind in rows
    ]
    reuse = {name: sha for name, sha in (reuse or {}).items() if name in dict(jobs)}
    to_write = [(name, spec) for name, spec in jobs if name not in reuse]
    _check_free_space(out_dir, [spec for _, spec in to_write])
    total = sum(spec.n_rows for _, spec in to_write)
    with (
        destination_lock(out_dir),
        atomic_dir(out_dir, DATASET) as tmp,
        tqdm(total=total, unit="row", desc="simulate", disable=not progress, leave=False) as bar,
    ):
        members, specs = {}, dict(jobs)
        for name, sha in reuse.items():
            members[name] = {
                **_carry(out_dir / name, tmp / name, sha),
                "n_rows": specs[name].n_rows,
            }
        written = _write_members(tmp, to_write, seed, cfg, bar, _workers(total))
        with contextlib.closing(written):  # stops the workers first if anything below fails
            for name in written:
                members[name] = {**member_record(tmp / name), "n_rows": specs[name].n_rows}
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
                files=members,  # written with sorted keys: the same bytes in any order
            ),
        )
        pause_point("simulate:before-swap")
    return {name: out_dir / name for name, _ in jobs}
