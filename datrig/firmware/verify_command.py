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
    from datrig.paths import hls_project_dir as _project_dir
    from datrig.project.trees import is_tree_project

    if is_tree_project(args.project or _project_dir(args.model)):
        return _verify_trees(args)
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


def _verify_trees(args: argparse.Namespace) -> int:
    """A tree ensemble: emulator vs conifer's C-simulation on ``--events`` events (the run's
    test events, then seeded inputs over the whole grid); with ``--rtl`` also both VHDL
    designs in GHDL. Exit 1 when anything differs."""
    import numpy as np

    from datrig.bounds import check_events
    from datrig.emulate.trees import emulate_mantissas
    from datrig.export.tree_export import seeded_mantissas
    from datrig.firmware.tree_flow import simulate_designs
    from datrig.models.registry import MODELS, get_model_spec
    from datrig.paths import hls_project_dir, predictions_path, run_dir
    from datrig.project.trees import TreeProject
    from datrig.safefs import scratch_dir

    project = TreeProject.load(args.project or hls_project_dir(args.model))
    ir, n = project.ir, args.events or csim_verify.DEFAULT_EVENTS
    check_events(n, project.bytes_per_event())  # before any array of that size exists
    parts, what = [], []
    if args.input is not None:
        parts.append(project.mantissas(project.read_inputs(args.input, n, args.split)))
        what.append(f"{len(parts[0]):,} events of {args.input}")
    elif args.model in MODELS:
        preds = predictions_path(
            run_dir(args.model, args.da or get_model_spec(args.model).shipped_da)
        )
        if preds.is_file():
            parts.append(project.mantissas(project.read_inputs(preds, n)))
            what.append(f"{len(parts[0]):,} test events of {preds}")
    rest = n - sum(len(p) for p in parts)
    if rest > 0 and args.input is None:
        parts.append(seeded_mantissas(ir, rest, args.seed))
        what.append(f"{rest:,} seeded inputs over the whole input grid (seed {args.seed})")
    x = np.concatenate(parts)
    print(f"inputs: {' + '.join(what)}", flush=True)
    checks = [project.verify_mantissas(x, "emulator_vs_csim (conifer C-sim)")]
    if args.rtl:
        with scratch_dir("verify-trees") as tmp:
            runs = simulate_designs(project, x, emulate_mantissas(ir, x), Path(tmp))
            for name, (run, rtl) in runs.items():
                checks.append(rtl)
                print(f"{name}: latency {run.latency_cycles} clocks, II {run.ii}", flush=True)
    for c in checks:
        first = f" (first: event {c.first_event})" if c.first_event is not None else ""
        print(f"{c.name}: {c.n_mismatch} of {c.n_events:,} events differ bit for bit{first}")
    return 0 if all(c.ok for c in checks) else 1
