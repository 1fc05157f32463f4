"""The house rules that keep modules small: one job each, none over 450 lines."""

from __future__ import annotations

from pathlib import Path

import datrig

MAX_LINES = 450


def test_no_module_over_450_lines():
    root = Path(datrig.__file__).parent
    long = {
        str(p.relative_to(root)): n
        for p in root.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules (lines): {long}"
