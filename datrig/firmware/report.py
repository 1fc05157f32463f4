"""Latency/resource report of a firmware project against the trigger budgets.

Numbers come from the best available source, in this order: vendor HLS synthesis of the
hls4ml project (Vivado/Vitis on the PATH); else the open-source distributed-arithmetic RTL
path (da4ml Verilog, simulated bit-exactly with iverilog against datrig's emulator and
synthesised with yosys); else an analytic estimate. Each quantity states its source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from datrig.atomic import atomic_dir, atomic_path, write_json
from datrig.errors import DatrigError, VerificationError
from datrig.firmware import estimate, rtl, rtl_sim, synth, vendor
from datrig.firmware.report_types import (
    DA_RTL,
    ESTIMATE_TOOL,
    MEASURED_SIM,
    MEASURED_SYNTH,
    QUANTITIES,
    Budgets,
    Measurements,
    Source,
)

PREFER = ("auto", "vendor", "rtl", "estimate")
DEFAULT_SIM_EVENTS = 1000


@dataclass(frozen=True)
class Quantity:
    name: str
    value: float | None
    unit: str
    budget: float | None
    passed: bool | None  # None: no value or no budget
    source: Source | None

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "unit": self.unit,
            "budget": self.budget,
            "pass": self.passed,
            "source": None if self.source is None else self.source.to_json(),
        }


@dataclass
class Report:
    model: str
    clock_period_ns: float
    part: str
    quantities: list[Quantity]
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """All quantities with a value and a budget are within it."""
        return all(q.passed is not False for q in self.quantities)

    def get(self, name: str) -> Quantity:
        return next(q for q in self.quantities if q.name == name)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "clock_period_ns": self.clock_period_ns,
            "part": self.part,
            "pass": self.passed,
            "quantities": {q.name: q.to_json() for q in self.quantities},
            "notes": self.notes,
            "details": self.details,
        }


def check_budgets(meas: Measurements, budgets: Budgets, *, model: str) -> Report:
    """Turn raw measurements into a report: derive latency in ns, compare with each budget."""
    clock = meas.clock_period_ns or budgets.clock_period_ns
    values = dict(meas.values)
    if "latency_cycles" in values:
        cycles, src = values["latency_cycles"]
        values["latency_ns"] = (cycles * clock, src)
    budget_of = {
        "latency_ns": budgets.latency_ns,
        "latency_cycles": (
            None if budgets.latency_ns is None else math.floor(budgets.latency_ns / clock + 1e-9)
        ),
        "ii": budgets.ii,
        "lut": budgets.lut,
        "ff": budgets.ff,
        "dsp": budgets.dsp,
        "bram": budgets.bram,
    }
    quantities = []
    for name, unit in QUANTITIES.items():
        value, source = values.get(name, (None, None))
        budget = budget_of[name]
        passed = None if value is None or budget is None else bool(value <= budget)
        quantities.append(Quantity(name, value, unit, budget, passed, source))
    return Report(model, clock, budgets.part, quantities, list(meas.notes), dict(meas.extra))


def build_report(
    project_dir: str | Path,
    fw_config: Any,
    *,
    prefer: str = "auto",
    synth_rtl: bool = True,
    seed: int = 0,
    n_events: int = DEFAULT_SIM_EVENTS,
) -> Report:
    """Measure (or estimate) the project's latency and resources and check the budgets."""
    if prefer not in PREFER:
        raise DatrigError(f"unknown report source {prefer!r}; choose one of {', '.join(PREFER)}")
    project_dir = Path(project_dir)
    if not project_dir.is_dir():
        raise DatrigError(f"project {project_dir} does not exist; run `datrig export` first")
    budgets = Budgets.from_config(fw_config)
    model = getattr(fw_config, "model", None) or project_dir.name
    notes: list[str] = []

    meas: Measurements | None = None
    tool = vendor.find_vendor_tool()
    if prefer in ("auto", "vendor"):
        if tool is not None:
            meas = _vendor_measurements(project_dir, tool, synth_rtl)
        else:
            notes.append(
                "no Vivado/Vitis HLS on the PATH (vitis_hls, vivado_hls): hls4ml's HLS synthesis "
                "was not run; numbers below describe a distributed-arithmetic RTL implementation "
                "of the same quantized network, not hls4ml's HLS design"
            )
            if prefer == "vendor":
                raise DatrigError("vendor HLS tools (vitis_hls/vivado_hls) are not on the PATH")
    if meas is None:
        from datrig.emulate.io import load_ir

        ir = load_ir(project_dir)
        if prefer == "estimate":
            meas = _analytic(ir, budgets)
        else:
            meas = _rtl_measurements(ir, project_dir, budgets, synth_rtl, seed, n_events)
    meas.notes[:0] = notes
    return check_budgets(meas, budgets, model=model)


