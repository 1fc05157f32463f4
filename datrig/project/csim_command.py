"""``datrig csim``: run a verified project's compiled C-simulation on inputs, save outputs."""

from __future__ import annotations

import argparse
from pathlib import Path

from datrig.argtypes import non_negative_int
from datrig.errors import DatrigError
from datrig.paths import hls_project_dir
from datrig.project.args import add_input_arguments, add_project_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_project_arguments(parser)
    add_input_arguments(parser, required=True)
    parser.add_argument("--out", type=Path, required=True, help="outputs Y.npy (N, n_out)")
    parser.add_argument(
        "--seed", type=non_negative_int, default=1, help="unused: C-sim is deterministic"
    )


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from datrig.atomic import atomic_path
    from datrig.project.meta import FirmwareProject

    if args.out.suffix != ".npy":
        raise DatrigError(f"--out must be a .npy file, got {args.out}")
    project = FirmwareProject.load(args.project or hls_project_dir(args.model))
    y = project.csim(project.read_inputs(args.input, args.events, args.split))
    with atomic_path(args.out) as tmp, open(tmp, "wb") as fh:
        np.save(fh, y)
    print(f"C-sim outputs of {len(y)} events written to {args.out}")
    return 0
