"""A verified tree-ensemble project: conifer's HLS C++ and VHDL, datrig's IR and emulator.

Layout of ``hls_projects/<model>/`` (an artefact of its own kind, ``export-trees``)::

    datrig_project.json   record: model, run, sha256 of the run's ensemble, types, checks
    ensemble.json         the IR (data only) the emulator runs
    normalisation.json    the per-feature ranges the firmware inputs were cut to
    hls/                  conifer's HLS project, datrig_top.cpp (map block), datrig_csim
    vhdl/                 conifer's VHDL, DatrigTop.vhd, DatrigTestbench.vhd

Later stages use it through :class:`datrig.project.protocol.Firmware`, as a network's.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from datrig.atomic import ArtefactKind
from datrig.data.features import Normalisation
from datrig.emulate.trees import emulate, emulate_mantissas
from datrig.errors import DatrigError, SchemaError
from datrig.ir.trees import EnsembleIR, quantize
from datrig.paths import resolve_inside
from datrig.project.meta import PROJECT_FILE
from datrig.project.verify import Comparison

ENSEMBLE = "ensemble.json"
NORMALISATION = "normalisation.json"
CSIM_EXE = "hls/datrig_csim"
TREE_PROJECT = ArtefactKind(
    "conifer project",
    PROJECT_FILE,
    "export-trees",
    derived=("report.json", "report.md", "rtl", "rtl/*"),
)


def compare(name: str, got: np.ndarray, want: np.ndarray) -> Comparison:
    """Bit-for-bit comparison of two mantissa vectors, with how many differ."""
    diff = np.flatnonzero(got != want)
    return Comparison(
        name=name,
        n_events=len(want),
        n_mismatch=len(diff),
        max_abs_diff=float(np.abs(got - want).max()) if len(want) else 0.0,
        first_event=int(diff[0]) if len(diff) else None,
    )


class TreeProject:
    """Loaded from a project folder; every file is data (JSON, numbers), never code."""

    def __init__(self, path: Path, meta: dict[str, Any], ir: EnsembleIR, norm: Normalisation):
        self.path, self.meta, self.ir, self.norm = path, meta, ir, norm

    @staticmethod
    def load_norm(path: Path) -> Normalisation:
        try:
            return Normalisation.from_dict(json.loads((path / NORMALISATION).read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise SchemaError(f"{path}: unreadable {NORMALISATION} ({exc})") from None

    @classmethod
    def load(cls, project_dir: str | os.PathLike[str]) -> TreeProject:
        path = Path(project_dir)
        if not TREE_PROJECT.owns(path):
            raise DatrigError(f"{path} is not a datrig tree-ensemble project; export it first")
        try:
            meta = json.loads((path / PROJECT_FILE).read_text())
            ir = EnsembleIR.from_json(json.loads((path / ENSEMBLE).read_text()), str(path))
        except (OSError, ValueError, TypeError) as exc:
            raise SchemaError(f"{path}: unreadable project files ({exc})") from None
        norm = cls.load_norm(path)
        if list(norm.features) != list(ir.features):
            raise SchemaError(f"{path}: the normalisation and the ensemble list other features")
        return cls(path, meta, ir, norm)

    # -- the Firmware protocol --------------------------------------------------------------
    def read_inputs(
        self, source: str | os.PathLike[str], limit: int | None = None, split: str | None = None
    ) -> np.ndarray:
        """Firmware inputs (floats on the input grid) of a run's predictions file or a datrig
        event file (normalised with the project's own ranges)."""
        return self.read_events(source, limit, split)[0]

    def read_events(
        self, source: str | os.PathLike[str], limit: int | None = None, split: str | None = None
    ) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
        import h5py

        path = Path(source)
        with h5py.File(path, "r") as fh:
            if "output_quant" in fh:  # a run's predictions: inputs already on the grid
                x = fh["inputs"][:limit]
                return self._grid(x), None
        x = self.norm.network_inputs(path, split, limit)
        return self._grid(x), None

    def _grid(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.ir.n_features:
            raise SchemaError(f"expected (events, {self.ir.n_features}) inputs, got {x.shape}")
        return quantize(x, self.ir.input_type).astype(np.float64) * self.ir.input_type.lsb

    def mantissas(self, inputs: np.ndarray) -> np.ndarray:
        return quantize(np.asarray(inputs, dtype=np.float64), self.ir.input_type)

    def bytes_per_event(self) -> int:
        return 8 * self.ir.n_features

    def emulate(self, inputs: np.ndarray) -> np.ndarray:
        return emulate(self.ir, self.mantissas(inputs))

    def csim_mantissas(self, x: np.ndarray) -> np.ndarray:
        exe = resolve_inside(self.path, CSIM_EXE, "the C-simulation")  # no link leads out
        if not exe.is_file():
            raise DatrigError(f"{exe} is missing: the project is damaged; re-export it")
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
            np.ascontiguousarray(x, dtype="<i8").tofile(src)
            proc = subprocess.run([str(exe.resolve()), str(src), str(dst), str(len(x))],
                                  capture_output=True, text=True, check=False)  # fmt: skip
            if proc.returncode != 0:
                raise DatrigError(f"the C-simulation failed ({proc.stderr.strip()[:200]})")
            return np.fromfile(dst, dtype="<i8")

    def csim(self, inputs: np.ndarray) -> np.ndarray:
        m = self.csim_mantissas(self.mantissas(inputs))
        return (m.astype(np.float64) * self.ir.output_type.lsb)[:, None]

    def verify(self, inputs: np.ndarray) -> Comparison:
        return self.verify_mantissas(self.mantissas(inputs))

    def verify_mantissas(self, x: np.ndarray, name: str = "emulator_vs_csim") -> Comparison:
        """conifer's C-simulation against the emulator on input mantissas, bit for bit."""
        return compare(name, self.csim_mantissas(x), emulate_mantissas(self.ir, x))


def is_tree_project(project_dir: str | os.PathLike[str]) -> bool:
    return TREE_PROJECT.owns(Path(project_dir))
