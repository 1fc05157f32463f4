"""Penalties by name (``--da``)."""

from __future__ import annotations

from datrig.da.adversarial import AdversarialPenalty
from datrig.da.base import Penalty
from datrig.da.ddt import LearnedDdtPenalty
from datrig.da.disco import DiscoPenalty
from datrig.da.disco_pt import ConditionalDiscoPenalty
from datrig.da.flat import FlatnessPenalty
from datrig.da.frt import FrtPenalty
from datrig.da.none import NoPenalty
from datrig.da.peak import PeakPenalty
from datrig.errors import DatrigError

PENALTIES: dict[str, type[Penalty]] = {
    "none": NoPenalty,
    "disco": DiscoPenalty,
    "adversarial": AdversarialPenalty,
    "frt": FrtPenalty,
    "disco_pt": ConditionalDiscoPenalty,
    "flat": FlatnessPenalty,
    "ddt": LearnedDdtPenalty,
    "peak": PeakPenalty,
}


def penalty_class(name: str) -> type[Penalty]:
    try:
        return PENALTIES[name]
    except KeyError:
        raise DatrigError(
            f"unknown penalty {name!r}; choose one of {', '.join(PENALTIES)}"
        ) from None


def make_penalty(name: str, **options) -> Penalty:
    return penalty_class(name)(**options)
