"""Fixtures for the validation tests; the synthetic runs live in validate_toys.py."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
