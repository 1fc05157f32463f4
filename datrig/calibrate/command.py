"""``datrig calibrate``: the data-driven photon calibration on the firmware's own outputs.

For each run: its exported project (exported first when missing or stale) gives the firmware
score of every candidate, computed by the bit-accurate emulator from the raw events of the
schema files; then the ABCD fake yield in the signal region and the photon ID efficiency are
measured in the ``data`` domain, per pT, pT x |eta| and k-means bin, with closure against the
toy's truth. Default events: each run's test split; ``--data DIR``: all candidates of DIR.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from datrig.argtypes import fraction, non_negative_int, positive_int
from datrig.calibrate.analysis import Settings
from datrig.errors import DatrigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--run",
        nargs="+",
        type=Path,
        required=True,
        metavar="RUN_DIR",
        help="QAT run(s) of a photon-ID model; several runs are compared (one per method); "
        "with --energy: one energy-regression run",
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="folder of datrig photon files (photons_sim.h5, photons_data.h5) to evaluate, "
        "e.g. `datrig simulate --n 1000000 --seed 7` (default: each run's test split)",
    )
    parser.add_argument("--out", type=Path, help="output folder (default reports/calibration)")
    parser.add_argument(
        "--replicas",
        type=positive_int,
        default=Settings().n_replicas,
        help="bootstrap replicas for the statistical uncertainties",
    )
    parser.add_argument(
        "--id-efficiency",
        type=fraction,
        default=Settings().id_efficiency,
        help="tight ID: the fraction of simulated photons that pass it",
    )
    parser.add_argument(
        "--control-efficiency",
        type=fraction,
        default=Settings().control_efficiency,
        help="control band: scores below this simulated-photon efficiency (closer to 1: less "
        "photon leakage, fewer fakes)",
    )
    parser.add_argument(
        "--peers",
        nargs="*",
        default=None,
        metavar="PEER",
        help="peer methods fitted on each run's training sample and measured on the same "
        "candidates (default: all of cut_based, gbdt, gbdt_ddt, flat_bdt, flat_bdt_pt; none: "
        "`--peers` alone)",
    )
    parser.add_argument(
        "--energy",
        action="store_true",
        help="instead: the in-situ energy scale of one energy-regression run, from the "
        "resonance peak of --data's resonance_{sim,data}.h5 (default out "
        "reports/energy_calibration)",
    )
    parser.add_argument("--seed", type=non_negative_int, default=1, help="bootstrap and k-means")


def run(args: argparse.Namespace) -> int:
    from datrig.calibrate.artefact import calibrate_into
    from datrig.paths import REPORTS_DIR

    if args.energy:
        return _run_energy(args)
    out = args.out or REPORTS_DIR / "calibration"
    if not args.id_efficiency < args.control_efficiency:
        raise DatrigError(
            f"--control-efficiency ({args.control_efficiency:g}) must be above --id-efficiency "
            f"({args.id_efficiency:g}): the control band lies below the tight ID"
        )
    from datrig.validate.peers import resolve_peers

    settings = Settings(
        peers=resolve_peers(args.peers),
        n_replicas=args.replicas,
        seed=args.seed,
        id_efficiency=args.id_efficiency,
        control_efficiency=args.control_efficiency,
    )
    report = calibrate_into(args.run, args.data, out, settings)
    print(f"calibration written to {report}", file=sys.stderr)
    return 0


def _run_energy(args: argparse.Namespace) -> int:
    from datrig.calibrate.artefact import calibrate_energy_into
    from datrig.calibrate.energy_scale import ScaleSettings
    from datrig.paths import REPORTS_DIR

    if len(args.run) != 1:
        raise DatrigError(
            f"--energy calibrates one run at a time, got {len(args.run)}; give each its --out"
        )
    out = args.out or REPORTS_DIR / "energy_calibration"
    report = calibrate_energy_into(args.run[0], args.data, out, ScaleSettings(seed=args.seed))
    print(f"energy calibration written to {report}", file=sys.stderr)
    return 0
