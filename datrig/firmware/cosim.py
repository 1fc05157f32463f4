"""Co-simulation of the DA-RTL against datrig's emulator, bit for bit, at II 1.

The RTL is what would go on the FPGA; the emulator is checked against hls4ml's C-simulation
on as many events as anyone asks for. This module checks the RTL on the same number: the
events are cast to the network's input type exactly as the emulator casts them, streamed
through the pipeline one per clock, and every output word is compared with the emulator's
with exact integer equality.

Simulators, in order of preference: Verilator (compiled once per design and cached, see
:mod:`datrig.firmware.verilator`; millions of events per minute), then Icarus Verilog
(:mod:`datrig.firmware.rtl_sim`; ~250 events/s for photon_id, so it gets few events).

Latency is measured, not assumed: with Verilator the registers start at 0 (``--x-initial
fast``), so the output stream is aligned with the emulator's outputs on the first
:data:`PROBE_EVENTS` events (the shift at which all of them agree); iverilog's
registers start as X and the first output without X marks it. Every later event must then
appear one clock after the previous one, which measures II = 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from datrig.emulate.fixed import from_float
from datrig.emulate.runner import emulate
from datrig.errors import DatrigError, ToolMissingError
from datrig.firmware import rtl, rtl_sim, verilator
from datrig.firmware.rtl import RTLDesign
from datrig.ir.network import NetworkIR
from datrig.project.config import FirmwareConfig

TOOLS = ("auto", "verilator", "iverilog")
PROBE_EVENTS = 4096  # events used to find the latency by aligning the output stream
MAX_EXTRA_LATENCY = 64  # cycles beyond da4ml's stage count searched for the first output


@dataclass(frozen=True)
class RTLComparison:
    """RTL vs emulator on ``n_events`` events, exact; the first mismatch located."""

    tool: str
    version: str
    n_events: int
    n_mismatch: int
    first_event: int | None
    first_output: int | None  # index of the first differing output word of that event
    rtl_value: int | None  # its mantissa in the RTL ...
    emulator_value: int | None  # ... and in the emulator
    latency_cycles: int | None  # None: no alignment of the stream with the emulator found
    ii_cycles: int | None
    sim_seconds: float
    build_seconds: float = 0.0  # Verilator: the build now (0 when cached)
    build_cached: bool = False
    threads: int = 1

    @property
    def ok(self) -> bool:
        return self.n_mismatch == 0 and self.latency_cycles is not None

    @property
    def events_per_s(self) -> float:
        return self.n_events / self.sim_seconds if self.sim_seconds > 0 else float("inf")

    def message(self) -> str:
        head = (
            f"rtl_vs_emulator ({self.tool} {self.version}): {self.n_mismatch:,} of "
            f"{self.n_events:,} events differ bit for bit"
        )
        if self.first_event is not None:
            head += (
                f" (first event {self.first_event}, output word {self.first_output}: RTL "
                f"{self.rtl_value} vs emulator {self.emulator_value}, in output-type LSBs)"
            )
        if self.latency_cycles is None:
            head += "; no alignment of the output stream with the emulator was found"
        else:
            head += f"; latency {self.latency_cycles} cycles"
            head += "" if self.ii_cycles is None else f", II {self.ii_cycles}"
        build = ""
        if self.tool == "Verilator":
            build = "cached build" if self.build_cached else f"built in {self.build_seconds:.0f} s"
            build = f"; {build}, {self.threads} thread{'s' if self.threads > 1 else ''}"
        return (
            f"{head}; {self.events_per_s:,.0f} events/s ({self.sim_seconds:.1f} s simulated{build})"
        )


def available_tool(tool: str = "auto") -> str:
    """The simulator to use: ``verilator``, else ``iverilog``; a named one must exist."""
    if tool not in TOOLS:
        raise DatrigError(f"unknown RTL simulator {tool!r}; choose one of {', '.join(TOOLS)}")
    has = {
        "verilator": verilator.verilator_version() is not None,
        "iverilog": rtl_sim.iverilog_version() is not None,
    }
    if tool != "auto":
        if not has[tool]:
            raise ToolMissingError(f"{tool} not found; install it with `make tools`")
        return tool
    for name in ("verilator", "iverilog"):
        if has[name]:
            return name
    raise ToolMissingError(
        "neither verilator nor iverilog found: the RTL cannot be simulated; install them with "
        "`make tools` (apt: verilator iverilog)"
    )


def rtl_inputs(ir: NetworkIR, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Input-type mantissas (as the emulator casts float inputs, saturating or wrapping
    out-of-range values) and the emulator's output mantissas, for float ``inputs``."""
    x = np.asarray(inputs, dtype=np.float64)
    first = ir.layers[0]
    mantissas = from_float(x.reshape((len(x), *first.shape)), first.result_t)
    return mantissas, emulate(ir, x).mantissas


