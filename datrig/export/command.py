"""``datrig export``: a QAT run's checkpoint -> verified hls4ml project in hls_projects/<model>/."""

from __future__ import annotations

import argparse
from pathlib import Path

from datrig.argtypes import non_negative_int, positive_int
from datrig.errors import DatrigError
from datrig.paths import hls_project_dir, predictions_path, run_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", help="model name, e.g. photon_id (default: the run's own, with --run)"
    )
    parser.add_argument(
        "--da", default=None, help="DA method of the run (default: the model's shipped one)"
    )
    parser.add_argument("--run", type=Path, help="run directory (default: runs/<model>/<da>/)")
    parser.add_argument("--out", type=Path, help="project directory (default hls_projects/<model>)")
    parser.add_argument("--config", type=Path, help="firmware YAML (firmware_configs/<model>.yml)")
    parser.add_argument(
        "--events", type=positive_int, help="verification events (default: from config)"
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=1, help="seed for random calibration inputs"
    )


def run(args: argparse.Namespace) -> int:
    from datrig.export.project import export_checkpoint
    from datrig.project.config import config_for_run
    from datrig.project.inputs import calibration_inputs
    from datrig.runtime import configure_torch, seed_everything
    from datrig.train.runs import run_identity

    configure_torch()
    seed_everything(args.seed)
    if args.model is None and args.run is None:
        raise DatrigError("give --run RUN (a QAT run folder) or --model NAME")
    task = None
    if args.run is not None:
        recorded, task = run_identity(args.run)
        if args.model is not None and args.model != recorded:
            raise DatrigError(
                f"{args.run} holds a {recorded} model, not {args.model}: export it with --model "
                f"{recorded}, or pass the run of a {args.model} model"
            )
        args.model = recorded
    fw = config_for_run(args.model, task, args.config)
    if args.events is not None:
        fw = fw.with_events(args.events)
    run_path = args.run or run_dir(args.model, args.da or _shipped_da(args.model))
    checkpoint = run_path / "checkpoint.pt"
    if not checkpoint.is_file():
        raise DatrigError(f"no checkpoint at {checkpoint}; run `datrig qat --model {args.model}`")
    predictions = predictions_path(run_path)
    if not predictions.is_file():
        raise DatrigError(f"no {predictions} to calibrate and verify with; re-run datrig qat")
    calib = calibration_inputs(run_path, fw.verification.n_events)
    out = args.out or hls_project_dir(args.model)
    result = export_checkpoint(checkpoint, out, fw, calib_inputs=calib, seed=args.seed)
    for comparison in result.comparisons:
        print(comparison.message())
    print(f"verified hls4ml project written to {result.project_dir}")
    return 0


def _shipped_da(model: str) -> str:
    from datrig.models.registry import get_model_spec

    return get_model_spec(model).shipped_da
