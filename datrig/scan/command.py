"""``datrig scan``: the trade-off between rejection, decorrelation and firmware cost.

datrig scan --model photon_id                       # the default space, local Ray
datrig scan --model photon_id --address auto        # on a running Ray cluster
datrig scan --model photon_id --resume              # finish an interrupted scan
datrig scan --model photon_id --pick TRIAL          # export a trial as a run + project
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from datrig.argtypes import non_negative_int, positive_int
from datrig.atomic import ArtefactKind, check_replaceable, write_json
from datrig.errors import DatrigError

STARTED = ArtefactKind("scan", "scan_config.json", "scan")  # written when a scan starts
# what an interrupted scan leaves (datrig.cli prints it): Ray is shut down on the way out
INTERRUPTED = "Ray was shut down; finished trials are kept: continue with --resume"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from datrig.models.registry import MODELS

    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--model", choices=sorted(MODELS), help="a shipped model to scan")
    who.add_argument("--task", type=Path, help="a task file: scan your own ID or regression")
    parser.add_argument("--space", type=Path, help="search space YAML (default: the model's)")
    parser.add_argument("--trials", type=positive_int, help="trials (optuna; grid: the first N)")
    parser.add_argument("--search", choices=("grid", "optuna"), default="grid")
    parser.add_argument("--workers", type=positive_int, default=2, help="concurrent trials")
    parser.add_argument(
        "--address", help="an existing Ray cluster: auto, HOST:PORT or ray://HOST:10001"
    )
    parser.add_argument("--resume", action="store_true", help="finish an interrupted scan")
    parser.add_argument("--out", type=Path, help="scan folder (default scans/<model>-<search>)")
    parser.add_argument("--data", type=Path, help="dataset folder (default: simulated, cached)")
    parser.add_argument(
        "--measured-cost",
        action="store_true",
        help="iverilog + yosys in every trial (default: da4ml's model; measured for the front)",
    )
    parser.add_argument(
        "--no-front-synth", action="store_true", help="do not measure the front with yosys"
    )
    parser.add_argument("--pick", metavar="TRIAL", help="export a finished trial as a run")
    parser.add_argument("--seed", type=non_negative_int, default=1, help="search seed")


def run(args: argparse.Namespace) -> int:
    from datrig.paths import DEFAULT_DATA_DIR

    args.task_config, spec = None, None
    if args.task is not None:  # a task: its samples read once into a task dataset
        from datrig.data.task import load_task
        from datrig.models.task_spec import spec_for_task

        task = load_task(args.task)
        args.model = task.name
        spec = spec_for_task(task)
    out = args.out or Path("scans") / f"{args.model}-{args.search}"
    if args.pick:
        return pick(out, args.model, args.pick)
    from datrig.scan.space import default_space, load_space

    space = (
        load_space(args.space, args.model, spec) if args.space else default_space(args.model, spec)
    )
    if args.search == "grid":
        space.grid()  # a log-uniform lam needs optuna: say so before any work
    config = _check_out(out, args, space)
    if args.task is not None:
        from datrig.train.command import prepare_task

        args.da = None
        data_dir = prepare_task(args)
        return _scan(args, out, space, Path(data_dir).resolve(), config)
    from datrig.sim.default import ensure_default_data

    data_dir = args.data or ensure_default_data(DEFAULT_DATA_DIR)
    from datrig.data.manifest import dataset_file
    from datrig.models.registry import get_model_spec

    spec = get_model_spec(args.model)
    for domain in ("sim", "data"):
        dataset_file(data_dir, spec.kind, domain)  # a wrong dataset fails before Ray starts
    return _scan(args, out, space, Path(data_dir).resolve(), config)


def _check_out(out: Path, args: argparse.Namespace, space: Any) -> dict[str, Any] | None:
    """The scan's ``scan_config.json`` to write once Ray is up (None: resuming ``out``); a
    folder that is not a scan, or a scan of other settings, is an error before any work."""
    config = {
        "stage": STARTED.value,
        "model": args.model,
        "task": None if args.task is None else str(args.task),
        "search": args.search,
        "seed": args.seed,
        "trials": args.trials,
        "space": space.to_json(),
    }
    started = out / STARTED.marker
    if started.is_file():
        previous = json.loads(started.read_text())
        if not args.resume:
            raise DatrigError(
                f"{out} already holds a scan; add --resume to finish it, or choose another --out"
            )
        if {k: previous.get(k) for k in config} != json.loads(json.dumps(config)):
            raise DatrigError(
                f"{out} holds a scan of another model, space, search or seed; --resume needs "
                "the same settings (or choose another --out)"
            )
        return None
    check_replaceable(out, STARTED)
    return config


def _scan(
    args: argparse.Namespace,
    out: Path,
    space: Any,
    data_dir: Path,
    config: dict[str, Any] | None,
) -> int:
    import ray

    from datrig.models.registry import resolve_spec
    from datrig.scan.engine import run_tune, start_ray
    from datrig.scan.objectives import OBJECTIVES, objectives_key
    from datrig.scan.report import write_report
    from datrig.scan.trial import TrialContext

    spec = resolve_spec(args.model, args.task_config)
    objectives = OBJECTIVES[objectives_key(spec.family, args.task_config is not None)]
    ctx = TrialContext(
        model=args.model,
        data_dir=str(data_dir),
        out_dir=str(out.resolve()),
        epochs=space.epochs,
        n_train=space.n_train,
        measured_cost=args.measured_cost,
        task=args.task_config,
    )
    started_here = not ray.is_initialized()
    start_ray(args.address, args.workers)
    try:
        if config is not None:  # only now: a cluster that cannot be reached leaves nothing
            write_json(out / STARTED.marker, config)
        rows = run_tune(
            space,
            ctx,
            objectives,
            search=args.search,
            n_trials=args.trials,
            workers=args.workers,
            seed=args.seed,
            resume=args.resume,
        )
        if not args.no_front_synth and not args.measured_cost:
            _measure_front(rows, objectives, out, args.seed)
    finally:
        if started_here:
            ray.shutdown()  # also stops the local Ray processes (raylet, GCS, agents)
    toy_id = spec.family == "photon_id" and args.task_config is None
    bound = _bound(rows, out, args.model, args.seed) if toy_id else None
    command = "datrig " + " ".join(shlex.quote(a) for a in args.argv)
    report = write_report(
        out,
        rows,
        objectives,
        model=args.model,
        command=command,
        reference=_shipped_trial(args.model, spec),
        bound=bound,
        meta={
            "model": args.model,
            "search": args.search,
            "seed": args.seed,
            "data": str(data_dir),
            "epochs": space.epochs,
            "n_train": space.n_train,
        },
    )
    from datrig.scan.report import unranked

    for reason in unranked(rows, objectives):
        print(f"datrig scan: warning: not on the front: {reason}", file=sys.stderr)
    if not any(r.get("status") == "ok" for r in rows):
        print(
            "datrig scan: warning: no trial finished; see the errors in report.md", file=sys.stderr
        )
    print(f"scan report written to {report}", file=sys.stderr)
    return 0


def _measure_front(rows: list[dict[str, Any]], objectives, out: Path, seed: int) -> None:
    """iverilog + yosys for the Pareto-front trials (da4ml's cost model for the rest), as Ray
    tasks on the scan's workers."""
    from datrig.scan.engine import run_tasks
    from datrig.scan.objectives import pareto_front
    from datrig.scan.trial import measured_cost

    ok = [r for r in rows if r.get("status") == "ok"]
    front = [ok[i] for i in pareto_front(ok, objectives)]
    print(
        f"datrig scan: measuring the {len(front)} front trials with iverilog + yosys ...",
        file=sys.stderr,
    )
    calls = [(str(out / "trials" / r["trial"] / "project"), seed) for r in front]
    results = run_tasks(measured_cost, calls, [r["trial"] for r in front], "measured")
    for r, measured in zip(front, results, strict=True):
        r["lut_yosys"] = measured.get("lut")
        r["latency_ns_measured"] = measured.get("latency_ns")
        r["lut_source_measured"] = measured.get("lut_source") or measured.get("error", "")


def _bound(rows: list[dict[str, Any]], out: Path, model: str, seed: int) -> float | None:
    """The pT-conditional independence bound on the scan's test events (sim)."""
    from datrig.train.predictions import load_predictions
    from datrig.validate.report import pt_independence_bound

    ok = [r for r in rows if r.get("status") == "ok"]
    if not ok:
        return None
    preds = load_predictions(out / "trials" / ok[0]["trial"] / "run")
    print("datrig scan: the independence bound at fixed pT (~1 min) ...", file=sys.stderr)
    return pt_independence_bound(preds, [preds.output_float], seed).get("rejection80_sim")


def _shipped_trial(model: str, spec: Any = None) -> str:
    """Today's shipped configuration of the model (or the task's own), as a trial name of the
    default grid."""
    from datrig.da.registry import penalty_class
    from datrig.models.registry import get_model_spec
    from datrig.scan.space import trial_key, trial_params

    spec = spec or get_model_spec(model)
    da = spec.shipped_da
    resource_lam = spec.default_resource_lam if spec.default_bits == "auto" else 0.0
    lam = penalty_class(da).lam_for(model)
    return trial_key(trial_params(da, lam, 8, 8, spec.hidden, 1, resource_lam))


def pick(out: Path, model: str, trial: str) -> int:
    """Copy a finished trial's run to runs/<model>/<trial>/ and its verified project to
    hls_projects/<model>/ (each replacing only datrig's own artefact of the same kind)."""
    from datrig.atomic import atomic_dir, destination_lock
    from datrig.paths import RUNS_DIR, hls_project_dir, safe_name
    from datrig.project.meta import PROJECT, FirmwareProject
    from datrig.safefs import copy_tree
    from datrig.train.lifecycle import RUN

    trials = out / "trials"
    known = sorted(p.name for p in trials.iterdir() if p.is_dir()) if trials.is_dir() else []
    source = trials / trial
    # a trial is picked by its folder's name among the scan's trials, never built as a path
    if trial not in known or not (source / "trial.json").is_file():
        raise DatrigError(
            f"no finished trial {trial!r} in {out}; trials: {', '.join(known[:8]) or 'none'}"
        )
    if json.loads((source / "trial.json").read_text()).get("status") != "ok":
        raise DatrigError(f"trial {trial} failed; pick a finished one from {out}/report.md")
    FirmwareProject.load(source / "project")  # a verified project, or a clear error
    for src, dest, kind in (
        (source / "run", RUNS_DIR / safe_name(model, "--model") / trial, RUN),
        (source / "project", hls_project_dir(model), PROJECT),
    ):
        with destination_lock(dest), atomic_dir(dest, kind) as tmp:
            copy_tree(src, tmp)  # a link inside the trial is refused, never followed
        print(f"datrig scan: {src} -> {dest}", file=sys.stderr)
    return 0
