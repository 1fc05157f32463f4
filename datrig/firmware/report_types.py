"""Typed pieces of a firmware report: where a number came from, and what it is checked against.

Every quantity carries its :class:`Source`, so a reader can tell an hls4ml HLS synthesis
number from a distributed-arithmetic RTL simulation or an analytic estimate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

HLS4ML_HLS = "hls4ml HLS"
DA_RTL = "distributed-arithmetic RTL"

MEASURED_SYNTH = "measured: synthesis"
MEASURED_SIM = "measured: RTL simulation"
ESTIMATE_ANALYTIC = "estimate: analytic"
ESTIMATE_TOOL = "estimate: tool model"

# quantity name -> unit, in the order reports list them
QUANTITIES: dict[str, str] = {
    "latency_cycles": "clock cycles",
    "latency_ns": "ns",
    "ii": "clock cycles",
    "lut": "LUT",
    "ff": "FF",
    "dsp": "DSP",
    "bram": "BRAM_18K",
}


@dataclass(frozen=True)
class Source:
    """Which tool produced a number, for which implementation, and how (measured/estimated)."""

    tool: str
    version: str
    implementation: str
    kind: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Measurements:
    """Raw numbers from one backend (vendor HLS, open-source RTL, analytic estimate).

    ``values`` maps quantity names of :data:`QUANTITIES` (except ``latency_ns``, derived from
    cycles and the clock) to a number and its source. ``notes`` are shown in the report.
    """

    values: dict[str, tuple[float, Source]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    clock_period_ns: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)  # wall times: not in the artefact

    def set(self, name: str, value: float, source: Source) -> None:
        if name not in QUANTITIES:
            raise KeyError(f"unknown report quantity {name!r}")
        self.values[name] = (value, source)
