"""``datrig verify``: emulator vs C-simulation, or with ``--rtl`` the DA-RTL vs the emulator.

Both check the same events (:func:`datrig.project.verify_command.verify_inputs`): a datrig
schema file, a predictions file or a .npy, or by default the run's test events topped up with
seeded inputs far beyond the input range. ``--rtl`` writes the project's distributed-arithmetic
Verilog (da4ml, as ``datrig report`` does) to a scratch folder, compiles it with Verilator
(cached per design) and streams every event through it at II 1; iverilog is the fallback.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from datrig.firmware.cosim import TOOLS
from datrig.project import verify_command as csim_verify


def add_arguments(parser: argparse.ArgumentParser) -> None:
    csim_verify.add_arguments(parser)
    parser.add_argument(
        "--rtl",
        action="store_true",
        help="check the DA-RTL (Verilator, else iverilog) against the emulator instead of the "
        "C-simulation; reports latency, II and the simulation rate",
    )
    parser.add_argument(
        "--rtl-tool", choices=TOOLS, default="auto", help="RTL simulator (default: Verilator)"
    )


def run(args: argparse.Namespace) -> int:
    if not args.rtl:
        return csim_verify.run(args)
    from datrig.errors import VerificationError
    from datrig.firmware.cosim import cosimulate, design_for, rtl_inputs
    from datrig.paths import hls_project_dir
    from datrig.project.meta import load_project
    from datrig.safefs import scratch_dir

    start = time.perf_counter()
    project = load_project(args.project or hls_project_dir(args.model), native=False)
    x, what = csim_verify.verify_inputs(project, args)
    print(f"inputs: {what}")
    emulate_start = time.perf_counter()
    mantissas, expected = rtl_inputs(project.ir, x)
    emulate_seconds = time.perf_counter() - emulate_start
    with scratch_dir("rtl") as scratch:  # a killed run's folder is removed by the next one
        trace_start = time.perf_counter()
        design = design_for(project.ir, project.meta.firmware, Path(scratch) / "rtl")
        trace_seconds = time.perf_counter() - trace_start
        result = cosimulate(design, mantissas, expected, tool=args.rtl_tool)
    total = time.perf_counter() - start
    print(result.message())
    print(
        f"emulator: {len(x) / emulate_seconds:,.0f} events/s on the same events "
        f"(RTL / emulator rate {result.events_per_s * emulate_seconds / len(x):.2f}); "
        f"total {total:.1f} s (RTL written in {trace_seconds:.1f} s)"
    )
    if not result.ok:
        raise VerificationError(result.message())
    return 0
