"""``datrig csim``: run a verified project's compiled C-simulation on inputs, save outputs."""

from __future__ import annotations

import argparse
from pathlib import Path

from datrig.argtypes import non_negative_int
from datrig.paths import hls_project_dir
from datrig.project.args import add_input_arguments, add_project_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_project_arguments(parser)
    add_input_arguments(parser, required=True)
    parser.add_argument("--out", type=Path, required=True, help="outputs Y.npy (N, n_out)")
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=1,
        help="recorded with the outputs like every command's seed (the C-simulation itself "
        "draws nothing at random)",
    )


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from datrig.project.meta import load_project
    from datrig.project.outputs import check_event_output, write_event_output
    from datrig.provenance import sidecar

    check_event_output(args.out, "csim", args.input)
    project = load_project(args.project or hls_project_dir(args.model), native=True)
    x, where = project.read_events(args.input, args.events, args.split)
    y = project.csim(x)
    record = sidecar(stage="csim", seed=args.seed, inputs={"input": args.input}, n_events=len(y))
    write_event_output(args.out, np.asarray(y), "csim", record, where)
    print(f"C-sim outputs of {len(y)} events written to {args.out}")
    return 0
