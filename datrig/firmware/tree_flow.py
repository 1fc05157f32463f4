"""``datrig hls`` for a tree ensemble: the verified conifer project, then its VHDL measured.

The VHDL (conifer's trees and adder tree, datrig's map block) is simulated with GHDL on the
run's test events and on seeded inputs over the whole grid, compared with the emulator bit for
bit; latency and II are read off the simulation's clock counter, LUT/FF/DSP/BRAM off yosys's
mapping of ``ghdl --synth``'s netlist. ``report.{json,md}`` hold every number and the budget.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from datrig.atomic import write_bytes, write_json
from datrig.bounds import check_events
from datrig.emulate.trees import emulate_mantissas
from datrig.export.conifer_vhdl import VHDL_ORDER
from datrig.export.tree_export import ensemble_is_current, export_ensemble, seeded_mantissas
from datrig.export.tree_vhdl import SHALLOW_FILE
from datrig.firmware.vhdl_flow import VhdlRun, simulate, synthesise
from datrig.project.config import FirmwareConfig
from datrig.project.devices import device_for_part
from datrig.project.trees import TreeProject, compare
from datrig.project.verify import Comparison
from datrig.train.predictions import load_predictions

# the two RTL designs of a project: datrig's pipelined VHDL (deployed: what the budget judges)
# and conifer's own VHDL (every level registered), both measured and both verified
DESIGNS = {
    "pipelined": ("vhdl_pipelined", (SHALLOW_FILE,)),
    "conifer": ("vhdl", VHDL_ORDER),
}
DEPLOYED = "pipelined"


def simulate_designs(
    project: TreeProject, x: np.ndarray, want: np.ndarray, work: Path
) -> dict[str, tuple[VhdlRun, Comparison]]:
    """Both VHDL designs of ``project`` in GHDL on input mantissas ``x``, each compared bit
    for bit with the emulator's outputs ``want``."""
    ir, runs = project.ir, {}
    for name, (folder, files) in DESIGNS.items():
        run = simulate(project.path / folder, x, ir.input_type.width, ir.output_type.width,
                       work / name / "sim", files=files)  # fmt: skip
        runs[name] = (run, compare(f"rtl_vs_emulator ({name} VHDL, GHDL)", run.outputs, want))
    return runs


def ensure_tree_project(
    run_dir: Path,
    project_dir: Path,
    fw: FirmwareConfig,
    *,
    seed: int,
    force: bool = False,
    say: Callable[[str], None] = lambda m: None,
) -> TreeProject:
    if not force and ensemble_is_current(project_dir, run_dir, fw):
        say(f"up to date: {project_dir}")
        return TreeProject.load(project_dir)
    say("tree ensemble -> conifer HLS C++ and VHDL, compiling the C-simulation ...")
    project = export_ensemble(
        run_dir, project_dir, fw, seed=seed, n_events=fw.verification.n_events
    )
    say(_message(project))
    return project


def _message(project: TreeProject) -> str:
    c = project.meta["verification"]["emulator_vs_csim"]
    return f"emulator vs conifer C-sim: {c['n_mismatch']} of {c['n_events']:,} events differ"


