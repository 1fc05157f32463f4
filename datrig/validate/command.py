"""``datrig validate``: physics validation of a model's DA methods on the firmware's outputs.

Without ``--runs`` it compares every registered penalty: the runs ``runs/<model>/<da>/`` that
are missing (or were trained with other settings) are trained first, seeded and cached, on
the default data (or ``--data``), unless ``--no-train`` is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from datrig import paths
from datrig.argtypes import non_negative_int, positive_int
from datrig.atomic import ArtefactKind, atomic_dir, check_replaceable, destination_lock
from datrig.errors import DatrigError
from datrig.faults import pause_point
from datrig.train.predictions import PREDICTIONS_FILE, load_predictions
from datrig.validate.report import RunColumns, build_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from datrig.da.registry import PENALTIES
    from datrig.validate.peers import PEERS

    parser.add_argument("--model", required=True, help="model name, e.g. photon_id")
    parser.add_argument(
        "--runs",
        nargs="+",
        type=Path,
        metavar="RUN_DIR",
        help="QAT run directories (default: runs/<model>/<da>/ for every registered penalty: "
        + ", ".join(PENALTIES)
        + ")",
    )
    parser.add_argument(
        "--no-train",
        action="store_true",
        help="compare only the runs that exist; never train the missing ones",
    )
    parser.add_argument("--data", type=Path, help="dataset of missing runs (default: simulated)")
    parser.add_argument("--out", type=Path, help="report directory (default: reports/<model>/)")
    parser.add_argument(
        "--no-firmware",
        action="store_true",
        help="validate the float and Brevitas outputs only (skip export + emulation)",
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=1, help="seed of missing runs and baselines"
    )
    parser.add_argument(
        "--seeds",
        type=positive_int,
        default=3,
        help="training seeds of the model's shipped penalty (seed, seed+1, ...; the extra runs "
        "go to runs/<model>/<da>-seed<k>/), for the spread of its figures",
    )
    parser.add_argument(
        "--peers",
        nargs="*",
        default=None,
        metavar="PEER",
        help="photon ID: peer methods fitted on the runs' training sample and measured on the "
        "same events "
        f"(default: all of {', '.join(PEERS)}; none: `--peers` alone)",
    )


REPORT = ArtefactKind("validation report", "validate.json", "validate", derived=())
FIRMWARE_DIR = "firmware"  # the projects exported for the runs


def existing_runs(model: str) -> list[Path]:
    """Every existing run of ``model``, one per registered DA method, in registry order."""
    from datrig.da.registry import PENALTIES

    return [
        paths.run_dir(model, da)
        for da in PENALTIES
        if (paths.run_dir(model, da) / PREDICTIONS_FILE).is_file()
    ]


def method_runs(model: str, data_dir: Path | None, seed: int, seeds: int = 1) -> list[Path]:
    """One current run per registered penalty that applies to the model (a pT-conditional
    penalty needs a model with a conditioning variable, a compensating one a model with a
    compensation branch), plus ``seeds - 1`` more seeds of the shipped penalty, training those
    missing or stale."""
    from datrig.da.registry import PENALTIES
    from datrig.models.registry import get_model_spec
    from datrig.sim.default import ensure_default_data
    from datrig.train.runs import ensure_run, resolve_config

    spec = get_model_spec(model)  # unknown model: one clear line before any work
    data_dir = data_dir or ensure_default_data(paths.DEFAULT_DATA_DIR)
    methods = [
        (da, seed, paths.run_dir(model, da))
        for da, cls in PENALTIES.items()
        if cls.applies_to_model(spec)
    ]
    methods += [
        (spec.shipped_da, seed + k, paths.run_dir(model, f"{spec.shipped_da}-seed{k + 1}"))
        for k in range(1, seeds)
    ]
    runs = []
    for da, run_seed, out in tqdm(methods, desc=f"runs of {model}", unit="run", file=sys.stderr):
        cfg = resolve_config(model, da, data_dir, run_seed)
        runs.append(
            ensure_run(cfg, out, say=lambda m: print(f"datrig validate [qat] {m}", file=sys.stderr))
        )
    return runs


def _same_family(model: str, other: str) -> bool:
    """A shipped model validated beside another of its family (photon_id_bdt beside
    photon_id: the firmware BDT next to the firmware network, on the same figures)."""
    from datrig.models.registry import MODELS

    return model in MODELS and other in MODELS and MODELS[model].family == MODELS[other].family


def run(args: argparse.Namespace) -> int:
    from datrig.validate.peers import resolve_peers

    peers = resolve_peers(args.peers)  # before any training: a typo fails in a second
    out_dir = args.out or paths.report_dir(args.model)
    check_replaceable(out_dir, REPORT)  # never a user's folder or another artefact
    if args.runs:
        run_dirs = list(args.runs)
    elif args.no_train:
        run_dirs = existing_runs(args.model)
        if not run_dirs:
            raise DatrigError(
                f"no runs of model {args.model!r} under {paths.RUNS_DIR}/{args.model}/; drop "
                "--no-train to train them, or pass --runs"
            )
    else:
        run_dirs = method_runs(args.model, args.data, args.seed, args.seeds)
    with destination_lock(out_dir), atomic_dir(out_dir, REPORT) as tmp:
        from datrig.firmware.run_firmware import keep_projects

        keep_projects(out_dir / FIRMWARE_DIR, tmp / FIRMWARE_DIR)
        columns = []
        for run_dir in tqdm(run_dirs, desc="validate", unit="run", file=sys.stderr):
            preds = load_predictions(run_dir)
            if preds.model != args.model and not _same_family(preds.model, args.model):
                raise DatrigError(
                    f"{run_dir} is a run of model {preds.model!r}, not {args.model!r}; "
                    "pass --model to match or drop that run"
                )
            firmware = None
            if not args.no_firmware:
                from datrig.firmware.run_firmware import firmware_outputs

                folder = preds.da if preds.model == args.model else f"{preds.model}-{preds.da}"
                project = tmp / FIRMWARE_DIR / folder  # both checked as names at load
                firmware = firmware_outputs(preds, project, seed=args.seed)
            columns.append(RunColumns(preds, firmware))
        if any(c.preds.task_config is not None for c in columns):  # runs of a task
            from datrig.validate.task_report import build_task_report

            build_task_report(columns, tmp, seed=args.seed)
        else:
            build_report(columns, tmp, seed=args.seed, peers=peers)
        pause_point("validate:before-swap")
    print(f"validation report written to {out_dir / 'report.md'}")
    return 0
