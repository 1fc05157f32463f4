"""RTL co-simulation against the emulator: Verilator (cached build, streaming testbench) and
the iverilog fallback, bit for bit, with measured latency; errors and the cache's integrity."""

from __future__ import annotations

import json

import numpy as np
import pytest

from datrig.errors import DatrigError, ToolMissingError
from datrig.firmware import cosim, rtl, rtl_sim, verilator
from datrig.firmware.rtl_flow import random_input_mantissas
from datrig.ir.fixed import Overflow, Rounding
from tests.firmware.test_rtl import _expected, small_mlp

HAS_VERILATOR = verilator.verilator_version() is not None
requires_verilator = pytest.mark.skipif(not HAS_VERILATOR, reason="verilator not installed")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """A fresh Verilator build cache for this module."""
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("verilator_cache")
    mp.setenv("DATRIG_CACHE_DIR", str(path))
    yield path
    mp.undo()


def _design(tmp_path, sizes, seed=5, rounding=Rounding.RND_CONV, overflow=Overflow.SAT):
    ir = small_mlp(sizes, rounding, overflow, seed=seed)
    design = rtl.write_verilog(rtl.trace_network(ir), tmp_path / "rtl", clock_period_ns=3.0)
    return ir, design


@pytest.fixture(scope="module")
def wide(tmp_path_factory, cache_dir):
    """80-bit input port (a VlWide in C++), three outputs."""
    ir, design = _design(tmp_path_factory.mktemp("wide"), [10, 8, 3], seed=7)
    x = random_input_mantissas(ir, 20_000, seed=2)
    return design, x, _expected(ir, x)


@pytest.mark.tools
@requires_verilator
@pytest.mark.parametrize("shape", ["narrow", "wide"])
def test_verilator_bit_exact_with_measured_latency(shape, wide, tmp_path, cache_dir):
    if shape == "wide":
        design, x, expected = wide
    else:  # 32-bit input port and one 10-bit output: plain integer ports in C++
        ir, design = _design(tmp_path, [4, 3, 1], seed=11, rounding=Rounding.TRN)
        x = random_input_mantissas(ir, 20_000, seed=3)
        expected = _expected(ir, x)
    result = cosim.cosimulate(design, x, expected, tool="verilator")
    assert result.n_mismatch == 0, result.message()
    assert result.tool == "Verilator" and result.n_events == 20_000
    # Registers: one at the input plus one after every pipeline stage.
    assert result.latency_cycles == design.n_stages + 1 and result.ii_cycles == 1
    assert "0 of 20,000 events differ bit for bit" in result.message()
    # The inputs span the whole input type: many distinct outputs, some saturated.
    assert np.unique(expected).size > 100


@pytest.mark.tools
@requires_verilator
def test_mismatch_names_the_first_event_and_output_word(wide):
    design, x, expected = wide
    wrong = expected.copy()
    wrong[[123, 4567], [2, 0]] += 1
    result = cosim.cosimulate(design, x, wrong, tool="verilator")
    assert (result.n_mismatch, result.first_event, result.first_output) == (2, 123, 2)
    assert (result.rtl_value, result.emulator_value) == (expected[123, 2], expected[123, 2] + 1)
    assert not result.ok and result.build_cached
    assert "2 of 20,000 events differ bit for bit (first event 123, output word 2" in (
        result.message()
    )


@pytest.mark.tools
@requires_verilator
def test_latency_is_read_from_the_simulation(tmp_path, cache_dir):
    """One more output register in the RTL: one more cycle of measured latency, same bits."""
    ir, design = _design(tmp_path, [4, 3, 1], seed=11, rounding=Rounding.TRN)
    top = design.out_dir / "src" / f"{design.top}.v"
    text = top.read_text()
    last = f"stage{design.n_stages - 1}_out"
    width = design.output_width
    assert f"model_out <= {last};" in text
    text = text.replace(f"model_out <= {last};", f"late <= {last};\n        model_out <= late;")
    late = f"    reg [{width - 1}:0] late;\n    always @(posedge clk)"
    text = text.replace("    always @(posedge clk)", late)
    top.write_text(text)
    x = random_input_mantissas(ir, 5000, seed=3)
    result = cosim.cosimulate(design, x, _expected(ir, x), tool="verilator")
    assert result.n_mismatch == 0, result.message()
    assert result.latency_cycles == design.n_stages + 2


@pytest.mark.tools
@requires_verilator
def test_build_is_cached_atomically_per_design(wide, cache_dir):
    design = wide[0]
    first = verilator.build(design)
    again = verilator.build(design)
    assert again.cached and again.executable == first.executable and again.key == first.key
    entries = sorted(p.name for p in (cache_dir / "verilator").iterdir())
    assert not [e for e in entries if e.startswith(".datrig-tmp")], entries
    doc = json.loads((first.executable.parent / "build.json").read_text())
    assert doc["key"] == first.key and doc["verilator"] == verilator.verilator_version()
    flags = " ".join(doc["flags"])
    assert "-O3" in flags and "--x-assign fast" in flags and "--x-initial fast" in flags
    assert "--trace" not in flags
    # Another RTL source, another key; the same sources always the same key.
    assert verilator.build_key(design, 1, "5.006") == verilator.build_key(design, 1, "5.006")
    assert verilator.build_key(design, 1, "5.006") != verilator.build_key(design, 2, "5.006")


@pytest.mark.tools
@requires_verilator
def test_a_failed_build_leaves_nothing_in_the_cache(tmp_path, cache_dir):
    _, design = _design(tmp_path, [3, 2, 1], seed=13)
    (design.out_dir / "src" / f"{design.top}.v").write_text("module broken(;\n")
    before = set((cache_dir / "verilator").iterdir())
    with pytest.raises(DatrigError, match="verilator failed to build"):
        verilator.build(design)
    assert set((cache_dir / "verilator").iterdir()) == before


@pytest.mark.tools
@pytest.mark.skipif(rtl_sim.iverilog_version() is None, reason="iverilog not installed")
def test_iverilog_is_the_fallback(tmp_path, monkeypatch):
    monkeypatch.setattr(verilator, "verilator_version", lambda: None)
    assert cosim.available_tool() == "iverilog"
    ir, design = _design(tmp_path, [4, 3, 1], seed=11)
    x = random_input_mantissas(ir, 60, seed=4)
    result = cosim.cosimulate(design, x, _expected(ir, x))
    assert result.tool == "Icarus Verilog" and result.ok, result.message()
    assert result.latency_cycles == design.n_stages + 1
    with pytest.raises(ToolMissingError, match="verilator not found"):
        cosim.available_tool("verilator")


def test_no_simulator_is_one_actionable_error(monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(ToolMissingError, match="neither verilator nor iverilog") as exc:
        cosim.available_tool()
    assert "make tools" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(DatrigError, match="unknown RTL simulator"):
        cosim.available_tool("modelsim")


def test_alignment_finds_the_shift_and_refuses_a_stream_that_never_matches():
    rng = np.random.default_rng(0)
    expected = rng.integers(-500, 500, (300, 2))
    stream = np.vstack([np.zeros((4, 2), dtype=np.int64), expected, np.zeros((20, 2))])
    assert cosim.align(stream, expected, max_latency=20, pipeline_latency=3) == 5
    assert cosim.align(stream + 1, expected, max_latency=20, pipeline_latency=5) is None
    # Constant outputs agree at every shift: the pipeline's depth is taken.
    flat = np.full((300, 2), 7)
    assert cosim.align(np.full((320, 2), 7), flat, max_latency=20, pipeline_latency=6) == 6
