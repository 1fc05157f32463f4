"""Column-vs-column comparison (firmware − float), shared by metrics.json and report.md."""

from __future__ import annotations

from typing import Any


def diff_metrics(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    """b - a for every scalar metric present in both (binned_* dicts are left out)."""
    return {
        k: b[k] - a[k]
        for k in sorted(a.keys() & b.keys())
        if isinstance(a[k], (int, float)) and isinstance(b[k], (int, float))
    }
