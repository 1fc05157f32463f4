"""Produce the four standard files: photons_{sim,data}.h5 and diphoton_{sim,data}.h5."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

from datrig.atomic import write_json
from datrig.errors import DatrigError
from datrig.provenance import sidecar
from datrig.sim.candidates import photon_chunk
from datrig.sim.config import GENERATOR_VERSION, GeneratorConfig
from datrig.sim.diphoton import diphoton_chunk
from datrig.sim.geometry import N_CELLS
from datrig.sim.writer import SampleSpec, write_sample

FILE_NAMES: dict[tuple[str, str], str] = {
    ("photons", "sim"): "photons_sim.h5",
    ("photons", "data"): "photons_data.h5",
    ("diphoton", "sim"): "diphoton_sim.h5",
    ("diphoton", "data"): "diphoton_data.h5",
}
STREAMS: dict[tuple[str, str], int] = {key: i for i, key in enumerate(FILE_NAMES)}
SIDECAR_NAME = "simulate.json"


def _photon_fn(cfg: GeneratorConfig, domain: str, rng, n):
    return photon_chunk(rng, n, cfg, domain)


def _diphoton_fn(cfg: GeneratorConfig, domain: str, rng, n):
    return diphoton_chunk(rng, n, cfg, domain), None


def check_writable(out_dir: Path) -> None:
    """Fail early (before minutes of simulation) if ``out_dir`` cannot take our files."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".datrig-probe-", dir=out_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise DatrigError(
            f"cannot write to output directory {out_dir}: {exc.strerror}; choose another --out"
        ) from None


def simulate(
    out_dir: Path,
    n_photons: int,
    n_diphoton: int,
    seed: int,
    cfg: GeneratorConfig | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Simulate both domains of both samples into ``out_dir``; returns name -> path."""
    from tqdm import tqdm

    cfg = cfg or GeneratorConfig()
    if n_photons < 1 or n_diphoton < 1:
        raise DatrigError(
            f"need at least 1 row per file, got n={n_photons}, n-diphoton={n_diphoton}"
        )
    if seed < 0:
        raise DatrigError(f"--seed must be >= 0, got {seed}")
    out_dir = Path(out_dir)
    check_writable(out_dir)
    total = 2 * n_photons + 2 * n_diphoton
    written: dict[str, Path] = {}
    with tqdm(total=total, unit="row", desc="simulate", disable=not progress, leave=False) as bar:
        for (kind, domain), name in FILE_NAMES.items():
            n = n_photons if kind == "photons" else n_diphoton
            fn = _photon_fn if kind == "photons" else _diphoton_fn
            bar.set_postfix_str(name)
            write_sample(
                out_dir / name,
                SampleSpec(kind, domain, n, STREAMS[(kind, domain)]),
                seed,
                cfg,
                functools.partial(fn, cfg, domain),
                N_CELLS if kind == "photons" else None,
                bar.update,
            )
            written[name] = out_dir / name
    write_json(
        out_dir / SIDECAR_NAME,
        sidecar(
            stage="simulate",
            seed=seed,
            generator_version=GENERATOR_VERSION,
            n_photons=n_photons,
            n_diphoton=n_diphoton,
            config=cfg.to_dict(),
            outputs=sorted(written),
        ),
    )
    return written
