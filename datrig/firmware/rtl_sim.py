"""Simulate da4ml's pipelined Verilog with Icarus Verilog, bit-exactly, and read latency and II.

The testbench presents one event per clock (II = 1 by construction of the stimulus) and dumps
the output port after every rising edge. Registers start as ``x``, so the first dumped
output without ``x`` bits marks the pipeline latency; every later output must then match the
emulator in order, one per clock, which *measures* that the design accepts a new input every
clock (II = 1). Any mismatch is reported with the number of differing events.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datrig.errors import DatrigError, ToolMissingError, VerificationError
from datrig.firmware.rtl import RTLDesign


@dataclass(frozen=True)
class SimulationResult:
    latency_cycles: int
    ii_cycles: int
    n_events: int
    n_mismatch: int
    output_mantissas: np.ndarray
    tool: str
    version: str
    seconds: float


def iverilog_version() -> str | None:
    """``iverilog -V`` version string, or ``None`` when iverilog is absent."""
    exe = shutil.which("iverilog")
    if exe is None or shutil.which("vvp") is None:
        return None
    out = subprocess.run([exe, "-V"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"version\s+(\S+)", out)
    return match.group(1) if match else "unknown"


def pack_inputs(design: RTLDesign, input_mantissas: np.ndarray) -> list[int]:
    """One integer per event: each input's two's-complement bits at its field of the port."""
    x = np.asarray(input_mantissas, dtype=np.int64).reshape(len(input_mantissas), -1)
    if x.shape[1] != len(design.input_fields):
        raise DatrigError(f"expected {len(design.input_fields)} inputs per event, got {x.shape[1]}")
    words = []
    for row in x.tolist():
        word = 0
        for m, (offset, width, _) in zip(row, design.input_fields, strict=True):
            if width:
                word |= (int(m) & ((1 << width) - 1)) << offset
        words.append(word)
    return words


def unpack_output(design: RTLDesign, word: int) -> list[int]:
    """Output mantissas at the network's output type from one packed output word."""
    frac_out = design.traced.output_type.fractional
    out = []
    for offset, width, frac, signed in design.output_fields:
        raw = (word >> offset) & ((1 << width) - 1) if width else 0
        if signed and width and raw >> (width - 1):
            raw -= 1 << width
        shift = frac_out - frac
        out.append(raw << shift if shift >= 0 else raw >> -shift)
    return out


def testbench(design: RTLDesign, n_events: int, n_cycles: int) -> str:
    w_in, w_out = design.input_width, design.output_width
    return f"""`timescale 1 ns / 1 ps
module datrig_tb;
    reg clk = 0;
    reg [{w_in - 1}:0] stim [0:{n_events - 1}];
    reg [{w_in - 1}:0] model_inp;
    wire [{w_out - 1}:0] model_out;
    integer cycle, fd;
    {design.top} dut (.clk(clk), .model_inp(model_inp), .model_out(model_out));
    initial begin
        $readmemh("stimulus.hex", stim);
        fd = $fopen("response.txt", "w");
        model_inp = stim[0];
        for (cycle = 0; cycle < {n_cycles}; cycle = cycle + 1) begin
            #1 clk = 1;
            #1 $fdisplay(fd, "%h", model_out);
            model_inp = (cycle + 1 < {n_events}) ? stim[cycle + 1] : {{{w_in}{{1'bx}}}};
            #1 clk = 0;
        end
        $fclose(fd);
        $finish;
    end
endmodule
"""


def simulate(
    design: RTLDesign,
    input_mantissas: np.ndarray,
    expected_mantissas: np.ndarray,
    *,
    max_latency: int = 256,
    timeout_s: float = 600.0,
) -> SimulationResult:
    """Simulate ``design`` on the events and compare with ``expected_mantissas`` bit for bit."""
    version = iverilog_version()
    if version is None:
        raise ToolMissingError("iverilog/vvp not found; install Icarus Verilog (`make tools`)")
    start = time.perf_counter()
    n = len(input_mantissas)
    if n == 0:
        raise DatrigError("RTL simulation needs at least one event")
    expected = np.asarray(expected_mantissas, dtype=np.int64).reshape(n, -1)
    sim_dir = design.out_dir / "iverilog"
    sim_dir.mkdir(parents=True, exist_ok=True)
    hex_digits = (design.input_width + 3) // 4
    words = pack_inputs(design, input_mantissas)
    (sim_dir / "stimulus.hex").write_text("".join(f"{w:0{hex_digits}x}\n" for w in words))
    n_cycles = n + design.n_stages + max_latency
    (sim_dir / "tb.v").write_text(testbench(design, n, n_cycles))
    for mem in sorted((design.out_dir / "src" / "memfiles").glob("*.mem")):
        shutil.copyfile(mem, sim_dir / mem.name)  # ROMs $readmemh them by bare name
    sources = [str(p.resolve()) for p in design.sources()]
    _run(
        ["iverilog", "-g2012", "-o", "tb.vvp", "-s", "datrig_tb", "tb.v", *sources],
        sim_dir,
        timeout_s,
    )
    _run(["vvp", "-n", "tb.vvp"], sim_dir, timeout_s)
    lines = (sim_dir / "response.txt").read_text().split()

    latency = next((i + 1 for i, line in enumerate(lines) if "x" not in line.lower()), None)
    if latency is None or latency - 1 + n > len(lines):
        raise VerificationError(
            f"RTL simulation of {design.top} produced no complete output within {n_cycles} cycles"
        )
    got = np.array(
        [unpack_output(design, int(line, 16)) for line in lines[latency - 1 : latency - 1 + n]],
        dtype=np.int64,
    )
    n_mismatch = int(np.count_nonzero(np.any(got != expected, axis=1)))
    return SimulationResult(
        latency_cycles=latency,
        ii_cycles=1,
        n_events=n,
        n_mismatch=n_mismatch,
        output_mantissas=got,
        tool="Icarus Verilog",
        version=version,
        seconds=time.perf_counter() - start,
    )


def _run(cmd: list[str], cwd: Path, timeout_s: float) -> None:
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        raise DatrigError(f"{cmd[0]} exceeded {timeout_s:.0f} s in {cwd}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise DatrigError(f"{cmd[0]} failed in {cwd}: {' | '.join(tail)}")