def measure(
    project: TreeProject,
    fw: FirmwareConfig,
    run_dir: Path,
    *,
    n_events: int,
    seed: int,
    synth: bool = True,
    say: Callable[[str], None] = lambda m: None,
    synth_conifer: bool = False,
) -> dict[str, Any]:
    """RTL simulation (GHDL) of both designs against the emulator, yosys resources of the
    deployed one (and of conifer's with ``synth_conifer``: minutes for a large ensemble),
    and the budget."""
    ir = project.ir
    check_events(n_events, project.bytes_per_event())
    preds = load_predictions(run_dir)
    events = project.mantissas(preds.inputs[: n_events // 2])
    x = np.concatenate([events, seeded_mantissas(ir, n_events - len(events), seed)])
    say(f"GHDL: both VHDL designs on {len(x):,} events ({len(events):,} test, the rest seeded) ...")
    csim = project.verify_mantissas(x, "csim_vs_emulator")
    family = device_for_part(fw.part).yosys_family
    designs = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = simulate_designs(project, x, emulate_mantissas(ir, x), Path(tmp))
        for name, (run, rtl) in runs.items():
            say(f"{name}: {rtl.n_mismatch} of {rtl.n_events:,} RTL outputs differ; latency "
                f"{run.latency_cycles} clocks, II {run.ii}")  # fmt: skip
            resources = None
            if synth and (name == DEPLOYED or synth_conifer):
                say(f"{name}: ghdl --synth + yosys synth_xilinx ...")
                folder, files = DESIGNS[name]
                res = synthesise(project.path / folder, family, Path(tmp) / name / "synth",
                                 files=files)  # fmt: skip
                resources = {"lut": res.lut, "ff": res.ff, "dsp": res.dsp, "bram": res.bram}
            designs[name] = {
                "latency_cycles": run.latency_cycles,
                "latency_ns": run.latency_cycles * fw.clock_period_ns,
                "ii": run.ii,
                "resources": resources,
                "rtl_vs_emulator": rtl.to_json(),
            }
    chosen = designs[DEPLOYED]
    b = fw.budget
    checks = {
        "verified": csim.ok and all(d["rtl_vs_emulator"]["n_mismatch"] == 0
                                    for d in designs.values()),
        "latency_ns": chosen["latency_ns"] <= b.latency_ns,
        "ii": chosen["ii"] <= b.ii,
    }  # fmt: skip
    resources = chosen["resources"]
    if resources is not None:
        checks.update({k: resources[k] <= getattr(b, k) for k in ("lut", "ff", "dsp", "bram")})
    rtl = designs[DEPLOYED]["rtl_vs_emulator"]
    return {
        "model": ir.name,
        "kind": "tree ensemble (conifer HLS C++ and VHDL; datrig's pipelined VHDL deployed)",
        "trees": len(ir.trees),
        "max_depth": ir.max_depth,
        "threshold_map": None if ir.threshold_map is None else list(ir.threshold_map.shape),
        "clock_period_ns": fw.clock_period_ns,
        "deployed": DEPLOYED,
        "latency_cycles": chosen["latency_cycles"],
        "latency_ns": chosen["latency_ns"],
        "ii": chosen["ii"],
        "resources": resources,
        "resources_source": "yosys synth_xilinx of ghdl --synth" if resources else None,
        "designs": designs,
        "budget": dataclasses.asdict(b),
        "verification": {"rtl_vs_emulator": rtl, "csim_vs_emulator": csim.to_json()},
        "checks": checks,
        "pass": all(checks.values()),
    }


def write_tree_report(report: dict[str, Any], project_dir: Path) -> Path:
    write_json(project_dir / "report.json", report)
    r, b = report["resources"] or {}, report["budget"]
    lines = [
        f"# {report['model']}: {report['kind']}",
        "",
        f"{report['trees']} trees of depth {report['max_depth']}"
        + (f", threshold map {report['threshold_map']}" if report["threshold_map"] else ""),
        "",
        "| quantity | measured | budget | ok |",
        "|---|---|---|---|",
        f"| latency | {report['latency_ns']:g} ns ({report['latency_cycles']} clocks) | "
        f"{b['latency_ns']:g} ns | {report['checks']['latency_ns']} |",
        f"| II | {report['ii']} | {b['ii']} | {report['checks']['ii']} |",
    ]
    for key in ("lut", "ff", "dsp", "bram"):
        if key in r:
            lines.append(f"| {key.upper()} | {r[key]:,} | {b[key]:,} | {report['checks'][key]} |")
    lines += ["", "| RTL design | latency | II | LUT | FF | DSP | differ from emulator |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, d in report["designs"].items():
        res = d["resources"] or {}
        lines.append(
            f"| {name}{' (deployed)' if name == report['deployed'] else ''} | "
            f"{d['latency_ns']:g} ns ({d['latency_cycles']} clk) | {d['ii']} | "
            f"{res.get('lut', '-')} | {res.get('ff', '-')} | {res.get('dsp', '-')} | "
            f"{d['rtl_vs_emulator']['n_mismatch']} of {d['rtl_vs_emulator']['n_events']:,} |"
        )
    for c in report["verification"].values():
        lines.append("")
        lines.append(f"- {c['name']}: {c['n_mismatch']} of {c['n_events']:,} events differ")
    lines += ["", f"**{'PASS' if report['pass'] else 'FAIL'}**", ""]
    md = project_dir / "report.md"
    write_bytes(md, "\n".join(lines).encode())
    return md
