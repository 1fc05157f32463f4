"""Reading event inputs for export/import/csim/verify: ``.npy`` arrays or datrig HDF5 files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from datrig.errors import DatrigError, SchemaError


def read_inputs(path: str | os.PathLike[str], limit: int | None = None) -> np.ndarray:
    """float64 inputs (N, ...) from ``X.npy`` or the ``inputs`` dataset of an HDF5 file."""
    path = Path(path)
    if not path.is_file():
        raise DatrigError(f"input file {path} not found")
    if path.suffix == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise SchemaError(f"{path} is not a plain numpy array: {exc}") from None
    elif path.suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as fh:
            if "inputs" not in fh:
                raise SchemaError(
                    f"{path} has no 'inputs' dataset (expected a predictions_test.h5 from "
                    "datrig qat); pass a .npy of network inputs instead"
                )
            ds = fh["inputs"]
            x = ds[: limit if limit is not None else ds.shape[0]]
    else:
        raise SchemaError(f"{path}: inputs must be .npy or .h5, got {path.suffix!r}")
    if not np.issubdtype(x.dtype, np.number):
        raise SchemaError(f"{path}: inputs must be numeric, got dtype {x.dtype}")
    x = np.asarray(x[:limit] if limit is not None else x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise SchemaError(f"{path}: inputs contain {int(np.sum(~np.isfinite(x)))} NaN/inf values")
    return x
