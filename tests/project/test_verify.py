"""Comparison reports: counts, first event, tolerance and the extra LUT fields (no g++)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from datrig.errors import VerificationError
from datrig.project.verify import Comparison, compare_outputs


def test_mismatch_report_counts_events_and_first_event() -> None:
    a = np.zeros((100, 3))
    b = a.copy()
    b[[7, 40, 41], 1] = 2.0**-10
    result = compare_outputs("emulator_vs_csim", a, b)
    assert not result.ok
    assert (result.n_mismatch, result.first_event, result.max_abs_diff) == (3, 7, 2.0**-10)
    assert "3 of 100 events differ bit for bit (first event 7" in result.message()
    assert compare_outputs("x", a, b, atol=2.0**-10).ok


def test_lut_fields_are_reported_and_serialised() -> None:
    c = Comparison(
        "qonnx_vs_csim",
        10,
        0,
        0.01,
        None,
        atol=0.05,
        tensor="d (input of s)",
        input_grid="fixed<18,8,RND_CONV,SAT>",
        tolerance_basis="table",
        argmax_agreement=0.99,
    )
    text = c.message()
    assert "within 0.05" in text and "argmax agreement 99.00%" in text
    assert "in d (input of s)" in text and "tolerance from table" in text
    assert json.loads(json.dumps(c.to_json()))["argmax_agreement"] == 0.99


def test_shape_mismatch_is_a_verification_error() -> None:
    with pytest.raises(VerificationError, match="output shapes differ"):
        compare_outputs("x", np.zeros((4, 2)), np.zeros((4, 3)))
