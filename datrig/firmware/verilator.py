"""Compile da4ml's pipelined Verilog with Verilator once, then stream events through it at II 1.

The testbench (``verilator_tb.cpp``) reads the events as a binary file of input-type
mantissas, packs each into the input port, clocks the design once per event and writes the
output port, unpacked to output-type mantissas, after every rising edge. Comparing with the
emulator, aligning the stream (latency) and reporting are :mod:`datrig.firmware.cosim`'s job.

A build is cached per design: the key is the sha256 of the RTL sources, the testbench, the
Verilator and g++ versions and the flags, so the same RTL is compiled once per machine (a
build of photon_id takes ~10 s, a simulation of 10^6 events ~1 s). The build is
``verilator --cc --exe`` then Verilator's own makefile (what ``--build`` runs), with Verilator's
run-time library (verilated.o, ...) compiled once per machine and flags and reused by every
design: a small design then builds in ~5 s instead of ~15 s. The cache lives in
``$DATRIG_CACHE_DIR`` (default ``~/.cache/datrig``) under ``verilator/``; each entry is built in a
staging folder and renamed into place (:func:`datrig.atomic.atomic_dir`), under a lock so
concurrent builders of one design compile it once. Deleting the cache is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from datrig.atomic import ArtefactKind, atomic_dir, destination_lock, write_json
from datrig.errors import DatrigError, ToolMissingError
from datrig.firmware.rtl import RTLDesign
from datrig.safefs import die_with_parent, scratch_dir

BUILD = ArtefactKind("Verilator build", "build.json", "verilator-build")
RUNTIME = ArtefactKind("Verilator run-time library", "runtime.json", "verilator-runtime")
TESTBENCH = "verilator_tb.cpp"
EXECUTABLE = "Vtb"
TB_SCHEMA = "datrig-verilator-tb/1"  # bump when the testbench's file formats change

# Verilator's own optimisation, X values resolved the fastest way (the testbench drives every
# input, and latency is found by aligning with the emulator, not from X), no tracing, no
# timing (the RTL has no delays), lint warnings off (da4ml's generated code, not ours).
VERILATOR_FLAGS = (
    "-O3",
    "--x-assign",
    "fast",
    "--x-initial",
    "fast",
    "--no-timing",
    "-Wno-fatal",
    "-Wno-lint",
    "-Wno-style",
    "-Wfuture-WIDTHTRUNC",  # da4ml's lint pragmas name codes newer than Verilator 5.006
    "-Wfuture-WIDTHEXPAND",
)
# g++ level of the model's per-cycle code (Verilator's OPT_FAST), measured here on a loaded
# 2-core machine: photon_id (9k LUT) -Os 30 s for the eval function alone, -O1 build 36 s and
# 0.6M events/s, -Og build 11 s and 0.96M events/s; photon_id_gnn (43k LUT) -O0 24 s and
# 67k/s, -O1 90 s and 159k/s, -Og 23 s and 140k/s. The once-only initialisation code is
# compiled at -O0, in parallel with it (VM_PARALLEL_BUILDS).
CXX_OPT = "-Og"
# make variables of the build: the model split in files compiled in parallel, at CXX_OPT.
MAKE_VARIABLES = ("VM_PARALLEL_BUILDS=1", f"OPT_FAST={CXX_OPT}", "OPT_SLOW=-O0")
# Verilator's --threads 2 made photon_id_gnn 6x slower here (25k instead of 154k events/s:
# one evaluation is a few microseconds, less than the threads' synchronisation), so designs
# are built single-threaded; ``build(threads=2)`` remains for larger designs and idle machines.
DEFAULT_THREADS = 1


@dataclass(frozen=True)
class VerilatorBuild:
    """A compiled testbench of one design (``executable``), from the cache or just built."""

    executable: Path
    key: str
    version: str
    threads: int
    build_seconds: float  # of the build that made the entry
    cached: bool  # True: found in the cache, nothing was compiled now


def verilator_version() -> str | None:
    """``verilator --version`` (e.g. ``5.006``), or ``None`` when Verilator is absent."""
    exe = shutil.which("verilator")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, check=False, timeout=60
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"Verilator\s+(\S+)", out)
    return match.group(1) if match else None


def _compiler_version() -> str:
    exe = shutil.which("g++")
    if exe is None:
        raise ToolMissingError("g++ not found; Verilator needs a C++ compiler (`make tools`)")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else "unknown"


def cache_dir() -> Path:
    """Root of datrig's build cache: ``$DATRIG_CACHE_DIR``, else ``$XDG_CACHE_HOME/datrig``,
    else ``~/.cache/datrig``."""
    if os.environ.get("DATRIG_CACHE_DIR"):
        return Path(os.environ["DATRIG_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "datrig"


def input_dtype(design: RTLDesign) -> np.dtype:
    """Mantissa type of the input file: int32 unless an input field is wider."""
    widest = max(w for _, w, _ in design.input_fields)
    return np.dtype(np.int32 if widest <= 32 else np.int64)


def design_header(design: RTLDesign) -> str:
    """``datrig_tb_design.h``: the port layout of one design, for the testbench."""
    widths = [w for _, w, _ in design.input_fields] + [w for _, w, _, _ in design.output_fields]
    if max(widths) > 64:
        raise DatrigError(f"{design.top} has a port field wider than 64 bits; not supported")
    frac_out = design.traced.output_type.fractional
    ints = lambda values: ", ".join(str(int(v)) for v in values)  # noqa: E731
    in_type = "int32_t" if input_dtype(design) == np.int32 else "int64_t"
    return "\n".join(
        [
            f"// {design.top}: port layout for datrig's Verilator testbench (generated)",
            "#pragma once",
            "#include <cstdint>",
            f"typedef {in_type} datrig_in_t;",
            f"constexpr int DATRIG_N_IN = {len(design.input_fields)};",
            f"constexpr int DATRIG_N_OUT = {len(design.output_fields)};",
            f"constexpr int DATRIG_IN_WORDS = {max(2, (design.input_width + 31) // 32)};",
            f"constexpr int DATRIG_OUT_WORDS = {max(2, (design.output_width + 31) // 32)};",
            f"constexpr int DATRIG_IN_OFFSET[] = {{{ints(o for o, _, _ in design.input_fields)}}};",
            f"constexpr int DATRIG_IN_WIDTH[] = {{{ints(w for _, w, _ in design.input_fields)}}};",
            "constexpr int DATRIG_OUT_OFFSET[] = "
            f"{{{ints(o for o, _, _, _ in design.output_fields)}}};",
            "constexpr int DATRIG_OUT_WIDTH[] = "
            f"{{{ints(w for _, w, _, _ in design.output_fields)}}};",
            "constexpr bool DATRIG_OUT_SIGNED[] = "
            f"{{{ints(s for _, _, _, s in design.output_fields)}}};",
            "constexpr int DATRIG_OUT_SHIFT[] = "
            f"{{{ints(frac_out - f for _, _, f, _ in design.output_fields)}}};",
            "",
        ]
    )


def _testbench_source() -> str:
    return resources.files("datrig.firmware").joinpath(TESTBENCH).read_text()


def build_flags(design: RTLDesign, threads: int) -> list[str]:
    flags = [*VERILATOR_FLAGS, "--top-module", design.top, "--prefix", "Vdatrig_top"]
    return [*flags, "--threads", str(threads)] if threads > 1 else flags


def build_key(design: RTLDesign, threads: int, version: str) -> str:
    """sha256 of everything the executable depends on."""
    h = hashlib.sha256()
    for part in (
        TB_SCHEMA,
        _testbench_source(),
        design_header(design),
        version,
        _compiler_version(),
        " ".join(MAKE_VARIABLES),
        " ".join(build_flags(design, threads)),
    ):
        h.update(part.encode() + b"\0")
    src = design.out_dir / "src"
    for path in sorted(design.sources()):
        h.update(str(path.relative_to(src)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def build(design: RTLDesign, *, threads: int | None = None, jobs: int = 2) -> VerilatorBuild:
    """The compiled testbench of ``design``: from the cache, or compiled now and cached."""
    version = verilator_version()
    if version is None:
        raise ToolMissingError("verilator not found; install it (`make tools`) or use iverilog")
    threads = threads or DEFAULT_THREADS
    key = build_key(design, threads, version)
    dest = cache_dir() / "verilator" / f"{design.top}-{key[:24]}"
    with destination_lock(dest):
        done = _cached(dest, key)
        if done is not None:
            return done
        start = time.perf_counter()
        with atomic_dir(dest, BUILD) as tmp:
            _compile(design, tmp, threads, jobs, version)
            seconds = time.perf_counter() - start
            write_json(
                tmp / BUILD.marker,
                {
                    "stage": BUILD.value,
                    "key": key,
                    "top": design.top,
                    "verilator": version,
                    "flags": build_flags(design, threads),
                    "make": list(MAKE_VARIABLES),
                    "threads": threads,
                    "build_seconds": round(seconds, 3),
                },
            )
    return VerilatorBuild(dest / EXECUTABLE, key, version, threads, seconds, cached=False)


def _cached(dest: Path, key: str) -> VerilatorBuild | None:
    try:
        doc = json.loads((dest / BUILD.marker).read_text())
    except (OSError, ValueError):
        return None
    exe = dest / EXECUTABLE
    if doc.get("stage") != BUILD.value or doc.get("key") != key or not exe.is_file():
        return None
    return VerilatorBuild(
        exe, key, doc["verilator"], int(doc["threads"]), float(doc["build_seconds"]), True
    )


def _compile(design: RTLDesign, out: Path, threads: int, jobs: int, version: str) -> None:
    """Verilate, then make the executable in ``out/obj_dir`` (what ``verilator --build`` does,
    split so that Verilator's run-time library comes from the cache); keep the executable and
    a copy of the RTL."""
    (out / TESTBENCH).write_text(_testbench_source())
    (out / "datrig_tb_design.h").write_text(design_header(design))
    shutil.copytree(design.out_dir / "src", out / "src")
    sources = [str(out / "src" / p.relative_to(design.out_dir / "src")) for p in design.sources()]
    obj_dir = out / "obj_dir"
    verilate = ["verilator", "--cc", "--exe", *build_flags(design, threads), "--Mdir",
                str(obj_dir), "-o", EXECUTABLE, "-CFLAGS", f"-I{out}", str(out / TESTBENCH),
                *sources]  # fmt: skip
    _run_tool(verilate, out, f"verilator failed to build {design.top}")
    runtime = _runtime_dir(threads, version)
    library = _global_objects(obj_dir)
    have_runtime = all((runtime / name).is_file() for name in library)
    if have_runtime:  # copied, not linked: a fresh mtime, newer than the makefiles
        for name in library:
            shutil.copyfile(runtime / name, obj_dir / name)
    make = ["make", "-C", str(obj_dir), "-f", "Vdatrig_top.mk", "-j", str(jobs), *MAKE_VARIABLES,
            EXECUTABLE]  # fmt: skip
    where = cache_dir() / "verilator"
    _run_tool(make, out, f"compiling the Verilator model of {design.top} failed (delete {where})")
    if not have_runtime:
        _save_runtime(runtime, obj_dir, library)
    os.replace(obj_dir / EXECUTABLE, out / EXECUTABLE)
    shutil.rmtree(obj_dir)


def _run_tool(cmd: list[str], cwd: Path, what: str) -> None:
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, check=False, preexec_fn=die_with_parent
    )
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-4:])
        raise DatrigError(f"{what}: {tail}")


def _global_objects(obj_dir: Path) -> list[str]:
    """Object files of Verilator's run-time library this model links (``VM_GLOBAL_*`` of the
    generated makefile, e.g. verilated.o and verilated_threads.o)."""
    text = (obj_dir / "Vdatrig_top_classes.mk").read_text()
    names: list[str] = []
    for block in re.findall(r"VM_GLOBAL_(?:FAST|SLOW) \+= \\\n((?:\t\S+ \\\n)*)", text):
        names += [f"{line.strip().rstrip(chr(92)).strip()}.o" for line in block.splitlines()]
    if not names:
        raise DatrigError(f"no run-time library in {obj_dir}/Vdatrig_top_classes.mk")
    return names


def _runtime_dir(threads: int, version: str) -> Path:
    """Where the run-time library compiled with these flags is cached: the same for every
    design, so only the first build on a machine compiles it (~10 s of a small design's 15)."""
    h = hashlib.sha256()
    for part in (version, _compiler_version(), " ".join(VERILATOR_FLAGS), str(threads)):
        h.update(part.encode() + b"\0")
    return cache_dir() / "verilator" / f"runtime-{h.hexdigest()[:24]}"


def _save_runtime(runtime: Path, obj_dir: Path, library: list[str]) -> None:
    with destination_lock(runtime), atomic_dir(runtime, RUNTIME) as tmp:
        for name in library:
            shutil.copyfile(obj_dir / name, tmp / name)
        write_json(tmp / RUNTIME.marker, {"stage": RUNTIME.value, "objects": library})


def memory_file_dir(design: RTLDesign) -> Path | None:
    """Where the simulation runs: ROMs ``$readmemh`` their files by bare name at start-up."""
    return design.out_dir / "src" / "memfiles" if design.has_tables else None


def run(
    compiled: VerilatorBuild, design: RTLDesign, input_mantissas: np.ndarray, n_cycles: int
) -> tuple[np.ndarray, float]:
    """Stream the events through the design; return the output mantissas after each of
    ``n_cycles`` rising edges (int64, (n_cycles, n_out)) and the simulation's wall time (s)."""
    n = len(input_mantissas)
    x = np.ascontiguousarray(np.asarray(input_mantissas).reshape(n, -1), dtype=input_dtype(design))
    if x.shape[1] != len(design.input_fields):
        raise DatrigError(f"expected {len(design.input_fields)} inputs per event, got {x.shape[1]}")
    n_out = len(design.output_fields)
    with scratch_dir("verilator") as tmp:
        inp, outp = Path(tmp) / "inputs.bin", Path(tmp) / "outputs.bin"
        x.tofile(inp)
        start = time.perf_counter()
        proc = subprocess.run(
            [str(compiled.executable), str(inp), str(outp), str(n), str(n_cycles)],
            cwd=memory_file_dir(design),
            capture_output=True,
            text=True,
            check=False,
            preexec_fn=die_with_parent,
        )
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
            raise DatrigError(
                f"the Verilator testbench of {design.top} failed ({tail}); delete "
                f"{compiled.executable.parent} to rebuild it"
            )
        out = np.fromfile(outp, dtype=np.int64)
    if out.size != n_cycles * n_out:
        raise DatrigError(
            f"the Verilator testbench wrote {out.size} values, not {n_cycles * n_out}"
        )
    return out.reshape(n_cycles, n_out), seconds
