"""``datrig verify``: emulator vs C-simulation bit for bit on N events of a written project.

The events (:func:`verify_inputs`) are shared with the RTL check (``datrig verify --rtl``,
:mod:`datrig.firmware.verify_command`).
"""

from __future__ import annotations

import argparse

import numpy as np

from datrig.argtypes import non_negative_int
from datrig.bounds import check_events
from datrig.paths import hls_project_dir, predictions_path, run_dir
from datrig.project.args import add_input_arguments, add_project_arguments
from datrig.project.meta import FirmwareProject, load_project

DEFAULT_EVENTS = 10_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_project_arguments(parser)
    add_input_arguments(parser, required=False)
    parser.add_argument(
        "--da", default=None, help="DA method of the run for default inputs (default: shipped)"
    )
    parser.add_argument("--seed", type=non_negative_int, default=1, help="seed for random inputs")


def verify_inputs(project: FirmwareProject, args: argparse.Namespace) -> tuple[np.ndarray, str]:
    """The events of ``datrig verify`` (float64, project layout) and where they come from.

    ``--input FILE``: its first ``--events`` events. Otherwise the run's test events
    (``predictions_test.h5``), topped up to ``--events`` with seeded uniform inputs over
    +-``verification.input_range`` (beyond every input quantizer's saturation), or only those
    when the run is not there.
    """
    from datrig.models.registry import MODELS, get_model_spec
    from datrig.project.verify import seeded_inputs

    check_events(args.events, project.bytes_per_event())
    if args.input is not None:  # a file is read whole unless --events says fewer
        x = project.read_inputs(args.input, args.events, args.split)
        short = f" (the file holds only {len(x):,})" if len(x) < (args.events or 0) else ""
        return x, f"{len(x):,} events of {args.input}{short}"
    args.events = args.events or DEFAULT_EVENTS
    parts, what = [], []
    if args.model in MODELS:
        da = args.da or get_model_spec(args.model).shipped_da
        candidate = predictions_path(run_dir(args.model, da))
        if candidate.is_file():
            parts.append(project.read_inputs(candidate, args.events, args.split))
            what.append(f"{len(parts[0]):,} test events of {candidate}")
    n_seeded = args.events - sum(len(p) for p in parts)
    if n_seeded > 0:
        fw = project.meta.firmware
        r = fw.verification.input_range
        parts.append(seeded_inputs(project.meta.input_shape, n_seeded, r, args.seed))
        what.append(f"{n_seeded:,} seeded uniform inputs in +-{r:g} (seed {args.seed})")
    return np.concatenate(parts), " + ".join(what)


def run(args: argparse.Namespace) -> int:
    project = load_project(args.project or hls_project_dir(args.model), native=True)
    x, what = verify_inputs(project, args)
    print(f"inputs: {what}")
    print(project.verify(x).message())
    return 0
