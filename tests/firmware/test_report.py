"""Budget checks, report files, the analytic fallback and the RTL report path end to end."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from datrig.errors import DatrigError, ToolMissingError
from datrig.firmware import estimate
from datrig.firmware.backends import ReportOptions, ReportTarget
from datrig.firmware.report import build_report, check_budgets, write_report
from datrig.firmware.report_types import (
    DA_RTL,
    ESTIMATE_ANALYTIC,
    MEASURED_SIM,
    Measurements,
    Source,
)
from datrig.ir.fixed import FixedType
from datrig.ir.io import save_ir
from datrig.ir.network import LayerIR, NetworkIR
from datrig.project.config import FirmwareConfig, TriggerBudget


def tiny_mlp(seed=0):
    rng = np.random.default_rng(seed)
    acc = FixedType(18, 9)
    types = {"weight": FixedType(6, 1), "bias": FixedType(10, 3)}
    return NetworkIR(
        "tiny",
        [
            LayerIR("x", "input", [], FixedType(8, 4), (4,)),
            LayerIR(
                "fc0",
                "dense",
                ["x"],
                FixedType(10, 4),
                (3,),
                {},
                {"weight": rng.integers(-31, 32, (4, 3)), "bias": rng.integers(-9, 9, (3,))},
                dict(types),
                {"accum_t": acc},
            ),
            LayerIR("r0", "relu", ["fc0"], FixedType(6, 3, False), (3,)),
            LayerIR(
                "fc1",
                "dense",
                ["r0"],
                FixedType(10, 4),
                (1,),
                {},
                {"weight": rng.integers(-31, 32, (3, 1)), "bias": rng.integers(-9, 9, (1,))},
                dict(types),
                {"accum_t": acc},
            ),
        ],
        ["fc1"],
    )


def config(**budget):
    return FirmwareConfig(model="tiny", clock_period_ns=5.0, budget=TriggerBudget(**budget))


def target(path, ir=None, **budget):
    ir = ir or tiny_mlp()
    save_ir(ir, path)
    return ReportTarget(path, ir, config(**budget))


SRC = Source("tool", "1.0", DA_RTL, MEASURED_SIM)


def test_budget_pass_fail_and_latency_in_ns():
    meas = Measurements()
    for name, value in (("latency_cycles", 12), ("ii", 1), ("lut", 900), ("ff", 50), ("dsp", 0)):
        meas.set(name, value, SRC)
    rep = check_budgets(meas, config(latency_ns=50, lut=1000, ff=40), model="m")
    assert rep.get("latency_ns").value == 60.0
    assert rep.get("latency_ns").passed is False  # 60 ns > 50 ns
    assert rep.get("latency_cycles").budget == 10  # floor(50 / 5)
    assert rep.get("lut").passed is True
    assert rep.get("ff").passed is False
    assert rep.get("bram").value is None and rep.get("bram").passed is None
    assert rep.passed is False
    meas.set("latency_cycles", 10, SRC)
    meas.set("ff", 40, SRC)
    assert check_budgets(meas, config(latency_ns=50, lut=1000, ff=40), model="m").passed


def test_resources_as_a_fraction_of_the_device():
    meas = Measurements()
    meas.set("lut", 8640, SRC)
    meas.set("dsp", 0, SRC)
    rep = check_budgets(meas, config(), model="m")  # default part: xcvu13p, 1,728,000 LUT
    assert rep.get("lut").fraction == 8640 / 1_728_000 == 0.005
    assert rep.get("dsp").fraction == 0.0
    assert rep.get("latency_ns").fraction is None
    assert rep.to_json()["quantities"]["lut"]["fraction_of_device"] == 0.005


def test_csd_digits():
    # 7 = 8 - 1 (2 digits), 5 = 4 + 1, 15 = 16 - 1, -3 = -4 + 1, 0, 1, 27 = 32 - 4 - 1
    np.testing.assert_array_equal(
        estimate.csd_digits(np.array([7, 5, 15, -3, 0, 1, 27])), [2, 2, 2, 2, 0, 1, 3]
    )


def test_analytic_estimate_report(tmp_path):
    rep = build_report(target(tmp_path), prefer="estimate")
    lut = rep.get("lut")
    assert lut.source.kind == ESTIMATE_ANALYTIC and lut.source.implementation == DA_RTL
    assert lut.value > 0 and rep.get("dsp").value == 0
    json_path, md_path = write_report(rep, tmp_path)
    doc = json.loads(json_path.read_text())
    assert doc["quantities"]["lut"]["source"]["kind"] == ESTIMATE_ANALYTIC
    assert "distributed-arithmetic RTL" in md_path.read_text()
    assert not list(tmp_path.glob(".datrig-tmp-*"))


def test_unsupported_layer_falls_back_to_estimate(tmp_path):
    ir = tiny_mlp()
    ir.layers[2] = LayerIR("r0", "sigmoid", ["fc0"], FixedType(6, 3, False), (3,))
    # A sigmoid without its table (a stale or hand-made IR): no ROM to trace, so the report
    # falls back to the analytic estimate and says why; the estimate needs no emulation.
    rep = build_report(target(tmp_path, ir), prefer="rtl", options=ReportOptions(synth=False))
    assert rep.get("lut").source.kind == ESTIMATE_ANALYTIC
    assert any("r0 (sigmoid)" in n for n in rep.notes)


def test_missing_project_and_bad_source(tmp_path):
    with pytest.raises(DatrigError, match="datrig export"):
        build_report(ReportTarget(tmp_path / "nope", tiny_mlp(), config()))
    with pytest.raises(DatrigError, match="unknown report source"):
        build_report(target(tmp_path), prefer="magic")


def test_an_unusable_named_source_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "")  # no vitis_hls / vivado_hls
    with pytest.raises(ToolMissingError, match=r"vendor.*Vivado/Vitis"):
        build_report(target(tmp_path), prefer="vendor")


@pytest.mark.tools
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed")
def test_rtl_report_without_synthesis(tmp_path):
    opts = ReportOptions(synth=False, seed=3, n_events=200)
    rep = build_report(target(tmp_path, latency_ns=100), options=opts)
    lat = rep.get("latency_cycles")
    assert lat.source.kind == MEASURED_SIM and lat.value >= 2
    assert rep.get("ii").value == 1
    assert rep.get("lut").source.tool == "da4ml"
    assert rep.details["rtl_sim_events_bit_exact"] == 200
    assert any("Vivado/Vitis" in n for n in rep.notes)
    assert (tmp_path / "rtl" / "src").is_dir()


@pytest.mark.tools
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed")
@pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed")
def test_designs_too_large_for_yosys_use_the_cost_model(tmp_path, monkeypatch):
    from datrig.firmware import rtl_flow

    monkeypatch.setattr(rtl_flow, "MAX_YOSYS_LUT", 1)
    monkeypatch.setattr(rtl_flow, "YOSYS_BUDGET_MARGIN", 0.0)
    opts = ReportOptions(synth=True, seed=3, n_events=50)
    rep = build_report(target(tmp_path, latency_ns=100), options=opts)
    assert rep.get("lut").source.tool == "da4ml"
    assert any("yosys synthesis skipped" in n and "exceeds 1" in n for n in rep.notes)


def test_designs_that_may_fit_their_budget_are_synthesised():
    """yosys runs up to 80k estimated LUT, or up to 1.25 x the design's own LUT budget."""
    from datrig.firmware.rtl_flow import yosys_lut_limit
    from datrig.project.config import FirmwareConfig, TriggerBudget

    assert yosys_lut_limit(FirmwareConfig(budget=TriggerBudget(lut=8_600))) == 80_000
    assert yosys_lut_limit(FirmwareConfig(budget=TriggerBudget(lut=100_000))) == 125_000


