"""``datrig verify``: emulator vs C-simulation bit for bit on N events of a written project."""

from __future__ import annotations

import argparse
from pathlib import Path

from datrig.paths import hls_project_dir, run_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--model", help="model name: uses hls_projects/<model>/")
    who.add_argument("--project", type=Path, help="project directory")
    parser.add_argument("--events", type=int, default=10_000, help="number of events")
    parser.add_argument(
        "--input",
        type=Path,
        help="inputs .npy/.h5 (default: the run's test "
        "predictions if present, else seeded random inputs)",
    )
    parser.add_argument("--da", default="disco", help="DA method of the run for default inputs")
    parser.add_argument("--seed", type=int, default=1, help="seed for random inputs")


def run(args: argparse.Namespace) -> int:
    from datrig.export.inputs import read_inputs
    from datrig.firmware.verify import verify_project

    project = args.project or hls_project_dir(args.model)
    source = args.input
    if source is None and args.model:
        candidate = run_dir(args.model, args.da) / "predictions_test.h5"
        source = candidate if candidate.is_file() else None
    inputs = read_inputs(source, limit=args.events) if source else None
    comparison = verify_project(project, n_events=args.events, inputs=inputs, seed=args.seed)
    print(comparison.message())
    return 0
