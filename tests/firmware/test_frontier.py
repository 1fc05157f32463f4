"""datrig report --clocks: the same network measured at several clocks and depth slacks."""

from __future__ import annotations

import argparse
import json
import shutil

import pytest

from datrig.argtypes import mhz_list, slack_list
from datrig.firmware import frontier
from datrig.project.config import FirmwareConfig
from tests.firmware.test_rtl import small_mlp

HAS_SIM = shutil.which("verilator") is not None or shutil.which("iverilog") is not None


@pytest.mark.tools
@pytest.mark.skipif(not HAS_SIM, reason="no RTL simulator")
def test_faster_clock_costs_cycles_and_registers(tmp_path):
    ir = small_mlp([13, 32, 16, 1], seed=3)
    points = frontier.measure_frontier(
        ir, FirmwareConfig(), [200.0, 360.0], [0], synth=False, seed=1, n_events=500
    )
    slow, fast = points
    assert (slow.adder_levels_per_stage, fast.adder_levels_per_stage) == (5.0, 3.0)
    assert fast.latency_cycles > slow.latency_cycles
    assert fast.ff > slow.ff  # more pipeline registers
    assert slow.latency_ns == pytest.approx(slow.latency_cycles * 5.0)
    assert slow.sources["latency_cycles"] == "measured: RTL simulation"
    assert slow.ii == 1
    path = frontier.write_frontier(points, tmp_path, "mlp")
    saved = json.loads(path.read_text())
    assert [p["clock_mhz"] for p in saved["points"]] == [200.0, 360.0]
    table = (tmp_path / frontier.FRONTIER_MD).read_text()
    assert "| 360 | 0 | 3 |" in table and "timing closure is not checked" in table


def test_an_untraceable_network_is_refused_not_estimated():
    """A frontier of analytic estimates would measure nothing: the tracer's reason instead."""
    from datrig.firmware.rtl import UnsupportedLayerError
    from datrig.ir.fixed import FixedType
    from datrig.ir.network import LayerIR

    ir = small_mlp([4, 3, 1])
    ir.layers.insert(2, LayerIR("s", "sigmoid", ["fc0"], FixedType(8, 1), (3,)))
    ir.layers[3].inputs = ["s"]
    with pytest.raises(UnsupportedLayerError, match=r"s \(sigmoid\) has no table"):
        frontier.measure_point(ir, FirmwareConfig(), 200.0, 0, synth=False, seed=1, n_events=10)


def test_clock_and_slack_lists_are_checked():
    assert mhz_list("200, 240,360") == [200.0, 240.0, 360.0]
    assert slack_list("unconstrained,0,2") == [-1, 0, 2]
    for bad in ("0", "abc", "3000", ","):
        with pytest.raises(argparse.ArgumentTypeError):
            mhz_list(bad)
    for bad in ("-1", "1.5", "17", ","):
        with pytest.raises(argparse.ArgumentTypeError):
            slack_list(bad)
