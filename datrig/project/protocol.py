"""What later stages use of a verified project, whatever made it.

validate, calibrate, the pipeline and scans read firmware outputs through this protocol only:
the inputs a project reads (a .npy, a run's predictions, a datrig event file, a user's ntuple
through the project's task), its bit-exact emulator, its vendor C-simulation and the check of
one against the other. :class:`datrig.project.meta.FirmwareProject` implements it for hls4ml
networks; a tree ensemble exported by another tool adds its own class, IR and emulator
kernel, and nothing above this layer changes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Firmware(Protocol):
    path: Path
    meta: Any  # the project's record (datrig_project.json): model, source, inputs, config

    def read_inputs(
        self, source: str | os.PathLike[str], limit: int | None = None, split: str | None = None
    ) -> np.ndarray: ...

    def read_events(
        self, source: str | os.PathLike[str], limit: int | None = None, split: str | None = None
    ) -> tuple[np.ndarray, dict[str, np.ndarray] | None]: ...

    def bytes_per_event(self) -> int: ...

    def emulate(self, inputs: np.ndarray) -> np.ndarray: ...

    def csim(self, inputs: np.ndarray) -> np.ndarray: ...

    def verify(self, inputs: np.ndarray) -> Any: ...
