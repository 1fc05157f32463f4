"""The open-source measurement: distributed-arithmetic RTL of the emulated network.

da4ml traces the emulator IR into adder trees (checked bit for bit in its interpreter),
writes pipelined Verilog, Verilator (else iverilog) co-simulates it bit-exactly against
datrig's emulator on every event (:mod:`datrig.firmware.cosim`; latency and II read from the
simulation) and yosys ``synth_xilinx`` counts LUT/FF/DSP/BRAM. Each missing tool degrades one
number to da4ml's own cost model, and the report says which.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from datrig.atomic import ArtefactKind, atomic_dir, write_json
from datrig.errors import ToolMissingError, VerificationError
from datrig.firmware import cosim, estimate, rtl, rtl_sim, synth
from datrig.firmware.report_types import (
    DA_RTL,
    ESTIMATE_TOOL,
    MEASURED_SIM,
    MEASURED_SYNTH,
    Measurements,
    Source,
)
from datrig.project.config import FirmwareConfig

RTL_DIR = "rtl"
RTL = ArtefactKind("RTL design", "rtl.json", "rtl")


def analytic(ir: Any, fw: FirmwareConfig) -> Measurements:
    return estimate.estimate(ir, latency_cutoff=rtl.latency_cutoff_for(fw.clock_period_ns))


def random_input_mantissas(ir: Any, n_events: int, seed: int) -> np.ndarray:
    """Seeded inputs spread over the whole input type, as the emulator would cast them."""
    from datrig.emulate.fixed import quantize

    t = ir.layers[0].result_t
    rng = np.random.default_rng(seed)
    raw = rng.integers(t.min_mantissa, t.max_mantissa + 1, (n_events, *ir.layers[0].shape))
    return quantize(raw, t.fractional, t)


def rtl_measurements(
    ir: Any,
    project_dir: Path,
    fw: FirmwareConfig,
    run_synth: bool,
    seed: int,
    n_events: int,
    run_sim: bool = True,
    sim_tool: str = "auto",
    estimate_if_untraceable: bool = True,
) -> Measurements:
    """da4ml trace -> interpreter check -> Verilog -> RTL co-simulation (bit-exact, Verilator
    or iverilog) -> yosys; without ``run_sim``/``run_synth`` the latency and resources come
    from da4ml's own models. A network the tracer refuses gets the analytic estimate, or with
    ``estimate_if_untraceable=False`` the tracer's :class:`UnsupportedLayerError`."""
    from datrig.emulate.fixed import to_float
    from datrig.emulate.runner import emulate

    try:
        traced = rtl.trace_network(ir, depth_slack=fw.adder_depth_slack)
    except rtl.UnsupportedLayerError as exc:
        if not estimate_if_untraceable:
            raise
        meas = analytic(ir, fw)
        meas.notes.insert(
            0, f"RTL path not possible ({exc}); falling back to the analytic estimate"
        )
        return meas

    x = random_input_mantissas(ir, n_events, seed)
    expected = emulate(ir, to_float(x, ir.layers[0].result_t)).mantissas
    n_bad = rtl.check_interpreter(traced, x, expected)
    if n_bad:
        raise VerificationError(
            f"da4ml's interpreter differs from datrig's emulator on {n_bad} of {n_events} events; "
            "the RTL would not implement the emulated network (report this as a bug)"
        )
    da_version = rtl.da4ml_version()
    meas = Measurements(clock_period_ns=fw.clock_period_ns)
    meas.extra["rtl_dir"] = RTL_DIR  # inside the project: the report is the same wherever it is
    meas.extra["da4ml_interpreter_events_checked"] = n_events
    meas.timings["trace_seconds"] = round(traced.trace_seconds, 3)
    with atomic_dir(project_dir / RTL_DIR, RTL) as tmp:
        design = rtl.write_verilog(traced, tmp, clock_period_ns=fw.clock_period_ns)
        meas.extra["pipeline_stages"] = design.n_stages
        meas.extra["adder_levels_per_stage"] = design.latency_cutoff
        meas.extra["adder_depth_slack"] = fw.adder_depth_slack
        meas.extra["adder_levels"] = traced.adder_levels
        meas.extra["adder_levels_path"] = [[name, lv] for name, lv in traced.critical_path]
        meas.notes.append(
            f"RTL pipelined to <= {design.latency_cutoff:g} adder levels per stage for a "
            f"{fw.clock_period_ns:g} ns clock (da4ml delay model); timing closure is not "
            "checked (no place and route)"
        )
        model_src = Source("da4ml", da_version, DA_RTL, ESTIMATE_TOOL)
        skip = _synthesis_skipped(design, fw, run_synth)
        # yosys and the RTL simulation are separate programs: side by side on two cores (the
        # results are recorded in a fixed order, so the report's bytes do not depend on it)
        cancel = threading.Event()
        with ThreadPoolExecutor(max_workers=1) as pool:
            synthesis = None
            if skip is None:
                synthesis = pool.submit(
                    synth.synthesise, design, family=fw.device.yosys_family, cancel=cancel
                )
            try:
                n_sim = _simulate_into(meas, design, x, expected, model_src, run_sim, sim_tool)
            except BaseException:
                cancel.set()  # a failed or interrupted simulation does not wait for yosys
                raise
            _record_synthesis(meas, design, synthesis.result() if synthesis else None, skip,
                              model_src)  # fmt: skip
        write_json(
            tmp / RTL.marker,
            {
                "stage": RTL.value,
                "top": design.top,
                "n_events": n_sim,
                "simulator": meas.extra.get("rtl_sim_tool"),
            },
        )
    return meas


