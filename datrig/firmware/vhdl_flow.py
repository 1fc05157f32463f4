"""The VHDL of a tree ensemble, simulated with GHDL and synthesised with GHDL + yosys.

``simulate`` streams input mantissas through datrig's testbench (one event per clock) and
returns every output mantissa with the clock it appeared on: the outputs are compared with
the emulator bit for bit, the first clock is the latency and the spacing the II.
``synthesise`` elaborates the design with ``ghdl --synth`` into Verilog and maps it with
yosys's ``synth_xilinx`` (the device's family), counting LUT/FF/DSP/BRAM as for the networks.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datrig.errors import DatrigError, ToolMissingError
from datrig.export.conifer_vhdl import TESTBENCH, VHDL_ORDER
from datrig.firmware.synth import count_cells, require_yosys, summarise

STD = "--std=08"


@dataclass(frozen=True)
class VhdlRun:
    outputs: np.ndarray  # int64 mantissas, one per event
    latency_cycles: int
    ii: int


def require_ghdl() -> str:
    ghdl = shutil.which("ghdl")
    if ghdl is None:
        raise ToolMissingError(
            "ghdl not found: the BDT's VHDL is simulated and synthesised with it "
            "(`make tools`, or apt-get install ghdl)"
        )
    return ghdl


def _sources(vhdl_dir: Path, files: tuple[str, ...]) -> list[str]:
    firmware = vhdl_dir / "firmware"
    missing = [f for f in files if not (firmware / f).is_file()]
    if missing:
        raise DatrigError(f"{vhdl_dir} lacks {', '.join(missing)}; re-export the project")
    return [str((firmware / f).resolve()) for f in files]


def _run(cmd: list[str], cwd: Path, what: str, timeout: float) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DatrigError(f"{what} did not finish in {timeout:.0f} s") from None
    if proc.returncode != 0:
        lines = [
            line
            for line in (proc.stderr or proc.stdout).splitlines()
            if "error" in line.lower() or ("warning" not in line and ":" in line)
        ]
        raise DatrigError(f"{what} failed: {lines[0].strip() if lines else 'no output'}")
    return proc


# GHDL's run time grows with the events simulated: conifer's VHDL of 120 depth-4 trees took
# ~3.2 ms per event on one core (10^6 events in ~55 min, more than the fixed hour it once had);
# the guard against a hung simulator allows 3x that, and never less than an hour
SIMULATION_SECONDS_PER_EVENT = 0.01
MIN_TIMEOUT = 3600.0


def simulation_timeout(n_events: int) -> float:
    """Seconds a GHDL simulation of ``n_events`` may take before it is called hung."""
    return max(MIN_TIMEOUT, SIMULATION_SECONDS_PER_EVENT * n_events)


def simulate(
    vhdl_dir: Path,
    x: np.ndarray,
    w_in: int,
    w_out: int,
    work: Path,
    files: tuple[str, ...] = VHDL_ORDER,
    timeout: float | None = None,
) -> VhdlRun:
    """GHDL simulation of DatrigTop (the design in ``files``, in order) on input mantissas
    ``x`` (events, features) in ``work``; ``timeout`` (of the simulation run; analysis and
    elaboration do not grow with the events and keep :data:`MIN_TIMEOUT`) defaults to
    :func:`simulation_timeout` of the events."""
    timeout = simulation_timeout(len(x)) if timeout is None else timeout
    ghdl = require_ghdl()
    work.mkdir(parents=True, exist_ok=True)
    sources = _sources(vhdl_dir, (*files, TESTBENCH))
    np.savetxt(work / "in.txt", np.asarray(x, dtype=np.int64), fmt="%d", delimiter=" ")
    _run([ghdl, "-a", STD, *sources], work, "ghdl analysis", MIN_TIMEOUT)
    _run([ghdl, "-e", STD, "DatrigTestbench"], work, "ghdl elaboration", MIN_TIMEOUT)
    generics = [f"-gN_FEATURES={x.shape[1]}", f"-gW_IN={w_in}", f"-gW_OUT={w_out}"]
    generics.append(f"-gN_EVENTS={len(x)}")
    what = f"ghdl simulation of {len(x):,} events"
    _run([ghdl, "-r", STD, "DatrigTestbench", *generics], work, what, timeout)
    table = np.loadtxt(work / "out.txt", dtype=np.int64, ndmin=2)
    if table.shape[0] != len(x):
        raise DatrigError(f"the VHDL gave {table.shape[0]} outputs for {len(x)} events")
    cycles = table[:, 0]
    gaps = np.diff(cycles)
    return VhdlRun(table[:, 1], int(cycles[0]), int(gaps.max()) if len(gaps) else 1)


@dataclass(frozen=True)
class VhdlResources:
    lut: int
    ff: int
    dsp: int
    bram: int
    cells: dict[str, int]


def synthesise(
    vhdl_dir: Path,
    family: str,
    work: Path,
    files: tuple[str, ...] = VHDL_ORDER,
    timeout: float = 1800.0,
) -> VhdlResources:
    """``ghdl --synth`` to Verilog, then yosys ``synth_xilinx`` (no DSP inference: the
    design is comparators, multiplexers and adders)."""
    ghdl = require_ghdl()
    require_yosys()
    work.mkdir(parents=True, exist_ok=True)
    proc = _run(
        [ghdl, "--synth", STD, "--out=verilog", *_sources(vhdl_dir, files), "-e", "DatrigTop"],
        work, "ghdl --synth", timeout,
    )  # fmt: skip
    (work / "DatrigTop.v").write_text(proc.stdout)
    stat = work / "stat.txt"
    script = (
        f"read_verilog {work.resolve() / 'DatrigTop.v'}; "
        f"synth_xilinx -flatten -nodsp -family {family} -top DatrigTop; "
        f"tee -o {stat.resolve()} stat"
    )
    _run(["yosys", "-q", "-l", "yosys.log", "-p", script], work, "yosys", timeout)
    cells = count_cells(stat.read_text())
    lut, ff, dsp, bram, _ = summarise(cells)
    return VhdlResources(lut, ff, dsp, bram, cells)
