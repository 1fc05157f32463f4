"""A penalty's properties are attributes of its class, read from the registry."""

from __future__ import annotations

from types import SimpleNamespace

from datrig.da.registry import PENALTIES
from datrig.validate.plots import method_color


def test_every_penalty_has_its_own_plot_colour():
    colours = [cls.plot_color for cls in PENALTIES.values()]
    assert None not in colours and len(set(colours)) == len(colours)
    assert method_color("ddt", 0) == PENALTIES["ddt"].plot_color
    assert method_color("gbdt_ddt", 2) == "C6"  # peers: by position


def test_which_penalties_read_the_data_domain():
    domain = SimpleNamespace(protected="domain")
    iso = SimpleNamespace(protected="iso_calo")
    assert not PENALTIES["none"].needs_data_domain(domain)
    assert PENALTIES["disco"].needs_data_domain(domain)
    assert not PENALTIES["disco"].needs_data_domain(iso)
    assert PENALTIES["frt"].needs_data_domain(iso)  # its latent alignment uses data events
    # ddt reads data events only for its domain term (learned compensation): the table's
    # score trains on the simulated events alone, not on batches half full of weight-0 data
    assert not PENALTIES["ddt"].needs_data_domain(iso)
    assert not PENALTIES["ddt"].needs_data_domain(iso, {"table_bins": 0})
    assert PENALTIES["ddt"].needs_data_domain(iso, {"table_bins": 0, "domain_weight": 1.0})
