"""One registry of layer kinds: every other table keyed by kind agrees with it."""

from __future__ import annotations

from datrig.emulate.kinds import LAYER_KINDS, kernel_for
from datrig.ir.fixed import FixedType
from datrig.ir.network import LayerIR


def test_every_kind_has_a_reference_kernel_and_a_documented_meaning():
    import datrig.emulate.kinds as kinds

    for name, kind in LAYER_KINDS.items():
        assert kind.kernel is not None or name == "input", name
        assert name in kinds.__doc__, f"{name} is missing from the kinds table in the docstring"


def test_rtl_tracers_only_know_registered_kinds():
    from datrig.firmware.rtl import TRACERS

    assert set(TRACERS) <= set(LAYER_KINDS)


def test_unknown_kind_is_named():
    import pytest

    from datrig.errors import DatrigError

    with pytest.raises(DatrigError, match=r"no kernel for kind 'softsign' \(supported: batchnorm"):
        kernel_for(LayerIR("s", "softsign", ["x"], FixedType(8, 3), (2,)))