@pytest.mark.tools
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed")
def test_large_designs_simulate_fewer_events(tmp_path, monkeypatch):
    from datrig.firmware import rtl_flow

    monkeypatch.setattr(rtl_flow, "MAX_FULL_RTL_SIM_LUT", 1)
    monkeypatch.setattr(rtl_flow, "LARGE_DESIGN_SIM_EVENTS", 16)
    opts = ReportOptions(synth=False, seed=3, n_events=100, rtl_tool="iverilog")
    rep = build_report(target(tmp_path, latency_ns=100), options=opts)
    assert rep.details["rtl_sim_events_bit_exact"] == 16
    assert any("RTL simulated on 16 of the 100 events" in n for n in rep.notes)


@pytest.mark.tools
@pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not installed")
def test_rtl_report_cosimulates_every_event_with_verilator(tmp_path, monkeypatch):
    monkeypatch.setenv("DATRIG_CACHE_DIR", str(tmp_path / "cache"))
    opts = ReportOptions(synth=False, seed=3, n_events=5000)
    rep = build_report(target(tmp_path / "prj", latency_ns=100), options=opts)
    lat = rep.get("latency_cycles")
    assert lat.source.kind == MEASURED_SIM and lat.source.tool == "Verilator"
    assert lat.value == rep.details["pipeline_stages"] + 1 and rep.get("ii").value == 1
    assert rep.details["rtl_sim_events_bit_exact"] == 5000
    assert rep.details["rtl_sim_tool"].startswith("Verilator ")
    assert any("5,000 events bit for bit" in n for n in rep.notes)
    rtl_json = json.loads((tmp_path / "prj" / "rtl" / "rtl.json").read_text())
    assert rtl_json["n_events"] == 5000 and rtl_json["simulator"].startswith("Verilator")


