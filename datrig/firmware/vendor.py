"""Vendor HLS path: run hls4ml's build script with Vivado/Vitis HLS and parse ``csynth.xml``.

Only used when a vendor tool is on the PATH. The parser reads the XML report that both
Vivado HLS (<= 2020.x, ``DSP48E``) and Vitis HLS (>= 2021, ``DSP``) write after C synthesis;
latency is in clock cycles, the clock in ns, BRAM in 18 kb blocks.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from datrig.errors import DatrigError, SchemaError, ToolMissingError
from datrig.firmware.report_types import HLS4ML_HLS, MEASURED_SYNTH, Measurements, Source

# executable -> product name, in order of preference (hls4ml's Vitis backend first)
VENDOR_TOOLS: dict[str, str] = {"vitis_hls": "Vitis HLS", "vivado_hls": "Vivado HLS"}


@dataclass(frozen=True)
class VendorTool:
    executable: str
    product: str


@dataclass(frozen=True)
class CSynthReport:
    """The numbers of one ``<top>_csynth.xml``; latencies ``None`` when the tool wrote ``undef``."""

    product: str
    version: str
    part: str | None
    target_clock_ns: float
    estimated_clock_ns: float | None
    best_latency: int | None
    worst_latency: int | None
    interval_min: int | None
    interval_max: int | None
    resources: dict[str, int]
    available: dict[str, int]

    def to_measurements(self) -> Measurements:
        """Worst-case latency and max interval: a trigger budget must hold for every event."""
        source = Source(self.product, self.version, HLS4ML_HLS, MEASURED_SYNTH)
        out = Measurements(clock_period_ns=self.target_clock_ns)
        if self.worst_latency is not None:
            out.set("latency_cycles", self.worst_latency, source)
        else:
            out.notes.append(f"{self.product} could not determine the latency (undef)")
        if self.interval_max is not None:
            out.set("ii", self.interval_max, source)
        for name, key in (("lut", "LUT"), ("ff", "FF"), ("dsp", "DSP"), ("bram", "BRAM_18K")):
            if key in self.resources:
                out.set(name, self.resources[key], source)
        if self.estimated_clock_ns is not None:
            out.extra["estimated_clock_ns"] = self.estimated_clock_ns
        return out


def find_vendor_tool() -> VendorTool | None:
    for exe, product in VENDOR_TOOLS.items():
        if shutil.which(exe):
            return VendorTool(exe, product)
    return None


def parse_csynth_xml(path: str | Path) -> CSynthReport:
    """Parse a Vivado/Vitis HLS ``csynth.xml`` into typed numbers."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise SchemaError(f"cannot read HLS synthesis report {path}: {exc}") from None

    def text(xpath: str) -> str | None:
        node = root.find(xpath)
        return None if node is None or node.text is None else node.text.strip()

    target = text("./UserAssignments/TargetClockPeriod")
    if target is None or root.find("./AreaEstimates/Resources") is None:
        raise SchemaError(
            f"{path} is not an HLS csynth.xml report (no TargetClockPeriod or AreaEstimates); "
            "rerun the vendor synthesis"
        )
    version = text("./ReportVersion/Version") or "unknown"
    major = _major(version)
    resources = root.find("./AreaEstimates/Resources")
    dsp_tag = resources is not None and any(c.tag == "DSP48E" for c in resources)
    product = "Vivado HLS" if dsp_tag or (major is not None and major <= 2020) else "Vitis HLS"
    lat = "./PerformanceEstimates/SummaryOfOverallLatency/"
    return CSynthReport(
        product=product,
        version=version,
        part=text("./UserAssignments/Part"),
        target_clock_ns=float(target),
        estimated_clock_ns=_float(
            text("./PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod")
        ),
        best_latency=_int(text(lat + "Best-caseLatency")),
        worst_latency=_int(text(lat + "Worst-caseLatency")),
        interval_min=_int(text(lat + "Interval-min")),
        interval_max=_int(text(lat + "Interval-max")),
        resources=_resources(resources),
        available=_resources(root.find("./AreaEstimates/AvailableResources")),
    )


def find_csynth_xml(project_dir: str | Path) -> Path | None:
    """The csynth.xml hls4ml's build leaves in ``<name>_prj/solution1/syn/report/``."""
    project_dir = Path(project_dir)
    name = _project_name(project_dir)
    pattern = (
        f"{name}_prj/*/syn/report/{name}_csynth.xml" if name else "*_prj/*/syn/report/*_csynth.xml"
    )
    found = sorted(project_dir.glob(pattern))
    return found[0] if found else None


def run_vendor_synthesis(
    project_dir: str | Path, tool: VendorTool, *, timeout_s: float = 4 * 3600
) -> Path:
    """Run hls4ml's ``build_prj.tcl`` (csim + synthesis) like ``hls_model.build``; return the XML.

    The log goes to ``<project>/vendor_build.log``.
    """
    project_dir = Path(project_dir)
    if not (project_dir / "build_prj.tcl").is_file():
        raise SchemaError(f"{project_dir} has no build_prj.tcl; run `datrig export` first")
    if shutil.which(tool.executable) is None:
        raise ToolMissingError(
            f"{tool.executable} is not on the PATH; source the Xilinx settings script"
        )
    args = "reset=1 csim=1 synth=1 cosim=0 validation=0 export=0 vsynth=0 fifo_opt=0"
    log = project_dir / "vendor_build.log"
    with open(log, "w") as fh:
        try:
            proc = subprocess.run(
                [tool.executable, "-f", "build_prj.tcl", args],
                cwd=project_dir,
                stdout=fh,
                stderr=subprocess.STDOUT,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise DatrigError(
                f"{tool.product} synthesis exceeded {timeout_s:.0f} s; see {log}"
            ) from None
    xml = find_csynth_xml(project_dir)
    if proc.returncode != 0 or xml is None:
        raise DatrigError(f"{tool.product} synthesis failed (exit {proc.returncode}); see {log}")
    return xml


def _project_name(project_dir: Path) -> str | None:
    tcl = project_dir / "project.tcl"
    if not tcl.is_file():
        return None
    match = re.search(r'set\s+project_name\s+"([^"]+)"', tcl.read_text())
    return match.group(1) if match else None


def _resources(node: ET.Element | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for child in node if node is not None else []:
        value = _int(child.text.strip() if child.text else None)
        if value is not None:
            out["DSP" if child.tag == "DSP48E" else child.tag] = value
    return out


def _int(text: str | None) -> int | None:
    if text is None or not re.fullmatch(r"-?\d+", text):
        return None
    return int(text)


def _float(text: str | None) -> float | None:
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


def _major(version: str) -> int | None:
    match = re.match(r"(\d{4})", version)
    return int(match.group(1)) if match else None
