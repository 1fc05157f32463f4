from __future__ import annotations

import numpy as np
import pytest

from datrig.errors import DatrigError
from datrig.validate.baselines import raw_energy, standard_regression
from datrig.validate.resolution import response_summary
from tests.validate.validate_toys import photon_events


def test_standard_regression_calibrates_raw_energy(rng):
    ev = photon_events(12_000, rng)
    domain = ev["domain"]
    sim = domain == 0
    e_std = standard_regression(ev, domain, seed=1)
    raw = response_summary((raw_energy(ev) / ev["e_true"])[sim])
    std = response_summary((e_std / ev["e_true"])[sim])
    assert raw["response"] < 0.9  # the toy loses ~10 % upstream
    assert std["response"] == pytest.approx(1.0, abs=0.01)
    assert std["resolution_rel"] < raw["resolution_rel"]  # the eta dependence is corrected
    np.testing.assert_array_equal(e_std, standard_regression(ev, domain, seed=1))


def test_missing_standard_variables_is_a_clear_error():
    ev = np.zeros(30, dtype=[("e_raw", "f4"), ("e_true", "f4")])
    with pytest.raises(DatrigError, match="lacks eta"):
        standard_regression(ev, np.zeros(30), seed=0)
