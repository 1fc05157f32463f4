"""Synthesise da4ml's Verilog with yosys ``synth_xilinx`` and count LUT/FF/DSP/BRAM cells.

yosys maps to Xilinx primitives without place and route, so the counts are a logic-synthesis
measurement (no timing). BRAM is reported in 18 kb blocks: a RAMB36 counts as two.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from datrig.errors import DatrigError, ToolMissingError
from datrig.firmware.rtl import RTLDesign

_CELL = re.compile(r"^\s+(\S+)\s+(\d+)\s*$")


@dataclass(frozen=True)
class SynthesisResult:
    lut: int
    ff: int
    dsp: int
    bram_18k: int
    carry: int
    family: str
    version: str
    seconds: float
    cells: dict[str, int] = field(default_factory=dict)


def yosys_version() -> str | None:
    exe = shutil.which("yosys")
    if exe is None:
        return None
    out = subprocess.run([exe, "-V"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"Yosys\s+(\S+)", out)
    return match.group(1) if match else "unknown"


def require_yosys() -> str:
    """yosys's version, or a ToolMissingError saying how to get it."""
    version = yosys_version()
    if version is None:
        raise ToolMissingError(
            "yosys not found; install it (`make tools` or apt-get install yosys)"
        )
    return version


def count_cells(stat_text: str) -> dict[str, int]:
    """Cell counts from the last top-level ``Number of cells`` block of yosys ``stat``."""
    blocks = stat_text.split("Number of cells:")
    if len(blocks) < 2:
        raise DatrigError("yosys stat output has no cell counts")
    cells: dict[str, int] = {}
    for line in blocks[-1].splitlines()[1:]:
        match = _CELL.match(line)
        if match:
            cells[match.group(1)] = int(match.group(2))
        elif line.strip() and cells:
            break
    return cells


def summarise(cells: dict[str, int]) -> tuple[int, int, int, int, int]:
    """(LUT, FF, DSP, BRAM_18K, CARRY) from Xilinx primitive counts."""
    lut = sum(n for c, n in cells.items() if re.fullmatch(r"LUT[1-6]", c))
    lut += sum(n for c, n in cells.items() if c in ("LUT6_2", "INV"))  # INV is a LUT1
    ff = sum(n for c, n in cells.items() if re.fullmatch(r"FD[A-Z]*", c))
    dsp = sum(n for c, n in cells.items() if c.startswith("DSP"))
    bram = sum(n for c, n in cells.items() if c.startswith("RAMB18"))
    bram += 2 * sum(n for c, n in cells.items() if c.startswith("RAMB36"))
    carry = sum(n for c, n in cells.items() if c.startswith("CARRY"))
    return lut, ff, dsp, bram, carry


def synthesise(
    design: RTLDesign,
    *,
    family: str,
    timeout_s: float = 1800.0,
    netlist: Path | None = None,
    cancel: threading.Event | None = None,
) -> SynthesisResult:
    """Run ``synth_xilinx -flatten -nodsp -family <family>`` (the device's yosys family, see
    :mod:`datrig.project.devices`); the log is ``<out_dir>/yosys.log``. ``-nodsp``: the design
    is all LUTs, as da4ml builds it, and a softmax's variable products stay in LUTs too.
    ``netlist``: also write the mapped netlist there (for gate-level simulation). ``cancel``:
    set from another thread, yosys is stopped within 0.2 s (a report that failed or was
    interrupted elsewhere does not wait for it)."""
    version = require_yosys()
    sources = " ".join(str(p.resolve()) for p in design.sources())
    top, stat = design.top, (design.out_dir / "stat.txt").resolve()
    # da4ml's ROMs (lookup_table.v) ask for rom_style="distributed": LUTs. yosys cannot map
    # that attribute for an asynchronous read, so it is unset and block RAM is ruled out
    # (-nobram), which leaves the ROMs as LUT/MUXF7-9 trees, as asked.
    roms, flags = "", "-flatten -nodsp"
    if design.has_tables:
        roms = f"hierarchy -top {top}; proc; flatten; memory_collect; "
        roms += "setattr -unset rom_style t:$mem_v2; "
        flags += " -nobram"
    script = (
        f"read_verilog -defer -sv {sources}; {roms}"
        f"synth_xilinx {flags} -family {family} -top {top}; tee -o {stat} stat"
    )
    if netlist is not None:
        script += f"; write_verilog -noattr {Path(netlist).resolve()}"
    start = time.perf_counter()
    log = design.out_dir / "yosys.log"
    with subprocess.Popen(
        ["yosys", "-q", "-l", str(log.resolve()), "-p", script],
        cwd=design.out_dir / "src" / "memfiles" if design.has_tables else design.out_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        while True:
            try:
                stdout, stderr = proc.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                cancelled = cancel is not None and cancel.is_set()
                if cancelled or time.perf_counter() - start > timeout_s:
                    proc.kill()
                    proc.communicate()
                    if cancelled:
                        raise DatrigError("yosys synthesis cancelled") from None
                    raise DatrigError(
                        f"yosys synthesis exceeded {timeout_s:.0f} s; rerun with --no-synth"
                    ) from None
    if proc.returncode != 0:
        tail = (stderr or stdout).strip().splitlines()[-3:]
        raise DatrigError(f"yosys synthesis failed ({' | '.join(tail)}); see {log}")
    cells = count_cells((design.out_dir / "stat.txt").read_text())
    lut, ff, dsp, bram, carry = summarise(cells)
    return SynthesisResult(
        lut=lut,
        ff=ff,
        dsp=dsp,
        bram_18k=bram,
        carry=carry,
        family=family,
        version=version,
        seconds=time.perf_counter() - start,
        cells=cells,
    )