def test_the_report_picks_iverilog_only_for_a_few_events_of_a_small_design(monkeypatch):
    from datrig.firmware import cosim, rtl_flow, rtl_sim, verilator

    monkeypatch.setattr(rtl_sim, "iverilog_version", lambda: "11.0")
    monkeypatch.setattr(verilator, "verilator_version", lambda: "5.006")
    assert rtl_flow.choose_simulator("auto", 200, 5000) == "iverilog"
    assert rtl_flow.choose_simulator("auto", 100_000, 5000) == "verilator"
    assert rtl_flow.choose_simulator("auto", 200, 200_000) == "verilator"
    assert rtl_flow.choose_simulator("verilator", 200, 5000) == "verilator"
    monkeypatch.setattr(verilator, "verilator_version", lambda: None)
    assert rtl_flow.choose_simulator("auto", 100_000, 5000) == "iverilog"
    monkeypatch.setattr(rtl_sim, "iverilog_version", lambda: None)
    assert rtl_flow.choose_simulator("auto", 100_000, 5000) is None
    with pytest.raises(ToolMissingError, match="verilator not found"):
        rtl_flow.choose_simulator("verilator", 10, 10)
    assert cosim.TOOLS == ("auto", "verilator", "iverilog")


def test_a_pipeline_over_its_latency_budget_says_which_layers_make_it_deep(tmp_path):
    opts = ReportOptions(synth=False, seed=3, n_events=200)
    rep = build_report(target(tmp_path, latency_ns=5), options=opts)  # one clock: too few
    assert rep.get("latency_cycles").passed is False
    path = rep.details["adder_levels_path"]
    names = [name for name, _ in path]
    assert names[0] == "fc0" and names[-1] == "fc1"  # a ReLU may add a level or none
    assert rep.details["adder_levels"] == sum(levels for _, levels in path)
    (note,) = [n for n in rep.notes if n.startswith("latency ")]
    cycles = rep.get("latency_cycles").value
    assert f"latency {cycles:g} clocks against 1: the logic is" in note
    assert ", ".join(f"{n} +{lv:g}" for n, lv in path) in note


def test_no_depth_note_within_the_latency_budget():
    meas = Measurements()
    meas.set("latency_cycles", 5, SRC)
    meas.extra.update(adder_levels=19.0, adder_levels_per_stage=5.0,
                      adder_levels_path=[["fc1", 5.0], ["fc2", 14.0]])  # fmt: skip
    assert not [n for n in check_budgets(meas, config(latency_ns=25), model="m").notes]
    meas.set("latency_cycles", 6, SRC)
    (note,) = check_budgets(meas, config(latency_ns=25), model="m").notes
    assert note.startswith("latency 6 clocks against 5: the logic is 19 adder levels deep")
    assert "at most 5 per pipeline stage; the deepest path: fc1 +5, fc2 +14." in note
