"""``datrig emulate``: run the bit-accurate emulator of a firmware project on input events."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from datrig.argtypes import non_negative_int
from datrig.paths import hls_project_dir
from datrig.project.args import add_input_arguments, add_project_arguments
from datrig.provenance import sidecar

CHUNK = 65536  # events per emulator call (bounded memory, visible progress)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_project_arguments(parser)
    add_input_arguments(parser, required=True)
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="outputs: .npy (float64), or .root (a friend tree of the input), .parquet or .h5 "
        "(with each candidate's entry number)",
    )
    parser.add_argument(
        "--method",
        choices=("fast", "stepwise"),
        default="fast",
        help="fast (default) or the int64 stepwise reference; both give identical bits",
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, help="recorded only: emulation is exact"
    )


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from datrig.emulate.runner import emulate
    from datrig.project.meta import load_project
    from datrig.project.outputs import check_event_output, write_event_output

    check_event_output(args.out, "emulate", args.input)
    project = load_project(args.project or hls_project_dir(args.model), native=False)
    x, where = project.read_events(args.input, args.events, args.split)
    parts = []
    with tqdm(total=len(x), unit="ev", file=sys.stderr, desc="emulate") as bar:
        for start in range(0, len(x), CHUNK):
            parts.append(emulate(project.ir, x[start : start + CHUNK], method=args.method).output)
            bar.update(len(parts[-1]))
    y = np.concatenate(parts).reshape(len(x), -1)
    record = sidecar(
        stage="emulate",
        seed=args.seed,
        inputs={"input": args.input, "ir": project.path / "emulator_ir.npz"},
        n_events=len(y),
        network=project.ir.name,
    )
    write_event_output(args.out, y, "emulate", record, where)
    print(f"emulated {len(y)} events with {project.ir.name} -> {args.out}", file=sys.stderr)
    return 0