def _vendor_measurements(project_dir: Path, tool: vendor.VendorTool, run: bool) -> Measurements:
    xml = vendor.find_csynth_xml(project_dir)
    if run or xml is None:
        xml = vendor.run_vendor_synthesis(project_dir, tool)
    meas = vendor.parse_csynth_xml(xml).to_measurements()
    meas.extra["csynth_xml"] = str(xml)
    return meas


def _analytic(ir: Any, budgets: Budgets) -> Measurements:
    return estimate.estimate(ir, latency_cutoff=rtl.latency_cutoff_for(budgets.clock_period_ns))


def random_input_mantissas(ir: Any, n_events: int, seed: int) -> np.ndarray:
    """Seeded inputs spread over the whole input type, as the emulator would cast them."""
    from datrig.emulate.fixed import quantize

    t = ir.layers[0].result_t
    rng = np.random.default_rng(seed)
    raw = rng.integers(t.min_mantissa, t.max_mantissa + 1, (n_events, *ir.layers[0].shape))
    return quantize(raw, t.fractional, t)


def _rtl_measurements(
    ir: Any, project_dir: Path, budgets: Budgets, run_synth: bool, seed: int, n_events: int
) -> Measurements:
    """da4ml trace -> interpreter check -> Verilog -> iverilog (bit-exact) -> yosys."""
    from datrig.emulate.fixed import to_float
    from datrig.emulate.runner import emulate

    try:
        traced = rtl.trace_network(ir)
    except rtl.UnsupportedLayerError as exc:
        meas = _analytic(ir, budgets)
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
    meas = Measurements(clock_period_ns=budgets.clock_period_ns)
    meas.extra["rtl_dir"] = str(project_dir / "rtl")
    meas.extra["da4ml_interpreter_events_checked"] = n_events
    meas.extra["trace_seconds"] = round(traced.trace_seconds, 3)
    with atomic_dir(project_dir / "rtl") as tmp:
        design = rtl.write_verilog(traced, tmp, clock_period_ns=budgets.clock_period_ns)
        meas.extra["pipeline_stages"] = design.n_stages
        meas.extra["adder_levels_per_stage"] = design.latency_cutoff
        meas.notes.append(
            f"RTL pipelined to <= {design.latency_cutoff:g} adder levels per stage for a "
            f"{budgets.clock_period_ns:g} ns clock (da4ml delay model); timing closure is not "
            "checked (no place and route)"
        )
        model_src = Source("da4ml", da_version, DA_RTL, ESTIMATE_TOOL)
        n_sim = n_events
        if traced.estimated_lut > MAX_FULL_RTL_SIM_LUT and n_events > LARGE_DESIGN_SIM_EVENTS:
            n_sim = LARGE_DESIGN_SIM_EVENTS
            meas.notes.append(
                f"large design (~{traced.estimated_lut:,.0f} LUT): RTL simulated on {n_sim} of "
                f"the {n_events} events (all {n_events} checked in da4ml's interpreter)"
            )
        _simulate_into(meas, design, x[:n_sim], expected[:n_sim], model_src)
        _synthesise_into(meas, design, budgets, run_synth, model_src)
    return meas


