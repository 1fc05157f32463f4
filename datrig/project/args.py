"""Command-line arguments shared by the commands that run a project (emulate, csim, verify)."""

from __future__ import annotations

import argparse
from pathlib import Path

from datrig.argtypes import positive_int
from datrig.data.splits import SPLITS


def add_project_arguments(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--model", help="model name: uses hls_projects/<model>/")
    who.add_argument("--project", type=Path, help="project directory")


def add_input_arguments(
    parser: argparse.ArgumentParser, *, required: bool, default_events: int | None = None
) -> None:
    parser.add_argument(
        "--input",
        type=Path,
        required=required,
        help="events: a datrig photons/diphoton .h5 (any seed or your own), a run's "
        "predictions_test.h5, or a .npy of network inputs (N, ...)"
        + ("" if required else " (default: the run's test predictions, else seeded inputs)"),
    )
    parser.add_argument(
        "--events",
        type=positive_int,
        default=default_events,
        help="use the first N events" + (f" (default {default_events})" if default_events else ""),
    )
    parser.add_argument(
        "--split",
        choices=list(SPLITS),
        help="with a datrig event file: only this split's rows (e.g. test, as in a QAT run)",
    )
