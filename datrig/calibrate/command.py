"""``datrig calibrate``: the data-driven photon calibration on the firmware's own outputs.

For each run: its exported project (exported first when missing or stale) gives the firmware
score of every candidate, computed by the bit-accurate emulator from the raw events of the
schema files; then the ABCD fake yield in the signal region and the photon ID efficiency are
measured in the ``data`` domain, per pT, pT x |eta| and k-means bin, with closure against the
toy's truth. Default events: each run's test split; ``--data DIR``: all candidates of DIR.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from datrig.argtypes import fraction, non_negative_int, positive_int
from datrig.calibrate.analysis import Settings
from datrig.errors import DatrigError
from datrig.train.runs import model_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from datrig.validate.peers import PEERS

    parser.add_argument(
        "--run",
        nargs="+",
        type=Path,
        metavar="RUN_DIR",
        help="QAT run(s) of a photon-ID model or of a task's ID; several runs are compared "
        "(one per method); with --energy: one energy-regression run",
    )
    parser.add_argument(
        "--project",
        type=Path,
        help="instead of --run: a project imported with `datrig import --task` (a network "
        "trained elsewhere), calibrated on the task's samples (--task)",
    )
    parser.add_argument("--task", type=Path, help="with --project: the task file")
    parser.add_argument(
        "--data",
        type=Path,
        help="what to evaluate: a folder of datrig photon files (photons_sim.h5, "
        "photons_data.h5), e.g. `datrig simulate --n 1000000 --seed 7`; for a task: a data "
        "ntuple of the task's format (default: each run's test split)",
    )
    parser.add_argument("--out", type=Path, help="output folder (default reports/calibration)")
    parser.add_argument(
        "--replicas",
        type=positive_int,
        default=Settings().n_replicas,
        help="bootstrap replicas for the statistical uncertainties",
    )
    parser.add_argument(
        "--id-efficiency",
        type=fraction,
        default=Settings().id_efficiency,
        help="tight ID: the fraction of simulated photons that pass it",
    )
    parser.add_argument(
        "--control-efficiency",
        type=fraction,
        default=Settings().control_efficiency,
        help="control band: scores below this simulated-photon efficiency (closer to 1: less "
        "photon leakage, fewer fakes)",
    )
    parser.add_argument(
        "--peers",
        nargs="*",
        default=None,
        metavar="PEER",
        help="peer methods fitted on each run's training sample and measured on the same "
        "candidates "
        f"(default: all of {', '.join(PEERS)}; none: `--peers` alone)",
    )
    parser.add_argument(
        "--energy",
        action="store_true",
        help="instead: the in-situ energy scale of one energy-regression run, from the "
        "resonance peak of --data's resonance_{sim,data}.h5 (default out "
        "reports/energy_calibration)",
    )
    parser.add_argument("--seed", type=non_negative_int, default=1, help="bootstrap and k-means")


def run(args: argparse.Namespace) -> int:
    from datrig.calibrate.artefact import calibrate_into
    from datrig.paths import REPORTS_DIR

    if args.energy:
        return _run_energy(args)
    if (args.run is None) == (args.project is None) or (args.project is None) != (
        args.task is None
    ):
        raise DatrigError("give --run RUN... , or --project P --task TASK (an imported network)")
    out = args.out or REPORTS_DIR / "calibration"
    if not args.id_efficiency < args.control_efficiency:
        raise DatrigError(
            f"--control-efficiency ({args.control_efficiency:g}) must be above --id-efficiency "
            f"({args.id_efficiency:g}): the control band lies below the tight ID"
        )
    from datrig.validate.peers import resolve_peers

    settings = Settings(
        peers=resolve_peers(args.peers),
        n_replicas=args.replicas,
        seed=args.seed,
        id_efficiency=args.id_efficiency,
        control_efficiency=args.control_efficiency,
    )
    if args.project or _task_runs(args.run):
        from datrig.calibrate.task_calibration import calibrate_task_into

        data_file = _task_data_file(args)
        inputs = (
            {"project": args.project / "datrig_project.json"}
            if args.project
            else {f"run{k}/model": model_file(r) for k, r in enumerate(args.run)}
        )
        report = calibrate_task_into(
            lambda staging: _task_entries(args, staging, settings), data_file, out, settings,
            inputs,
        )  # fmt: skip
    else:
        report = calibrate_into(args.run, args.data, out, settings)
    print(f"calibration written to {report}", file=sys.stderr)
    return 0


def _task_data_file(args: argparse.Namespace) -> Path | None:
    """``--data`` of a task calibration: a data ntuple of the task's format, or (a task on the
    toy) a simulated folder whose two domains are both evaluated; anything else is an error."""
    from datrig.calibrate.task_calibration import run_task

    if args.data is None or args.data.is_file():
        return args.data
    toy = args.project is None and all(run_task(r).uses_toy for r in args.run)
    if not (args.data.is_dir() and toy):
        raise DatrigError(
            f"--data {args.data}: give a data file of the task's format (a folder is read only "
            "for a task on the toy, as a `datrig simulate` dataset)"
        )
    return None


def _task_runs(runs: list[Path]) -> bool:
    """Whether the runs are runs of a task (all of them; a mix is refused)."""
    from datrig.calibrate.task_calibration import run_task

    kinds = {run_task(r) is not None for r in runs}
    if len(kinds) > 1:
        raise DatrigError("calibrate either runs of a task or runs of shipped models, not both")
    return kinds == {True}


def _task_entries(args: argparse.Namespace, out: Path, settings: Settings) -> list:
    """(project, task, method, task dataset) per run or for the imported project; a run
    without a current project is exported into ``out`` (the calibration's staging folder)."""
    from datrig.calibrate.evaluate import method_names, run_project
    from datrig.calibrate.task_calibration import run_task
    from datrig.data.task import load_task
    from datrig.data.taskdata import ensure_task_dataset
    from datrig.project.meta import load_project
    from datrig.sim.default import with_toy_data
    from datrig.train.runs import run_data_dir

    if args.project is not None:
        task = with_toy_data(load_task(args.task))
        project = load_project(args.project, native=False)
        if project.meta.inputs is None or project.meta.inputs.task is None:
            raise DatrigError(
                f"{args.project} records no task: import it with `datrig import --task`"
            )
        data_dir = ensure_task_dataset(task, say=lambda m: print(m, file=sys.stderr))
        return [(project, task, "imported", data_dir, "test")]
    entries = []
    for run_dir, method in zip(args.run, method_names(args.run), strict=True):
        task = run_task(run_dir)
        project = run_project(Path(run_dir), out, settings.seed, method)
        data_dir, split = run_data_dir(run_dir), "test"
        if args.data is not None and args.data.is_dir():
            # a simulated folder for a task on the toy: both domains from it, every candidate
            task = with_toy_data(task, args.data)
            data_dir = ensure_task_dataset(task, say=lambda m: print(m, file=sys.stderr))
            split = None
        entries.append((project, task, method, data_dir, split))
    return entries


def _run_energy(args: argparse.Namespace) -> int:
    from datrig.calibrate.artefact import calibrate_energy_into
    from datrig.calibrate.energy_scale import ScaleSettings
    from datrig.paths import REPORTS_DIR

    if len(args.run) != 1:
        raise DatrigError(
            f"--energy calibrates one run at a time, got {len(args.run)}; give each its --out"
        )
    out = args.out or REPORTS_DIR / "energy_calibration"
    report = calibrate_energy_into(args.run[0], args.data, out, ScaleSettings(seed=args.seed))
    print(f"energy calibration written to {report}", file=sys.stderr)
    return 0
