"""The one-file outputs of ``datrig emulate`` and ``datrig csim``: ``x.npy`` plus its record
``x.npy.json``, written atomically, replacing only an earlier output of the same command
(:func:`datrig.safefs.check_output_file`) and never the input."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from datrig.atomic import atomic_path, write_json
from datrig.errors import DatrigError
from datrig.safefs import check_output_file, sidecar_path


def check_npy_output(out: Path, stage: str, source: str | os.PathLike[str] | None) -> None:
    """Before any work: ``out`` is a .npy that ``stage`` may write (see module docstring)."""
    if out.suffix != ".npy":
        raise DatrigError(f"--out must be a .npy file, got {out}")
    check_output_file(out, stage, inputs=(source,) if source is not None else ())


def write_npy_output(out: Path, values: np.ndarray, stage: str, record: dict[str, Any]) -> None:
    """Write ``values`` to ``out`` and ``record`` (with ``stage`` and ``output``) beside it."""
    check_output_file(out, stage)  # again at the end: nothing appeared meanwhile
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        np.save(fh, values)
    write_json(sidecar_path(out), {**record, "stage": stage, "output": out.name})
