"""``datrig verify``: emulator vs C-simulation bit for bit on N events of a written project."""

from __future__ import annotations

import argparse

from datrig.paths import hls_project_dir, run_dir
from datrig.project.args import add_input_arguments, add_project_arguments

DEFAULT_EVENTS = 10_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_project_arguments(parser)
    add_input_arguments(parser, required=False, default_events=DEFAULT_EVENTS)
    parser.add_argument(
        "--da", default=None, help="DA method of the run for default inputs (default: shipped)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed for random inputs")


def run(args: argparse.Namespace) -> int:
    from datrig.models.registry import MODELS, get_model_spec
    from datrig.project.meta import FirmwareProject
    from datrig.project.verify import seeded_inputs

    project = FirmwareProject.load(args.project or hls_project_dir(args.model))
    source = args.input
    if source is None and args.model in MODELS:
        da = args.da or get_model_spec(args.model).shipped_da
        candidate = run_dir(args.model, da) / "predictions_test.h5"
        source = candidate if candidate.is_file() else None
    if source is not None:
        x = project.read_inputs(source, args.events, args.split)
    else:
        fw = project.meta.firmware
        x = seeded_inputs(
            project.meta.input_shape, args.events, fw.verification.input_range, args.seed
        )
    print(project.verify(x).message())
    return 0
