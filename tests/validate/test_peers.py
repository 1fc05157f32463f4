"""Peers of the photon ID (datrig.validate.peers) and the calibration plane (plane.py)."""

from __future__ import annotations

import numpy as np
import pytest

from datrig.errors import DatrigError
from datrig.validate import peers
from datrig.validate.cutbased import RectangularCuts
from datrig.validate.plane import PlanePoint, plane_point, plane_table, seed_spread

FIELDS = [("pt", "f4"), ("eta", "f4"), ("iso_calo", "f4"), ("label", "i1"), ("domain", "i1"),
          ("score", "f8")]  # fmt: skip


def _events(n: int, seed: int, domain: int = 0) -> np.ndarray:
    """Fakes whose score falls with isolation (like a shower-shape classifier's), photons
    isolated with high scores."""
    rng = np.random.default_rng(seed)
    ev = np.zeros(n, dtype=FIELDS)
    ev["label"] = rng.integers(0, 2, n)
    fake = ev["label"] == 0
    ev["pt"] = rng.uniform(20, 100, n)
    ev["eta"] = rng.uniform(-2, 2, n)
    ev["iso_calo"] = np.where(fake, rng.exponential(8, n), rng.normal(0, 1.5, n))
    ev["score"] = np.where(fake, rng.normal(-1 - 0.1 * ev["iso_calo"], 1), rng.normal(2, 1, n))
    ev["domain"] = domain
    return ev


def test_ddt_table_passes_the_same_fraction_of_fakes_in_every_cell():
    ev = _events(60000, 1)
    table = peers.ddt_table(ev["score"], ev)
    ddt = table.apply(ev["score"], ev)
    assert np.mean(ddt[ev["label"] == 1] >= 0) == pytest.approx(0.8, abs=0.002)
    pt_bin, iso_bin = table.cells(ev)
    fake = ev["label"] == 0
    rates = [np.mean(ddt[fake & (pt_bin == i) & (iso_bin == j)] >= 0)
             for i in range(table.thresholds.shape[0]) for j in range(table.thresholds.shape[1])
             if np.any(fake & (pt_bin == i) & (iso_bin == j))]  # fmt: skip
    assert max(rates) - min(rates) < 0.02  # exact up to the quantile's discreteness per cell
    raw = [np.mean(ev["score"][fake & (iso_bin == j)] >= 0) for j in range(3)]
    assert max(raw) / min(raw) > 1.05  # the raw score alone is not flat


def test_ddt_table_needs_populated_cells():
    with pytest.raises(DatrigError, match="20 simulated fakes"):
        ev = _events(300, 2)
        peers.ddt_table(ev["score"], ev)


def test_cut_margin_hand_computed():
    cuts = RectangularCuts(("a", "b"), {"a": 1, "b": -1}, {"a": 2.0, "b": 5.0})
    ev = np.array([(3.0, 4.0), (1.0, 4.0), (3.0, 7.0)], dtype=[("a", "f8"), ("b", "f8")])
    margin = peers.cut_margin(cuts, {"a": 0.5, "b": 2.0}, ev)
    # passes both by (3-2)/0.5 = 2 and (5-4)/2 = 0.5 -> 0.5; fails a by 2; fails b by 1
    np.testing.assert_array_equal(margin, [0.5, -2.0, -1.0])
    assert (margin >= 0).tolist() == cuts.passes(ev).tolist()


def test_unknown_peer_names_are_one_line():
    assert peers.resolve_peers(None) == tuple(peers.PEERS)
    assert peers.resolve_peers([]) == ()
    with pytest.raises(DatrigError, match="unknown --peers"):
        peers.resolve_peers(["gbdt_ddt", "bdt"])


def test_plane_point_abcd_factor_hand_computed():
    """Fakes placed by hand in A, B, C, D of one pT tercile: R = N_A N_D / (N_B N_C)."""
    photons = np.zeros(100, dtype=FIELDS)
    photons["label"], photons["pt"], photons["iso_calo"] = 1, 50.0, 0.0
    photons["score"] = np.linspace(0, 10, 100)  # the 80 % working point: score >= ~2
    iso_cut = float(np.quantile(photons["iso_calo"], 0.9))
    fakes = np.zeros(4 + 6 + 8 + 12, dtype=FIELDS)
    counts = {("pass", "iso"): 4, ("pass", "non"): 6, ("fail", "iso"): 8, ("fail", "non"): 12}
    i = 0
    for (band, iso), n in counts.items():
        fakes["score"][i : i + n] = 9.0 if band == "pass" else -5.0
        fakes["iso_calo"][i : i + n] = iso_cut - 1 if iso == "iso" else iso_cut + 5
        i += n
    fakes["pt"] = np.random.default_rng(0).permutation(np.linspace(20, 80, len(fakes)))
    events = np.concatenate([photons, fakes])
    point = plane_point("hand", "firmware", events["score"], events)
    assert point.r_all_sim == pytest.approx(4 * 12 / (6 * 8))
    assert point.rejection80_sim == pytest.approx(30 / 10)
    assert "hand" in "\n".join(plane_table([point]))


def test_seed_spread_groups_the_seeds_of_one_method():
    ev = np.concatenate([_events(20000, 3), _events(20000, 4, domain=1)])
    points = [
        plane_point(name, "firmware", ev["score"] + shift, ev)
        for name, shift in (("ddt", 0.0), ("ddt-seed2", 0.1), ("ddt-seed3", -0.1))
    ]
    spread = seed_spread(points)
    assert list(spread) == ["ddt"] and " of 3 seeds close " in spread["ddt"]
    closing = sum(p.closes() for p in points)
    assert spread["ddt"].startswith(f"{closing} of 3 seeds close")


def _point(r_sim, r_data, r_all_data, err=0.02):
    return PlanePoint("m", "firmware", 10.0, 10.0, list(r_sim), [err] * 3, list(r_data),
                      [err] * 3, 1.0, err, r_all_data, err)  # fmt: skip


def test_closure_asks_every_tercile_in_both_domains_and_the_all_pt_data_r():
    assert _point((1.0, 1.05, 0.95), (1.11, 0.9, 1.0), 1.06).closes()  # 0.11 <= 0.1 + 0.02
    assert not _point((1.0, 1.13, 1.0), (1.0, 1.0, 1.0), 1.0).closes()  # one sim tercile
    assert not _point((1.0, 1.0, 1.0), (1.0, 0.87, 1.0), 1.0).closes()  # one data tercile
    assert not _point((1.0, 1.0, 1.0), (1.0, 1.0, 1.0), 1.08).closes()  # all-pT data R
    assert not _point((1.0, float("nan"), 1.0), (1.0, 1.0, 1.0), 1.0).closes()
    assert _point((1.0,) * 3, (1.0,) * 3, 1.0).to_json()["closes"] is True
