"""Export cost, and the DA-RTL of the exported MLP (``benchmarks/mlp_project.py``) against
the emulator, on the same events as the emulator and C-simulation benchmarks.

* ``test_export_conversion``: QONNX cleanup + hls4ml conversion with datrig's derived types
  (no g++: the compile is a separate, compiler-bound step).
* ``test_rtl_verilator_events_per_s`` / ``test_rtl_iverilog_events_per_s``: the project's
  DA-RTL co-simulated bit for bit against the emulator (`datrig verify --rtl`) with Verilator
  and with iverilog (fewer events): the whole check (input file, simulation, comparison), and
  for Verilator also the testbench process alone and the build (timed in a fresh cache).

`make bench` prints the RTL rates next to the emulator's and the C-simulation's, and their
ratios, in its summary (``benchmarks/results.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.results import compare, per_second, record, size

N_IVERILOG = size(1000, 50)  # iverilog simulates a few hundred events per second

compare("RTL Verilator / emulator", "export.rtl_verilator", "emulate.emulator")
compare(
    "RTL Verilator, testbench alone / emulator",
    "export.rtl_verilator_simulation_only",
    "emulate.emulator",
)
compare("RTL Verilator / hls4ml C-sim", "export.rtl_verilator", "emulate.csim")
compare("RTL Verilator / RTL iverilog", "export.rtl_verilator", "export.rtl_iverilog")


def test_export_conversion(benchmark, mlp_case, tmp_path) -> None:
    from datrig.export import qonnx as qx
    from datrig.export.hls import convert
    from datrig.export.project import _clean_reference
    from datrig.project.config import FirmwareConfig

    def run() -> None:
        reference = _clean_reference(qx.load_qonnx(mlp_case.onnx), str(mlp_case.onnx))
        convert(qx.clean_for_hls4ml(reference), FirmwareConfig(), tmp_path / "hls")

    benchmark.pedantic(run, rounds=3, iterations=1)


@pytest.fixture(scope="module")
def rtl_case(mlp_case, tmp_path_factory: pytest.TempPathFactory):
    from datrig.firmware.cosim import design_for, rtl_inputs
    from datrig.project.meta import FirmwareProject

    project = FirmwareProject.load(mlp_case.project)
    out = tmp_path_factory.mktemp("rtl") / "mlp"
    design = design_for(project.ir, project.meta.firmware, out)
    return design, *rtl_inputs(project.ir, mlp_case.inputs)


@pytest.mark.tools
def test_rtl_verilator_events_per_s(benchmark, rtl_case, tmp_path, monkeypatch) -> None:
    from datrig.firmware import cosim, verilator

    if verilator.verilator_version() is None:
        pytest.skip("verilator not installed")
    design, mantissas, expected = rtl_case
    if benchmark.enabled:  # a fresh cache, to time the build (make test reuses the cache)
        monkeypatch.setenv("DATRIG_CACHE_DIR", str(tmp_path))
    first = cosim.cosimulate(design, mantissas, expected, tool="verilator")
    assert first.ok, first.message()
    if benchmark.enabled:
        assert not first.build_cached
        record(benchmark, "export.rtl_verilator_build", first.build_seconds, "s")

    sim_seconds = []

    def run() -> None:
        result = cosim.cosimulate(design, mantissas, expected, tool="verilator")
        assert result.ok and result.build_cached, result.message()
        sim_seconds.append(result.sim_seconds)

    benchmark.pedantic(run, rounds=3, iterations=1)
    per_second(benchmark, "export.rtl_verilator", len(mantissas))
    if benchmark.enabled:  # the testbench process alone, as `datrig verify --rtl` reports it
        rate = len(mantissas) / float(np.median(sim_seconds))
        record(benchmark, "export.rtl_verilator_simulation_only", rate, "events/s")


@pytest.mark.tools
def test_rtl_iverilog_events_per_s(benchmark, rtl_case) -> None:
    from datrig.firmware import cosim, rtl_sim

    if rtl_sim.iverilog_version() is None:
        pytest.skip("iverilog not installed")
    design, mantissas, expected = rtl_case

    def run() -> None:
        result = cosim.cosimulate(
            design, mantissas[:N_IVERILOG], expected[:N_IVERILOG], tool="iverilog"
        )
        assert result.ok, result.message()

    benchmark.pedantic(run, rounds=1, iterations=1)
    per_second(benchmark, "export.rtl_iverilog", N_IVERILOG)