def _simulate_into(
    meas: Measurements, design: Any, x: Any, expected: Any, fallback: Source
) -> None:
    if rtl_sim.iverilog_version() is None:
        meas.notes.append(
            "iverilog not found: latency/II not simulated; using da4ml's pipeline stage count "
            "(+1 input register) instead"
        )
        meas.set("latency_cycles", design.n_stages + 1, fallback)
        meas.set("ii", 1, fallback)
        return
    sim = rtl_sim.simulate(design, x, expected)
    if sim.n_mismatch:
        raise VerificationError(
            f"RTL simulation differs from datrig's emulator on {sim.n_mismatch} of "
            f"{sim.n_events} events; see {design.out_dir}"
        )
    src = Source(sim.tool, sim.version, DA_RTL, MEASURED_SIM)
    meas.set("latency_cycles", sim.latency_cycles, src)
    meas.set("ii", sim.ii_cycles, src)
    meas.extra["rtl_sim_events_bit_exact"] = sim.n_events
    meas.extra["rtl_sim_seconds"] = round(sim.seconds, 3)


# iverilog took > 6 min for 1000 events of a 200k-LUT netlist here (~2.5 min for 64): large
# designs get fewer simulated events.
MAX_FULL_RTL_SIM_LUT = 50_000
LARGE_DESIGN_SIM_EVENTS = 64

# yosys synth_xilinx took ~30-60 s for a 13k-LUT MLP here and grows faster than linearly.
MAX_YOSYS_LUT = 80_000


def _synthesise_into(
    meas: Measurements, design: Any, budgets: Budgets, run: bool, fallback: Source
) -> None:
    reason = None
    estimated_lut = design.traced.estimated_lut
    if not run:
        reason = "yosys synthesis skipped (--no-synth)"
    elif synth.yosys_version() is None:
        reason = "yosys not found"
    elif estimated_lut > MAX_YOSYS_LUT:
        reason = (
            f"yosys synthesis skipped: ~{estimated_lut:,.0f} LUT by da4ml's model exceeds "
            f"{MAX_YOSYS_LUT:,} (yosys would take tens of minutes on this design)"
        )
    if reason is None:
        res = synth.synthesise(design, part=budgets.part)
        src = Source("yosys synth_xilinx", res.version, DA_RTL, MEASURED_SYNTH)
        for name, value in (
            ("lut", res.lut),
            ("ff", res.ff),
            ("dsp", res.dsp),
            ("bram", res.bram_18k),
        ):
            meas.set(name, value, src)
        meas.extra["yosys_family"] = res.family
        meas.extra["yosys_seconds"] = round(res.seconds, 3)
        meas.extra["yosys_cells"] = res.cells
        return
    meas.notes.append(f"{reason}: LUT/FF from da4ml's own cost model; DSP/BRAM are 0 by design")
    meas.set("lut", round(design.traced.estimated_lut), fallback)
    meas.set("ff", design.reg_bits, fallback)
    meas.set("dsp", 0, fallback)
    meas.set("bram", 0, fallback)


def write_report(report: Report, project_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` into the project (atomically)."""
    project_dir = Path(project_dir)
    json_path, md_path = project_dir / "report.json", project_dir / "report.md"
    write_json(json_path, report.to_json())
    with atomic_path(md_path) as tmp:
        tmp.write_text(to_markdown(report))
    return json_path, md_path


def to_markdown(report: Report) -> str:
    verdict = "PASS" if report.passed else "FAIL"
    lines = [
        f"# Firmware report: {report.model}",
        "",
        f"Part {report.part}, clock {report.clock_period_ns:g} ns. Overall: **{verdict}**.",
        "",
        "| quantity | value | unit | budget | pass | implementation | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for q in report.quantities:
        value = "n/a" if q.value is None else f"{q.value:g}"
        budget = "-" if q.budget is None else f"{q.budget:g}"
        ok = {True: "yes", False: "**NO**", None: "-"}[q.passed]
        impl = q.source.implementation if q.source else "-"
        src = f"{q.source.kind} ({q.source.tool} {q.source.version})" if q.source else "-"
        lines.append(f"| {q.name} | {value} | {q.unit} | {budget} | {ok} | {impl} | {src} |")
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


def summary_lines(report: Report) -> list[str]:
    """One line per quantity: value, unit, budget, verdict and the kind of source."""
    lines = []
    for q in report.quantities:
        value = "n/a" if q.value is None else f"{q.value:g}"
        budget = "" if q.budget is None else f" (budget {q.budget:g})"
        verdict = {True: "ok", False: "OVER BUDGET", None: ""}[q.passed]
        kind = q.source.kind if q.source else ""
        lines.append(f"{q.name:15s} {value:>10s} {q.unit}{budget} {verdict} [{kind}]")
    return lines
