"""Latency against the clock: the same network's RTL pipelined for several clocks and adder
depths, each point measured (RTL simulation, yosys) as ``datrig report`` measures one.

A faster clock means fewer adder levels per pipeline stage (:data:`rtl.ADDER_LEVELS_PER_NS`),
so more stages and registers; a depth slack of 0 keeps adder trees shallowest at some LUT
cost. The table lets a trigger engineer read the cycles and LUT each L1 clock costs.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datrig.atomic import write_bytes, write_json
from datrig.firmware import rtl_flow
from datrig.project.config import FirmwareConfig
from datrig.safefs import scratch_dir

FRONTIER_JSON = "clock_frontier.json"
FRONTIER_MD = "clock_frontier.md"


@dataclass(frozen=True)
class FrontierPoint:
    clock_mhz: float
    adder_depth_slack: int
    adder_levels_per_stage: float
    latency_cycles: int
    latency_ns: float
    ii: int
    lut: int
    ff: int
    dsp: int
    bram: int
    sources: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def measure_point(
    ir: Any,
    fw: FirmwareConfig,
    clock_mhz: float,
    slack: int,
    *,
    synth: bool,
    seed: int,
    n_events: int,
    rtl_tool: str = "auto",
) -> FrontierPoint:
    """One clock and depth slack, measured in a scratch folder (the project's rtl/ is kept)."""
    point_fw = dataclasses.replace(fw, clock_period_ns=1000.0 / clock_mhz, adder_depth_slack=slack)
    with scratch_dir("frontier") as tmp:
        meas = rtl_flow.rtl_measurements(
            ir, Path(tmp), point_fw, synth, seed, n_events, sim_tool=rtl_tool,
            estimate_if_untraceable=False,  # a frontier of estimates would measure nothing
        )  # fmt: skip
    values = {name: value for name, (value, _) in meas.values.items()}
    cycles = int(values["latency_cycles"])
    return FrontierPoint(
        clock_mhz=float(clock_mhz),
        adder_depth_slack=int(slack),
        adder_levels_per_stage=float(meas.extra["adder_levels_per_stage"]),
        latency_cycles=cycles,
        latency_ns=round(cycles * point_fw.clock_period_ns, 3),
        ii=int(values["ii"]),
        lut=int(values["lut"]),
        ff=int(values["ff"]),
        dsp=int(values["dsp"]),
        bram=int(values["bram"]),
        sources={name: src.kind for name, (_, src) in meas.values.items()},
    )


def measure_frontier(
    ir: Any,
    fw: FirmwareConfig,
    clocks_mhz: list[float],
    slacks: list[int],
    *,
    synth: bool,
    seed: int,
    n_events: int,
    rtl_tool: str = "auto",
) -> list[FrontierPoint]:
    points = []
    grid = [(c, s) for c in clocks_mhz for s in slacks]
    for k, (clock, slack) in enumerate(grid, 1):
        print(
            f"datrig report: clock frontier {k}/{len(grid)}: {clock:g} MHz, depth slack {slack}",
            file=sys.stderr,
        )
        points.append(
            measure_point(
                ir, fw, clock, slack, synth=synth, seed=seed, n_events=n_events, rtl_tool=rtl_tool
            )
        )
    return points


def frontier_lines(points: list[FrontierPoint]) -> list[str]:
    """A markdown table, one row per point."""
    rows = [
        "| clock (MHz) | depth slack | adder levels / stage | latency (cycles) | latency (ns) "
        "| II | LUT | FF | DSP |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        rows.append(
            f"| {p.clock_mhz:g} | {p.adder_depth_slack} | {p.adder_levels_per_stage:g} "
            f"| {p.latency_cycles} | {p.latency_ns:g} | {p.ii} | {p.lut:,} | {p.ff:,} | {p.dsp} |"
        )
    kinds = sorted({kind for p in points for kind in p.sources.values()})
    rows.append("")
    rows.append(f"Sources: {', '.join(kinds)}; timing closure is not checked (no place and route).")
    return rows


def write_frontier(points: list[FrontierPoint], project_dir: Path, model: str) -> Path:
    """``clock_frontier.json`` and ``.md`` in the project, each written atomically."""
    path = Path(project_dir) / FRONTIER_JSON
    write_json(path, {"model": model, "points": [p.to_json() for p in points]})
    title = f"# {model}: latency and resources against the clock"
    text = "\n".join([title, "", *frontier_lines(points)])
    write_bytes(Path(project_dir) / FRONTIER_MD, (text + "\n").encode())
    return path
