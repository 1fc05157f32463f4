"""Where a firmware report's numbers come from: one registry entry per measurement backend.

``auto`` takes the first usable backend in :data:`BACKENDS` order: vendor HLS synthesis of the
hls4ml project itself (Vivado/Vitis on the PATH), else the open-source distributed-arithmetic
RTL of the same quantized network (da4ml + Verilator or iverilog + yosys), else the analytic
estimate.
A backend is a name, an availability check that says *why* it cannot run, and a measurement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from datrig.firmware import rtl_flow, vendor
from datrig.firmware.report_types import Measurements
from datrig.ir.network import NetworkIR
from datrig.project.config import FirmwareConfig


@dataclass(frozen=True)
class ReportTarget:
    """What a report measures: the network as the firmware computes it, its project folder
    (vendor synthesis runs there; the RTL goes into ``rtl/``) and its firmware config."""

    path: Path
    ir: NetworkIR
    firmware: FirmwareConfig


@dataclass(frozen=True)
class ReportOptions:
    synth: bool = True  # run synthesis (vendor HLS, or yosys on the RTL)
    simulate: bool = True  # co-simulate the RTL (Verilator, else iverilog) for latency and II
    seed: int = 0  # seeds the RTL-vs-emulator test inputs
    n_events: int = 100_000  # events simulated bit-exactly in RTL (iverilog: at most 1000)
    rtl_tool: str = "auto"  # RTL simulator: auto, verilator or iverilog


@dataclass(frozen=True)
class Backend:
    name: str
    description: str
    unavailable: Callable[[], str | None]  # why it cannot run here, or None
    measure: Callable[[ReportTarget, ReportOptions], Measurements]


def _vendor_unavailable() -> str | None:
    if vendor.find_vendor_tool() is None:
        return (
            "no Vivado/Vitis HLS on the PATH (vitis_hls, vivado_hls): hls4ml's HLS synthesis "
            "was not run; numbers below describe a distributed-arithmetic RTL implementation "
            "of the same quantized network, not hls4ml's HLS design"
        )
    return None


def _vendor_measure(target: ReportTarget, opts: ReportOptions) -> Measurements:
    tool = vendor.find_vendor_tool()
    xml = vendor.find_csynth_xml(target.path)
    if opts.synth or xml is None:
        xml = vendor.run_vendor_synthesis(target.path, tool)
    meas = vendor.parse_csynth_xml(xml).to_measurements()
    meas.extra["csynth_xml"] = str(xml)
    return meas


def _rtl_unavailable() -> str | None:
    return None if rtl_flow.rtl.da4ml_version() != "not installed" else "da4ml is not installed"


def _rtl_measure(target: ReportTarget, opts: ReportOptions) -> Measurements:
    return rtl_flow.rtl_measurements(
        target.ir,
        target.path,
        target.firmware,
        opts.synth,
        opts.seed,
        opts.n_events,
        opts.simulate,
        opts.rtl_tool,
    )


def _estimate_measure(target: ReportTarget, opts: ReportOptions) -> Measurements:
    return rtl_flow.analytic(target.ir, target.firmware)


BACKENDS: dict[str, Backend] = {
    "vendor": Backend(
        "vendor", "hls4ml HLS synthesis (Vivado/Vitis)", _vendor_unavailable, _vendor_measure
    ),
    "rtl": Backend(
        "rtl",
        "distributed-arithmetic RTL (da4ml, Verilator/iverilog, yosys)",
        _rtl_unavailable,
        _rtl_measure,
    ),
    "estimate": Backend("estimate", "analytic CSD adder count", lambda: None, _estimate_measure),
}
PREFER = ("auto", *BACKENDS)
