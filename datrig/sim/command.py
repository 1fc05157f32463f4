"""``datrig simulate``: the toy calorimeter's six HDF5 files (docs/artefacts.md section 1)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from datrig.errors import DatrigError
from datrig.sim.default import (
    DEFAULT_N_DIPHOTON,
    DEFAULT_N_PHOTONS,
    DEFAULT_N_RESONANCE,
    resonance_events,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--n",
        type=int,
        default=DEFAULT_N_PHOTONS,
        help=f"photon candidates per domain (default {DEFAULT_N_PHOTONS})",
    )
    parser.add_argument(
        "--n-diphoton",
        type=int,
        default=None,
        help=f"diphoton events per domain (default {DEFAULT_N_DIPHOTON}, or --n if given)",
    )
    parser.add_argument(
        "--n-resonance",
        type=int,
        default=None,
        help=f"resonance events per domain, two photons each (default {DEFAULT_N_RESONANCE}, "
        "or --n / 2 if --n is given)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same bytes)")
    parser.add_argument("--config", type=Path, default=None, help="generator config (YAML/JSON)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from datrig.sim.config import load_config
    from datrig.sim.simulate import simulate

    if args.n < 1:
        raise DatrigError(f"--n must be a positive number of candidates, got {args.n}")
    n_diphoton = args.n_diphoton
    if n_diphoton is None:
        n_diphoton = DEFAULT_N_DIPHOTON if args.n == DEFAULT_N_PHOTONS else args.n
    if n_diphoton < 1:
        raise DatrigError(f"--n-diphoton must be a positive number of events, got {n_diphoton}")
    n_resonance = args.n_resonance
    if n_resonance is None:
        n_resonance = resonance_events(args.n)
    if n_resonance < 1:
        raise DatrigError(f"--n-resonance must be a positive number of events, got {n_resonance}")
    cfg = load_config(args.config)
    written = simulate(
        args.out,
        args.n,
        n_diphoton,
        args.seed,
        cfg,
        progress=not args.quiet,
        n_resonance=n_resonance,
    )
    for path in written.values():
        print(f"wrote {path}", file=sys.stdout)
    return 0