def cosimulate(
    design: RTLDesign,
    input_mantissas: np.ndarray,
    expected_mantissas: np.ndarray,
    *,
    tool: str = "auto",
    threads: int | None = None,
) -> RTLComparison:
    """Stream the events through ``design`` and compare every output word with
    ``expected_mantissas`` (the emulator's, int64 (n, n_out)) exactly."""
    n = len(input_mantissas)
    if n == 0:
        raise DatrigError("RTL co-simulation needs at least one event")
    expected = np.asarray(expected_mantissas, dtype=np.int64).reshape(n, -1)
    if available_tool(tool) == "iverilog":
        sim = rtl_sim.simulate(design, input_mantissas, expected)
        return _compare(
            sim.output_mantissas, expected, sim.tool, sim.version, sim.latency_cycles, sim.seconds
        )
    compiled = verilator.build(design, threads=threads)
    pipeline_latency = design.n_stages + 1  # an input register, then one per stage
    max_latency = pipeline_latency + MAX_EXTRA_LATENCY
    stream, seconds = verilator.run(compiled, design, input_mantissas, n + max_latency)
    latency = align(stream, expected, max_latency, pipeline_latency)
    start = (pipeline_latency if latency is None else latency) - 1
    result = _compare(stream[start : start + n], expected, "Verilator", compiled.version,
                      latency, seconds)  # fmt: skip
    return RTLComparison(
        **{
            **asdict(result),
            "build_seconds": 0.0 if compiled.cached else compiled.build_seconds,
            "build_cached": compiled.cached,
            "threads": compiled.threads,
        }
    )


def align(
    stream: np.ndarray, expected: np.ndarray, max_latency: int, pipeline_latency: int
) -> int | None:
    """The latency in cycles: the shift at which the output stream (one row per rising edge,
    the first event presented before the first edge) equals the expected outputs of the first
    PROBE_EVENTS events; None if no shift up to ``max_latency`` does. Should several shifts
    agree (outputs that repeat, e.g. all saturated), da4ml's ``pipeline_latency`` is tried
    first, then the shortest."""
    k = min(len(expected), PROBE_EVENTS)
    shifts = range(1, max_latency + 1)
    for latency in sorted(shifts, key=lambda s: (s != pipeline_latency, s)):
        if np.array_equal(stream[latency - 1 : latency - 1 + k], expected[:k]):
            return latency
    return None


def _compare(
    got: np.ndarray,
    expected: np.ndarray,
    tool: str,
    version: str,
    latency: int | None,
    seconds: float,
) -> RTLComparison:
    got = np.asarray(got, dtype=np.int64).reshape(expected.shape)
    bad = got != expected
    bad_events = np.flatnonzero(np.any(bad, axis=1))
    first = int(bad_events[0]) if len(bad_events) else None
    word = int(np.flatnonzero(bad[first])[0]) if first is not None else None
    return RTLComparison(
        tool=tool,
        version=version,
        n_events=len(expected),
        n_mismatch=len(bad_events),
        first_event=first,
        first_output=word,
        rtl_value=None if first is None else int(got[first, word]),
        emulator_value=None if first is None else int(expected[first, word]),
        latency_cycles=latency,
        ii_cycles=1 if latency is not None and not len(bad_events) else None,
        sim_seconds=seconds,
    )


def design_for(ir: NetworkIR, firmware: FirmwareConfig, out_dir: Path) -> RTLDesign:
    """The pipelined Verilog of ``ir`` for ``firmware``'s clock and adder-depth setting, as
    ``datrig report`` writes it (same sources, so the same cached Verilator build)."""
    traced = rtl.trace_network(ir, depth_slack=firmware.adder_depth_slack)
    return rtl.write_verilog(traced, out_dir, clock_period_ns=firmware.clock_period_ns)
