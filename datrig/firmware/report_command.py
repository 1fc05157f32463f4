"""``datrig report``: latency/resource report of a firmware project against its trigger budget."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from datrig.firmware.report import DEFAULT_SIM_EVENTS, PREFER


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model name (e.g. photon_id)")
    parser.add_argument("--project", type=Path, help="project dir (default hls_projects/MODEL)")
    parser.add_argument(
        "--config", type=Path, help="firmware YAML (default firmware_configs/MODEL.yml)"
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the RTL-vs-emulator test inputs"
    )
    parser.add_argument(
        "--no-synth", action="store_true", help="skip synthesis (yosys ~1 min, vendor HLS longer)"
    )
    parser.add_argument(
        "--source",
        choices=PREFER,
        default="auto",
        help="where numbers come from (default: best available)",
    )
    parser.add_argument(
        "--events", type=int, default=DEFAULT_SIM_EVENTS, help="events simulated bit-exactly in RTL"
    )


def run(args: argparse.Namespace) -> int:
    from datrig.errors import DatrigError
    from datrig.firmware.config import config_for_model
    from datrig.firmware.report import build_report, summary_lines, write_report
    from datrig.paths import hls_project_dir

    if args.events < 1:
        raise DatrigError("--events must be at least 1")
    project = args.project or hls_project_dir(args.model)
    cfg = config_for_model(args.model, args.config)
    print(f"datrig report: measuring {project} ...", file=sys.stderr)
    report = build_report(
        project,
        cfg,
        prefer=args.source,
        synth_rtl=not args.no_synth,
        seed=args.seed,
        n_events=args.events,
    )
    json_path, md_path = write_report(report, project)
    for note in report.notes:
        print(f"datrig report: note: {note}", file=sys.stderr)
    for line in summary_lines(report):
        print(f"  {line}")
    print(f"wrote {json_path} and {md_path}")
    return 0 if report.passed else 1
