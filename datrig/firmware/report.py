"""Latency/resource report of a firmware project against the trigger budgets.

Numbers come from the best available source, in this order: vendor HLS synthesis of the
hls4ml project (Vivado/Vitis on the PATH); else the open-source distributed-arithmetic RTL
path (da4ml Verilog, co-simulated bit-exactly with Verilator or iverilog against datrig's
emulator and synthesised with yosys); else an analytic estimate. Each quantity states its source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datrig.atomic import atomic_path, write_json
from datrig.errors import DatrigError, ToolMissingError
from datrig.firmware.backends import BACKENDS, PREFER, ReportOptions, ReportTarget
from datrig.firmware.report_types import QUANTITIES, Measurements, Source
from datrig.project.config import FirmwareConfig, config_for_model
from datrig.project.meta import FirmwareProject

RESOURCES = ("lut", "ff", "dsp", "bram")  # quantities also shown as a fraction of the device


@dataclass(frozen=True)
class Quantity:
    name: str
    value: float | None
    unit: str
    budget: float | None
    passed: bool | None  # None: no value or no budget
    source: Source | None
    fraction: float | None = None  # of the device's total, for resources

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "unit": self.unit,
            "budget": self.budget,
            "pass": self.passed,
            "fraction_of_device": self.fraction,
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
    # wall times and rates of this run: printed, never written into report.json (which is
    # byte-identical for the same seed)
    timings: dict[str, Any] = field(default_factory=dict)

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


def check_budgets(meas: Measurements, fw: FirmwareConfig, *, model: str) -> Report:
    """Turn raw measurements into a report: derive latency in ns, compare with each budget of
    the firmware config, express resources as fractions of the config's device."""
    clock = meas.clock_period_ns or fw.clock_period_ns
    values = dict(meas.values)
    if "latency_cycles" in values:
        cycles, src = values["latency_cycles"]
        values["latency_ns"] = (cycles * clock, src)
    b = fw.budget
    budget_of = {
        "latency_ns": b.latency_ns,
        "latency_cycles": math.floor(b.latency_ns / clock + 1e-9),
        "ii": b.ii,
        "lut": b.lut,
        "ff": b.ff,
        "dsp": b.dsp,
        "bram": b.bram,
    }
    device = fw.device
    quantities = []
    for name, unit in QUANTITIES.items():
        value, source = values.get(name, (None, None))
        budget = budget_of[name]
        passed = None if value is None or budget is None else bool(value <= budget)
        fraction = device.fraction(name, value) if name in RESOURCES and value is not None else None
        quantities.append(Quantity(name, value, unit, budget, passed, source, fraction))
    notes = list(meas.notes)
    latency = next(q for q in quantities if q.name == "latency_cycles")
    if latency.passed is False and meas.extra.get("adder_levels_path"):
        notes.append(_depth_note(latency, meas.extra))
    return Report(model, clock, fw.part, quantities, notes, dict(meas.extra), dict(meas.timings))


def _depth_note(latency: Quantity, extra: dict) -> str:
    """Why a distributed-arithmetic pipeline is over its latency budget, and where: the
    layers of the deepest path and the adder levels each adds."""
    path = ", ".join(f"{name} +{levels:g}" for name, levels in extra["adder_levels_path"])
    return (
        f"latency {latency.value:g} clocks against {latency.budget:g}: the logic is "
        f"{extra['adder_levels']:g} adder levels deep, at most "
        f"{extra['adder_levels_per_stage']:g} per pipeline stage; the deepest path: {path}. "
        "A constant-matrix multiply is about log2 of its widest column's terms (non-zero "
        "weights x their signed digits) deep: fewer or narrower weights there (with --bits "
        "auto a larger --resource-lam, or another training --seed) or a longer clock shorten it"
    )


def report_target(project: FirmwareProject, config_path: Path | None = None) -> ReportTarget:
    """The project as a report target, checked against its own firmware config or, with
    ``config_path``, against that YAML's budgets (its build settings must be the project's)."""
    fw = project.meta.firmware
    if config_path is not None:
        wanted = config_for_model(project.meta.model, config_path)
        build_of = {
            k: v for k, v in wanted.to_json().items() if k not in ("budget", "verification")
        }
        built = {k: v for k, v in fw.to_json().items() if k not in ("budget", "verification")}
        if build_of != built:
            differ = sorted(k for k in built if built[k] != build_of.get(k))
            raise DatrigError(
                f"{config_path} builds the firmware differently from {project.path} "
                f"({', '.join(differ)}); re-export the project with this config first"
            )
        fw = wanted
    return ReportTarget(project.path, project.ir, fw)


def build_report(
    target: ReportTarget, *, prefer: str = "auto", options: ReportOptions | None = None
) -> Report:
    """Measure (or estimate) latency and resources with the preferred backend; check budgets.

    ``auto`` uses the first usable backend of :data:`BACKENDS` and notes why the ones before
    it could not run; naming an unusable backend is an error that says why.
    """
    options = options or ReportOptions()
    if prefer not in PREFER:
        raise DatrigError(f"unknown report source {prefer!r}; choose one of {', '.join(PREFER)}")
    if not Path(target.path).is_dir():
        raise DatrigError(f"project {target.path} does not exist; run `datrig export` first")
    notes: list[str] = []
    if prefer == "auto":
        for backend in BACKENDS.values():
            reason = backend.unavailable()
            if reason is None:
                break
            notes.append(reason)
    else:
        backend = BACKENDS[prefer]
        reason = backend.unavailable()
        if reason is not None:
            raise ToolMissingError(f"report source {prefer!r} cannot run here: {reason}")
    meas = backend.measure(target, options)
    meas.notes[:0] = notes
    return check_budgets(meas, target.firmware, model=target.firmware.model)


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
        "| quantity | value | unit | of device | budget | pass | implementation | source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for q in report.quantities:
        value = "n/a" if q.value is None else f"{q.value:g}"
        budget = "-" if q.budget is None else f"{q.budget:g}"
        share = "-" if q.fraction is None else f"{100 * q.fraction:.3g} %"
        ok = {True: "yes", False: "**NO**", None: "-"}[q.passed]
        impl = q.source.implementation if q.source else "-"
        src = f"{q.source.kind} ({q.source.tool} {q.source.version})" if q.source else "-"
        lines.append(
            f"| {q.name} | {value} | {q.unit} | {share} | {budget} | {ok} | {impl} | {src} |"
        )
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
        share = "" if q.fraction is None else f" ({100 * q.fraction:.3g} % of {report.part})"
        lines.append(f"{q.name:15s} {value:>10s} {q.unit}{share}{budget} {verdict} [{kind}]")
    return lines
