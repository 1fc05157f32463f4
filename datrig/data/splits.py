"""Train/val/test splits as contiguous row ranges (rows are i.i.d., so no shuffling is needed)."""

from __future__ import annotations

from datrig.errors import DatrigError

# split name -> (first fraction, last fraction) of the rows
SPLITS: dict[str, tuple[float, float]] = {
    "train": (0.0, 0.6),
    "val": (0.6, 0.8),
    "test": (0.8, 1.0),
}


def split_slice(n_rows: int, split: str | None) -> slice:
    """Row slice of ``split`` in a file of ``n_rows`` rows; ``None`` means all rows."""
    if split is None:
        return slice(0, n_rows)
    if split not in SPLITS:
        raise DatrigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    lo, hi = SPLITS[split]
    return slice(round(lo * n_rows), round(hi * n_rows))
