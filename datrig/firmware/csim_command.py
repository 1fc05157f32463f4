"""``datrig csim``: run a verified project's compiled C-simulation on inputs, save outputs."""

from __future__ import annotations

import argparse
from pathlib import Path

from datrig.errors import DatrigError
from datrig.paths import hls_project_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--model", help="model name: uses hls_projects/<model>/")
    who.add_argument("--project", type=Path, help="project directory")
    parser.add_argument("--input", type=Path, required=True, help="inputs X.npy or .h5")
    parser.add_argument("--out", type=Path, required=True, help="outputs Y.npy (N, n_out)")
    parser.add_argument("--seed", type=int, default=1, help="unused: C-sim is deterministic")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from datrig.atomic import atomic_path
    from datrig.export.inputs import read_inputs
    from datrig.firmware.csim import CsimLibrary

    project = args.project or hls_project_dir(args.model)
    if args.out.suffix != ".npy":
        raise DatrigError(f"--out must be a .npy file, got {args.out}")
    library = CsimLibrary.from_project(project)
    y = library.predict(read_inputs(args.input))
    with atomic_path(args.out) as tmp:
        np.save(tmp, y)
    print(f"C-sim outputs of {len(y)} events written to {args.out}")
    return 0
