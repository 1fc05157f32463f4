from __future__ import annotations

import numpy as np
import pytest

from datrig.data.features import TRANSFORMS, check_finite, fit_normalisation
from datrig.data.schema import DIPHOTON_FIELDS, PHOTON_FIELDS
from datrig.errors import DatrigError
from datrig.models import registry


def test_models_and_their_columns_exist_in_the_schema():
    from datrig.da.registry import PENALTIES

    assert set(registry.MODELS) == {
        "photon_id",
        "photon_energy",
        "diphoton",
        "photon_id_gnn",
        "photon_id_bdt",
        "photon_energy_bdt",
    }
    assert {"photon_id_bdt", "photon_energy_bdt"}.isdisjoint(registry.network_models())
    for spec in registry.MODELS.values():
        fields = PHOTON_FIELDS if spec.kind == "photons" else DIPHOTON_FIELDS
        if spec.inputs != "cells":
            assert set(spec.feature_names) <= set(fields)
            assert set(spec.transforms) <= set(TRANSFORMS)
        assert spec.protected == "domain" or spec.protected in fields
        assert spec.family in ("photon_id", "energy", "diphoton")
        compensated = bool(spec.compensation_hidden)
        for penalty in PENALTIES.values() if spec.trees is None else ():  # trees: no penalty
            if penalty.applies_to(spec.condition, compensated, spec.output_kind):
                assert penalty.lam_for(spec.name) >= 0, (penalty.name, spec.name)


def test_unknown_model_lists_valid_names():
    with pytest.raises(DatrigError, match="photon_energy"):
        registry.get_model_spec("photon")


def test_normalisation_roundtrip_and_robust_scale():
    rng = np.random.default_rng(0)
    raw = np.stack([rng.normal(5, 2, 5000), rng.exponential(30, 5000)], axis=1)
    norm = fit_normalisation(raw, ["a", "e"], ["identity", "log"])
    x = norm.apply(raw)
    assert x.dtype == np.float32
    assert abs(np.median(x[:, 0])) < 0.05 and abs(np.median(x[:, 1])) < 0.05
    assert 0.9 < np.subtract(*np.quantile(x[:, 0], [0.84, 0.16])) / 2 < 1.1
    assert type(norm).from_dict(norm.to_dict()).apply(raw).tobytes() == x.tobytes()


def test_check_finite_names_columns():
    raw = np.ones((3, 2))
    raw[1, 1] = np.nan
    with pytest.raises(DatrigError, match=r"\['b'\]"):
        check_finite(raw, ["a", "b"], "file.h5")
