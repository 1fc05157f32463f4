"""One torch thread (the machine is shared; small models are faster single-threaded)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    from datrig.runtime import configure_torch

    configure_torch(1)
