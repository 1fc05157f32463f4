from __future__ import annotations

import pytest
import torch

from datrig.da.base import PenaltyInputs
from datrig.da.registry import PENALTIES, make_penalty
from datrig.errors import DatrigError


def test_registry_names():
    assert set(PENALTIES) == {"none", "disco", "adversarial", "frt"}


def test_unknown_penalty_lists_valid_names():
    with pytest.raises(DatrigError, match="disco"):
        make_penalty("dsco")


def test_none_is_zero():
    batch = PenaltyInputs(*(torch.ones(4) for _ in range(3)), torch.ones(4, 2), torch.ones(4, 2),
                          torch.zeros(4))  # fmt: skip
    assert float(make_penalty("none")(batch)) == 0.0
