"""``datrig report``: latency/resource report of a firmware project against its trigger budget."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from datrig.argtypes import mhz_list, non_negative_int, positive_int, slack_list
from datrig.firmware.backends import PREFER, ReportOptions
from datrig.firmware.cosim import TOOLS

if TYPE_CHECKING:
    from datrig.firmware.backends import ReportTarget
    from datrig.firmware.frontier import FrontierPoint


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model name (e.g. photon_id)")
    parser.add_argument("--project", type=Path, help="project dir (default hls_projects/MODEL)")
    parser.add_argument(
        "--config",
        type=Path,
        help="firmware YAML whose budgets to check (default: the project's own config)",
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=1, help="seed of the RTL-vs-emulator inputs"
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
        "--events",
        type=positive_int,
        default=ReportOptions().n_events,
        help="events co-simulated bit-exactly in RTL (default %(default)s; iverilog: <= 1000)",
    )
    parser.add_argument(
        "--rtl-tool",
        choices=TOOLS,
        default="auto",
        help="RTL simulator (default: Verilator, iverilog when absent)",
    )
    parser.add_argument(
        "--clocks",
        type=mhz_list,
        help="also measure the RTL at these clocks, e.g. 200,240,360 (MHz): latency in cycles "
        "and LUT per clock, written to clock_frontier.json/.md in the project",
    )
    parser.add_argument(
        "--slacks",
        type=slack_list,
        help="adder depth slacks for --clocks, e.g. unconstrained,0,2 (default: the config's)",
    )


def _frontier(args: argparse.Namespace, target: ReportTarget) -> list[FrontierPoint]:
    from datrig.firmware.frontier import measure_frontier, write_frontier

    fw = target.firmware
    points = measure_frontier(
        target.ir,
        fw,
        args.clocks,
        args.slacks or [fw.adder_depth_slack],
        synth=not args.no_synth,
        seed=args.seed,
        n_events=args.events,
        rtl_tool=args.rtl_tool,
    )
    write_frontier(points, target.path, args.model)
    return points


def run(args: argparse.Namespace) -> int:
    from datrig.atomic import destination_lock
    from datrig.bounds import check_events
    from datrig.errors import DatrigError
    from datrig.firmware.report import build_report, report_target, summary_lines, write_report
    from datrig.paths import hls_project_dir
    from datrig.project.meta import FirmwareProject

    path = Path(args.project or hls_project_dir(args.model))
    if path.is_dir() and not os.access(path, os.W_OK):
        raise DatrigError(
            f"{path} is not writable: `datrig report` writes report.json, report.md and rtl/ "
            "into the project; copy the project somewhere writable and report that copy"
        )
    with destination_lock(path):  # report writes into the project: one writer at a time
        project = FirmwareProject.load(path)
        check_events(args.events, project.bytes_per_event())
        target = report_target(project, args.config)
        print(f"datrig report: measuring {project.path} ...", file=sys.stderr)
        options = ReportOptions(
            synth=not args.no_synth, seed=args.seed, n_events=args.events, rtl_tool=args.rtl_tool
        )
        report = build_report(target, prefer=args.source, options=options)
        json_path, md_path = write_report(report, project.path)
        points = _frontier(args, target) if args.clocks else []
    for note in report.notes:
        print(f"datrig report: note: {note}", file=sys.stderr)
    if report.timings:
        times = ", ".join(f"{k} {v}" for k, v in sorted(report.timings.items()))
        print(f"datrig report: this run (not recorded): {times}", file=sys.stderr)
    for line in summary_lines(report):
        print(f"  {line}")
    print(f"wrote {json_path} and {md_path}")
    if points:
        from datrig.firmware.frontier import FRONTIER_JSON, frontier_lines

        for line in frontier_lines(points):
            print(f"  {line}")
        print(f"wrote {project.path / FRONTIER_JSON}")
    return 0 if report.passed else 1
