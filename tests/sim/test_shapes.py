"""Shower-shape definitions on hand-built cell patterns (exact arithmetic, known answers)."""

from __future__ import annotations

import numpy as np
import pytest

from datrig.data.schema import CELL_LAYERS, CELL_WINDOW
from datrig.sim.geometry import LAYERS, N_CELLS, cell_layout
from datrig.sim.shapes import layer_energies, shower_shapes
from datrig.sim.showers import CellDeposits


def _empty(n: int = 1) -> CellDeposits:
    return CellDeposits(
        ps=np.zeros(n),
        strips=np.zeros((n, 40)),
        middle=np.zeros((n, 7, 7)),
        back=np.zeros((n, 3, 3)),
        had=np.zeros((n, 3, 3)),
        upstream_loss=np.zeros(n),
    )


def test_two_maxima_in_the_strips():
    dep = _empty()
    dep.strips[0, 18:25] = [0.5, 2.0, 10.0, 1.0, 0.6, 4.0, 0.2]  # max at 20, second at 23
    dep.middle[0, 3, 3] = 20.0
    shapes = shower_shapes(dep, layer_energies(dep))
    assert shapes["Eratio"][0] == pytest.approx((10.0 - 4.0) / 14.0)
    assert shapes["DeltaE"][0] == pytest.approx(4.0 - 0.6)
    assert shapes["ws3"][0] == pytest.approx(np.sqrt(3.0 / 13.0))
    e7 = 0.5 + 2.0 + 10.0 + 1.0 + 0.6 + 4.0  # strips 17..23
    assert shapes["fside"][0] == pytest.approx((e7 - 13.0) / 13.0)
    w = np.array([0.5, 2.0, 10.0, 1.0, 0.6, 4.0, 0.2])
    d = np.arange(-2, 5)
    assert shapes["wstot"][0] == pytest.approx(np.sqrt((w * d**2).sum() / w.sum()))


def test_second_maximum_searched_over_the_whole_strip_window():
    """A widely split eta -> gamma gamma (14 strips apart) still gives a second maximum."""
    dep = _empty()
    dep.strips[0, 12:15] = [1.0, 8.0, 1.0]  # hottest at 13
    dep.strips[0, 26:29] = [0.5, 3.0, 0.5]  # second at 27, outside +-10 strips
    dep.strips[0, 20] = 0.25  # minimum between them is 0 (strips 15..19)
    dep.middle[0, 3, 3] = 20.0
    shapes = shower_shapes(dep, layer_energies(dep))
    assert shapes["Eratio"][0] == pytest.approx((8.0 - 3.0) / 11.0)
    assert shapes["DeltaE"][0] == pytest.approx(3.0)


def test_single_photon_like_strips_have_no_second_maximum():
    dep = _empty()
    dep.strips[0, 19:22] = [1.0, 5.0, 1.0]
    dep.middle[0, 3, 3] = 10.0
    shapes = shower_shapes(dep, layer_energies(dep))
    assert shapes["Eratio"][0] == pytest.approx(1.0)
    assert shapes["DeltaE"][0] == 0.0


def test_middle_layer_ratios_and_fractions():
    dep = _empty()
    dep.middle[0] = 1.0  # 49 GeV in 7x7
    dep.middle[0, 3, 3] = 10.0  # centre
    dep.strips[0, 20] = 6.0
    dep.back[0, 1, 1] = 2.0
    dep.ps[0] = 1.0
    dep.had[0] = 0.5  # 4.5 GeV
    en = layer_energies(dep)
    shapes = shower_shapes(dep, en)
    e77, e37, e33 = 49.0 + 9.0, 21.0 + 9.0, 9.0 + 9.0
    assert shapes["Reta"][0] == pytest.approx(e37 / e77)
    assert shapes["Rphi"][0] == pytest.approx(e33 / e37)
    e_raw = 1.0 + 6.0 + e37 + 2.0
    assert en["e_raw"][0] == pytest.approx(e_raw)
    assert shapes["Rhad"][0] == pytest.approx(4.5 / e_raw)
    assert shapes["f1"][0] == pytest.approx(6.0 / e_raw)
    assert shapes["f3"][0] == pytest.approx(2.0 / e_raw)


def test_weta2_of_a_symmetric_pattern():
    dep = _empty()
    dep.middle[0, 2, 1:6] = 1.0
    dep.middle[0, 4, 1:6] = 1.0
    dep.middle[0, 3, 1:6] = 2.0
    shapes = shower_shapes(dep, layer_energies(dep))
    # weights 1,2,1 at -0.025, 0, +0.025 -> variance = 2 * 0.025^2 / 4
    assert shapes["weta2"][0] == pytest.approx(np.sqrt(2 * 0.025**2 / 4))


def test_cell_layout():
    d_eta, d_phi, layer = cell_layout()
    assert N_CELLS == 108 == d_eta.size
    counts = np.bincount(layer.astype(int))
    assert counts.tolist() == [lay.n_cells for lay in LAYERS] == [1, 40, 49, 9, 9]
    # the schema's window is the simulated one, layer for layer
    assert [(lay.name, lay.n_eta, lay.n_phi) for lay in LAYERS] == list(CELL_WINDOW)
    assert [lay.name for lay in LAYERS] == list(CELL_LAYERS)
    # the 40 strips span 0.125 in eta, the middle window 7 x 0.025 by 7 x 0.0245
    strips = d_eta[layer == 1]
    assert strips[-1] - strips[0] == pytest.approx(39 * 0.003125)
    assert np.abs(d_eta[layer == 2]).max() == pytest.approx(3 * 0.025)
    assert np.abs(d_phi[layer == 2]).max() == pytest.approx(3 * 0.0245)
    # eta-major within a layer: the middle's second cell is one phi step from the first
    mid_eta, mid_phi = d_eta[layer == 2], d_phi[layer == 2]
    assert mid_eta[1] == mid_eta[0] and mid_phi[1] - mid_phi[0] == pytest.approx(0.0245)
