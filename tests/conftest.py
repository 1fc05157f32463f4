"""Project-wide test settings: headless plotting, one torch thread, fail on logged errors."""

from __future__ import annotations

import logging
import os

import pytest

from tests.project_fixture import photon_id_project  # noqa: F401  (a session fixture)

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("DATRIG_THREADS", "1")
# sklearn/numpy OpenMP pools oversubscribe a 2-core machine (20 s tests took minutes)
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _no_logged_errors(caplog: pytest.LogCaptureFixture):
    """A test that logs an ERROR fails even if its asserts pass (habit borrowed from conifer)."""
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, f"test logged {len(errors)} error(s): {errors[0].getMessage()}"
