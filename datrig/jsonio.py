"""The JSON datrig writes: stable (sorted keys, 2-space indent) and strict (no NaN/Infinity).

Pure text; :func:`datrig.atomic.write_json` puts it on disk atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def json_text(obj: Any) -> str:
    """The stable JSON text datrig writes (sorted keys, 2-space indent, trailing newline).

    Infinite or undefined numbers (a rejection with no background passing, a dCor of an empty
    bin) are written as ``null``: standard JSON has no NaN or Infinity.
    """
    return (
        json.dumps(json_safe(obj), indent=2, sort_keys=True, default=_json_default, allow_nan=False)
        + "\n"
    )


def json_safe(obj: Any) -> Any:
    """``obj`` with every non-finite float (also in numpy arrays) replaced by None."""
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
