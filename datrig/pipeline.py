"""``datrig hls``: the whole chain for one model, each step skipped when its output is current.

    data/default/ -> runs/<model>/<da>/ -> hls_projects/<model>/ (verified) -> report.{json,md}

A step is current when its artefact exists and was made from the same inputs: the run's
``config.json`` equals the config this invocation would train with, and the project's
``datrig_project.json`` records the sha256 of the current checkpoint and the same firmware
config. ``--force`` redoes every step after the data.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from datrig.argtypes import non_negative_int, positive_int
from datrig.firmware.backends import PREFER

VERIFY_EVENTS = 20_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from datrig.da.registry import PENALTIES
    from datrig.models.registry import MODELS

    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--model", choices=sorted(MODELS), help="a shipped model to deploy")
    who.add_argument("--task", type=Path, help="a task file: your samples (docs/tasks.md)")
    parser.add_argument(
        "--da", choices=list(PENALTIES), help="DA penalty (default: the model's shipped one)"
    )
    parser.add_argument("--data", type=Path, help="dataset directory (default: simulate, cached)")
    parser.add_argument("--config", type=Path, help="firmware YAML (firmware_configs/<model>.yml)")
    parser.add_argument(
        "--epochs",
        type=positive_int,
        help="QAT epochs (default: the model's; photon_id trains 10,560 updates, i.e. 60 "
        "epochs of 180k candidates and more of a smaller sample)",
    )
    parser.add_argument(
        "--n-train", type=positive_int, help="QAT train events per domain (model default)"
    )
    parser.add_argument(
        "--events",
        type=positive_int,
        default=VERIFY_EVENTS,
        help="test events for emulator vs C-sim",
    )
    parser.add_argument("--no-synth", action="store_true", help="skip RTL synthesis in the report")
    parser.add_argument(
        "--conifer-synth",
        action="store_true",
        help="tree ensembles: also synthesise conifer's own VHDL (measured beside the deployed "
        "design; ~3 min for 120 trees)",
    )
    parser.add_argument(
        "--report-source",
        choices=PREFER,
        default="auto",
        help="where report numbers come from (default: best available tool)",
    )
    parser.add_argument("--force", action="store_true", help="redo QAT, export and report")
    parser.add_argument("--seed", type=non_negative_int, default=1, help="seed of every step")


def _say(step: str, message: str) -> None:
    print(f"datrig hls [{step}] {message}", file=sys.stderr, flush=True)


def ensure_run(args: argparse.Namespace, data_dir: Path) -> Path:
    """Train unless the run directory already holds a complete run of the same config."""
    from datrig.paths import run_dir
    from datrig.train.runs import ensure_run as ensure
    from datrig.train.runs import resolve_config

    cfg = resolve_config(
        args.model, args.da, data_dir, args.seed, epochs=args.epochs, n_train=args.n_train,
        task=getattr(args, "task_config", None),
    )  # fmt: skip
    return ensure(cfg, run_dir(args.model, args.da), force=args.force, say=lambda m: _say("qat", m))


def run(args: argparse.Namespace) -> int:
    from datrig.firmware.backends import ReportOptions
    from datrig.firmware.report import build_report, report_target, summary_lines, write_report
    from datrig.firmware.run_firmware import ensure_run_project
    from datrig.models.registry import get_model_spec, resolve_spec
    from datrig.paths import DEFAULT_DATA_DIR, hls_project_dir, predictions_path
    from datrig.project.config import config_for_model, config_for_run
    from datrig.project.meta import FirmwareProject
    from datrig.runtime import configure_torch, seed_everything
    from datrig.sim.default import ensure_default_data

    start = time.monotonic()
    configure_torch()
    seed_everything(args.seed)
    if args.task is not None:  # the task's samples, read once into a task dataset
        from datrig.train.command import prepare_task

        data_dir = prepare_task(args)
        fw = config_for_run(args.model, args.task_config, args.config)
    else:
        args.task_config = None
        if args.da is None:
            args.da = get_model_spec(args.model).shipped_da
        fw = config_for_model(args.model, args.config)  # fail on a bad config before any work
        if args.data is None:
            from datrig.train.command import toy_samples

            kinds = toy_samples(args.model, args.da)
            data_dir = ensure_default_data(DEFAULT_DATA_DIR, seed=args.seed, kinds=kinds)
        else:
            data_dir = args.data
    _say("data", f"{data_dir}")
    run_path = ensure_run(args, Path(data_dir))
    project = hls_project_dir(args.model)
    if resolve_spec(args.model, args.task_config).trees is not None:
        return _run_trees(args, run_path, project, fw, data_dir, start)
    ensure_run_project(
        run_path, project, fw, seed=args.seed, force=args.force, say=lambda m: _say("export", m)
    )

    firmware = FirmwareProject.load(project)
    inputs = firmware.read_inputs(predictions_path(run_path), limit=args.events)
    _say("verify", f"emulator vs C-simulation on {len(inputs):,} test events (sim + data) ...")
    comparison = firmware.verify(inputs)
    _say("verify", comparison.message())

    _say("report", "latency and resources against the trigger budget ...")
    options = ReportOptions(synth=not args.no_synth, seed=args.seed)
    report = build_report(report_target(firmware), prefer=args.report_source, options=options)
    _, md_path = write_report(report, project)
    for note in report.notes:
        _say("report", f"note: {note}")
    for line in summary_lines(report):
        _say("report", line)

    print(
        "\n".join(
            [
                f"datrig hls: done in {time.monotonic() - start:.0f} s",
                f"  data       {data_dir}",
                f"  QAT run    {run_path}  (metrics.json, curves.png, predictions_test.h5)",
                f"  project    {project}  (hls4ml project, emulator IR, datrig_project.json)",
                f"  report     {md_path}",
                f"  verified   {comparison.message()}",
            ]
        )
    )
    return 0 if report.passed else 1


def _run_trees(args, run_path: Path, project: Path, fw, data_dir: Path, start: float) -> int:
    """The tree-ensemble chain: conifer project (C-sim = emulator), then the VHDL measured."""
    from datrig.firmware.tree_flow import ensure_tree_project, measure, write_tree_report

    firmware = ensure_tree_project(
        run_path, project, fw, seed=args.seed, force=args.force, say=lambda m: _say("export", m)
    )
    report = measure(
        firmware, fw, run_path, n_events=args.events, seed=args.seed,
        synth=not args.no_synth, say=lambda m: _say("report", m),
        synth_conifer=args.conifer_synth and not args.no_synth,
    )  # fmt: skip
    md_path = write_tree_report(report, project)
    r = report["resources"] or {}
    print(
        "\n".join(
            [
                f"datrig hls: done in {time.monotonic() - start:.0f} s",
                f"  data       {data_dir}",
                f"  run        {run_path}  (ensemble.json, metrics.json, predictions_test.h5)",
                f"  project    {project}  (conifer HLS + VHDL, ensemble.json)",
                f"  report     {md_path}",
                f"  measured   {report['latency_ns']:g} ns ({report['latency_cycles']} clocks), "
                f"II {report['ii']}, {r.get('lut', '?')} LUT, {r.get('ff', '?')} FF, "
                f"{r.get('dsp', '?')} DSP",
                f"  verified   {report['verification']['rtl_vs_emulator']['n_mismatch']} of "
                f"{report['verification']['rtl_vs_emulator']['n_events']:,} RTL outputs differ "
                "from the emulator (C-sim likewise)",
                f"  budget     {'PASS' if report['pass'] else 'FAIL'}",
            ]
        )
    )
    return 0 if report["pass"] else 1
