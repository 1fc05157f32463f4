"""The GHDL flow's guard against a hung simulator grows with the events simulated."""

from __future__ import annotations

import pytest

from datrig.firmware.vhdl_flow import MIN_TIMEOUT, simulation_timeout


def test_the_simulation_timeout_grows_with_the_events_and_never_drops_below_an_hour():
    assert simulation_timeout(0) == simulation_timeout(20_000) == MIN_TIMEOUT == 3600.0
    # conifer's 120-tree VHDL took ~3.2 ms per event: 10^6 events (~55 min) must fit, with room
    assert simulation_timeout(1_000_000) >= 3 * 3.2e-3 * 1_000_000
    assert simulation_timeout(2_000_000) == pytest.approx(2 * simulation_timeout(1_000_000))
