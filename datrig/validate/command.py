"""``datrig validate``: physics validation of a model's DA methods on the firmware's outputs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from datrig import paths
from datrig.errors import DatrigError
from datrig.validate.predictions import PREDICTIONS_FILE, load_predictions
from datrig.validate.report import METHOD_ORDER, RunColumns, build_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model name, e.g. photon_id")
    parser.add_argument(
        "--runs",
        nargs="+",
        type=Path,
        metavar="RUN_DIR",
        help="QAT run directories (default: runs/<model>/<da>/ for da in "
        + ", ".join(METHOD_ORDER)
        + ")",
    )
    parser.add_argument("--out", type=Path, help="report directory (default: reports/<model>/)")
    parser.add_argument(
        "--no-firmware",
        action="store_true",
        help="validate the float and Brevitas outputs only (skip export + emulation)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed for baseline cross-fitting")


def default_runs(model: str) -> list[Path]:
    """Every existing run of ``model``, one per DA method, in the report's method order."""
    found = [
        paths.run_dir(model, da)
        for da in METHOD_ORDER
        if (paths.run_dir(model, da) / PREDICTIONS_FILE).is_file()
    ]
    if not found:
        raise DatrigError(
            f"no runs of model {model!r} under {paths.RUNS_DIR}/{model}/; run "
            f"`datrig qat --model {model} --da none` (and disco, adversarial, frt) first"
        )
    return found


def run(args: argparse.Namespace) -> int:
    run_dirs = list(args.runs) if args.runs else default_runs(args.model)
    out_dir = args.out or paths.report_dir(args.model)
    columns = []
    for run_dir in tqdm(run_dirs, desc="validate", unit="run", file=sys.stderr):
        preds = load_predictions(run_dir)
        if preds.model != args.model:
            raise DatrigError(
                f"{run_dir} is a run of model {preds.model!r}, not {args.model!r}; "
                "pass --model to match or drop that run"
            )
        firmware = None
        if not args.no_firmware:
            from datrig.validate.firmware import firmware_outputs

            project = out_dir / "firmware" / preds.da
            firmware = firmware_outputs(preds, project, seed=args.seed)
        columns.append(RunColumns(preds, firmware))
    build_report(columns, out_dir, seed=args.seed)
    print(f"validation report written to {out_dir / 'report.md'}")
    return 0