def choose_simulator(requested: str, n_events: int, estimated_lut: float) -> str | None:
    """The report's RTL simulator: Verilator, except for a handful of events of a small
    design when iverilog is there (it finishes before Verilator would have compiled; scans
    measure 200); None when neither is installed and none was named."""
    few = n_events <= IVERILOG_EVENTS and estimated_lut <= MAX_FULL_RTL_SIM_LUT
    if requested == "auto" and few and rtl_sim.iverilog_version() is not None:
        return "iverilog"
    try:
        return cosim.available_tool(requested)
    except ToolMissingError:
        if requested != "auto":
            raise
        return None


def _simulate_into(
    meas: Measurements,
    design: Any,
    x: Any,
    expected: Any,
    fallback: Source,
    run: bool = True,
    tool: str = "auto",
) -> int:
    """Co-simulate; set latency/II; return the number of events simulated."""
    lut = design.traced.estimated_lut
    chosen = choose_simulator(tool, len(x), lut) if run else None
    if chosen is None:
        reason = "neither verilator nor iverilog found" if run else "RTL simulation skipped"
        meas.notes.append(
            f"{reason}: latency/II not simulated; using da4ml's pipeline stage count "
            "(+1 input register) instead"
        )
        meas.set("latency_cycles", design.n_stages + 1, fallback)
        meas.set("ii", 1, fallback)
        return 0
    n_sim = len(x)
    if chosen == "iverilog":
        limit = IVERILOG_EVENTS if lut <= MAX_FULL_RTL_SIM_LUT else LARGE_DESIGN_SIM_EVENTS
        if n_sim > limit:
            n_sim = limit
            meas.notes.append(
                f"iverilog: RTL simulated on {n_sim} of the {len(x)} events "
                f"(~{lut:,.0f} LUT design; all {len(x)} checked in da4ml's interpreter)"
            )
    result = cosim.cosimulate(design, x[:n_sim], expected[:n_sim], tool=chosen)
    if not result.ok:
        raise VerificationError(f"{result.message()}; the RTL is in {design.out_dir}")
    src = Source(result.tool, result.version, DA_RTL, MEASURED_SIM)
    meas.set("latency_cycles", result.latency_cycles, src)
    meas.set("ii", result.ii_cycles, src)
    meas.notes.append(
        f"RTL co-simulated against the emulator with {result.tool} {result.version}: "
        f"{result.n_events:,} events bit for bit at II 1"
    )
    meas.extra["rtl_sim_events_bit_exact"] = result.n_events
    meas.extra["rtl_sim_tool"] = f"{result.tool} {result.version}"
    meas.timings["rtl_sim_seconds"] = round(result.sim_seconds, 3)
    meas.timings["rtl_sim_events_per_s"] = round(result.events_per_s)
    if result.tool == "Verilator":
        meas.timings["verilator_build_seconds"] = round(result.build_seconds, 1)
        meas.timings["verilator_build_cached"] = result.build_cached
        meas.extra["verilator_threads"] = result.threads
    return result.n_events


# iverilog simulates photon_id at ~250 events/s and took > 6 min for 1000 events of a
# 200k-LUT netlist (~2.5 min for 64): without Verilator, large designs get fewer events.
IVERILOG_EVENTS = 1000
MAX_FULL_RTL_SIM_LUT = 50_000
LARGE_DESIGN_SIM_EVENTS = 64

# yosys synth_xilinx took ~30-60 s for a 13k-LUT MLP here and grows faster than linearly
# (~3 min for the 43k-LUT cell GNN on a busy machine). A design is synthesised up to this
# estimate, or up to YOSYS_BUDGET_MARGIN x its own LUT budget when that is larger: a number
# checked against a budget must be measured whenever the design may be within it.
MAX_YOSYS_LUT = 80_000
YOSYS_BUDGET_MARGIN = 1.25


def yosys_lut_limit(fw: FirmwareConfig) -> float:
    """Largest da4ml LUT estimate that is still synthesised with yosys."""
    return max(MAX_YOSYS_LUT, YOSYS_BUDGET_MARGIN * fw.budget.lut)


def _synthesis_skipped(design: Any, fw: FirmwareConfig, run: bool) -> str | None:
    """Why yosys is not run on ``design``, or None when it is."""
    estimated_lut = design.traced.estimated_lut
    if not run:
        return "yosys synthesis skipped (--no-synth)"
    if synth.yosys_version() is None:
        return "yosys not found"
    if estimated_lut > yosys_lut_limit(fw):
        return (
            f"yosys synthesis skipped: ~{estimated_lut:,.0f} LUT by da4ml's model exceeds "
            f"{yosys_lut_limit(fw):,.0f} (yosys would take tens of minutes on this design)"
        )
    return None


def _record_synthesis(
    meas: Measurements, design: Any, res: Any, reason: str | None, fallback: Source
) -> None:
    """The measured resources of ``res``, or da4ml's model with ``reason`` said."""
    if res is not None:
        src = Source("yosys synth_xilinx", res.version, DA_RTL, MEASURED_SYNTH)
        for name, value in (
            ("lut", res.lut),
            ("ff", res.ff),
            ("dsp", res.dsp),
            ("bram", res.bram_18k),
        ):
            meas.set(name, value, src)
        meas.extra["yosys_family"] = res.family
        meas.timings["yosys_seconds"] = round(res.seconds, 3)
        meas.extra["yosys_cells"] = res.cells
        return
    meas.notes.append(f"{reason}: LUT/FF from da4ml's own cost model; DSP/BRAM are 0 by design")
    meas.set("lut", round(design.traced.estimated_lut), fallback)
    meas.set("ff", design.reg_bits, fallback)
    meas.set("dsp", 0, fallback)
    meas.set("bram", 0, fallback)
