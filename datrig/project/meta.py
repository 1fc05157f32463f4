"""The exported project as a typed artefact: one writer, one loader, one ``is_current``.

``datrig_project.json`` is written by :mod:`datrig.export` (via :func:`write_meta`) and read
by every later stage only through :meth:`FirmwareProject.load`. It records what the project
was made from (checkpoint or ONNX file and its sha256), the resolved firmware config, the
network's input definition, the C-simulation library, the resolved hls4ml types and the
verification the project passed before it was handed over.

A project contains C++ that datrig compiled and runs (the C-simulation library): only use
projects you trust. The library is only ever loaded from inside the project folder: a
``csim.library`` in ``datrig_project.json`` that leads elsewhere (``..``, an absolute path, a
symlink out) is refused at load.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from datrig.atomic import ArtefactKind, destination_lock, write_json
from datrig.bounds import MAX_ELEMENTS, check_shape
from datrig.errors import DatrigError, SchemaError, VerificationError, short
from datrig.ir.network import NetworkIR
from datrig.paths import resolve_inside, safe_name
from datrig.project.config import FirmwareConfig, parse_firmware_config
from datrig.project.csim import CsimLibrary
from datrig.project.inputs import InputSpec, read_inputs
from datrig.project.verify import Comparison, emulator_vs_csim

PROJECT_FILE = "datrig_project.json"
PROJECT = ArtefactKind(
    "hls4ml project",
    PROJECT_FILE,
    "export",
    # what later stages add to a project: `datrig report` (its clock frontier, and its RTL
    # folder, an artefact of its own), and the vendor HLS build it may run (hls4ml's
    # build_prj.tcl, in the project)
    derived=(
        "report.json",
        "report.md",
        "clock_frontier.json",
        "clock_frontier.md",
        "rtl",
        "vendor_build.log",
        "*_prj",
        "vivado_hls.log",
        "vitis_hls.log",
        "tb_data/csim_results.log",
    ),
)
SCHEMA = "datrig-project/2"


@dataclass(frozen=True)
class SourceInfo:
    """What a project was exported from: a QAT checkpoint or a QONNX file."""

    kind: str  # "checkpoint" | "onnx"
    path: str
    sha256: str


@dataclass(frozen=True)
class CsimInfo:
    """The compiled C-simulation library (path relative to the project folder)."""

    library: str
    project_name: str
    n_in: int
    n_out: int
    traced_layers: dict[str, int] = field(default_factory=dict)  # layer -> output size

    @classmethod
    def from_json(cls, obj: Any, source: str) -> CsimInfo:
        """Checked: sizes are positive and bounded, names are names, the path has no NUL."""
        info = cls(**obj)
        sizes = [info.n_in, info.n_out, *info.traced_layers.values()]
        if any(isinstance(n, bool) or not isinstance(n, int) or not 0 < n <= MAX_ELEMENTS
               for n in sizes):  # fmt: skip
            raise SchemaError(f"{source}: csim sizes must be positive integers")
        if not isinstance(info.library, str) or "\0" in info.library:
            raise SchemaError(f"{source}: csim.library is not a path")
        safe_name(info.project_name, "csim.project_name")
        return info


@dataclass(frozen=True)
class ProjectMeta:
    """Everything a later stage needs to know about a verified project."""

    model: str
    source: SourceInfo
    seed: int
    firmware: FirmwareConfig
    input_shape: tuple[int, ...]  # per event, project (channels-last) layout
    reference_input_shape: tuple[int, ...]  # per event, QONNX (exporter) layout
    csim: CsimInfo
    verification: dict[str, Comparison]
    inputs: InputSpec | None = None  # None for projects imported from a QONNX file
    output_kind: str | None = None  # "logit" | "energy_correction" for checkpoint exports
    types: dict[str, dict[str, str]] = field(default_factory=dict)  # hls4ml types, for humans
    versions: dict[str, str] = field(default_factory=dict)

    def is_current(self, source_sha256: str, firmware: FirmwareConfig) -> bool:
        """Made from this source with this firmware config (so it need not be re-exported)."""
        return self.source.sha256 == source_sha256 and self.firmware == firmware

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "stage": PROJECT.value,  # PROJECT's marker: what datrig may replace
            "model": self.model,
            "source": vars(self.source),
            "seed": self.seed,
            "firmware_config": self.firmware.to_json(),
            "input_shape": list(self.input_shape),
            "reference_input_shape": list(self.reference_input_shape),
            "csim": vars(self.csim),
            "verification": {k: c.to_json() for k, c in self.verification.items()},
            "inputs": None if self.inputs is None else self.inputs.to_json(),
            "output_kind": self.output_kind,
            "types": self.types,
            "versions": self.versions,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any], source: str) -> ProjectMeta:
        if doc.get("schema") != SCHEMA:
            raise SchemaError(
                f"{source} was written by another datrig version (schema "
                f"{doc.get('schema')!r}, this one reads {SCHEMA!r}); re-export the project"
            )
        try:
            return cls(
                model=doc["model"],
                source=SourceInfo(**doc["source"]),
                seed=int(doc["seed"]),
                firmware=parse_firmware_config(doc["firmware_config"], source=source),
                input_shape=check_shape(doc["input_shape"], source, "input"),
                reference_input_shape=check_shape(doc["reference_input_shape"], source, "input"),
                csim=CsimInfo.from_json(doc["csim"], source),
                verification={k: Comparison.from_json(v) for k, v in doc["verification"].items()},
                inputs=None if doc["inputs"] is None else InputSpec.from_json(doc["inputs"]),
                output_kind=doc.get("output_kind"),
                types=doc.get("types", {}),
                versions=doc.get("versions", {}),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SchemaError(
                f"{source} is malformed ({short(exc)}); re-export the project"
            ) from None
        except DatrigError as exc:
            raise SchemaError(f"{exc}; re-export the project") from None


def write_meta(project_dir: str | os.PathLike[str], meta: ProjectMeta) -> Path:
    """Write ``datrig_project.json`` (the last file of a project to be written)."""
    path = Path(project_dir) / PROJECT_FILE
    write_json(path, meta.to_json())
    return path


@dataclass
class FirmwareProject:
    """A verified project on disk: its metadata, emulator IR and C-simulation library."""

    path: Path
    meta: ProjectMeta

    @classmethod
    def load(cls, project_dir: str | os.PathLike[str]) -> FirmwareProject:
        path = Path(project_dir)
        meta_path = path / PROJECT_FILE
        if not meta_path.is_file():
            raise DatrigError(
                f"{path} is not a datrig project (no {PROJECT_FILE}); run `datrig export` first"
            )
        try:
            doc = json.loads(meta_path.read_text())
        except (OSError, ValueError, RecursionError) as exc:
            raise SchemaError(f"{meta_path} is unreadable ({short(exc)}); re-export") from None
        if not isinstance(doc, dict):
            raise SchemaError(f"{meta_path} is not a datrig project record; re-export")
        project = cls(path, ProjectMeta.from_json(doc, str(meta_path)))
        project.library_path()  # refuse a library outside the project before anything runs
        return project

    def library_path(self) -> Path:
        """The C-simulation library, resolved inside the project folder (or a DatrigError)."""
        return resolve_inside(self.path, self.meta.csim.library, "csim.library")

    @functools.cached_property
    def ir(self) -> NetworkIR:
        from datrig.ir.io import load_ir

        return load_ir(self.path)

    @functools.cached_property
    def library(self) -> CsimLibrary:
        c = self.meta.csim
        return CsimLibrary(self.library_path(), c.project_name, c.n_in, c.n_out, c.traced_layers)

    def read_inputs(
        self, source: str | os.PathLike[str], limit: int | None = None, split: str | None = None
    ) -> np.ndarray:
        """Network inputs from a .npy, a predictions file, a datrig event file or (through the
        project's task) a user's ntuple."""
        x = read_inputs(source, self.meta.inputs, limit, split)
        self._check_shape(x, source)
        return x

    def read_events(
        self, source: str | os.PathLike[str], limit: int | None = None, split: str | None = None
    ) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
        """Like :meth:`read_inputs`, and for a user's own ntuple (read through the project's
        task) also where every candidate came from (``entry``, ``index``, ``n_entries``,
        ``collection``), so outputs can be joined back to it."""
        from datrig.project.inputs import is_user_ntuple

        path = Path(source)
        if self.meta.inputs is not None and is_user_ntuple(path, self.meta.inputs):
            if split is not None:
                raise SchemaError(f"{path}: --split applies to datrig event files only")
            x, where = self.meta.inputs.from_source(path, limit)
            self._check_shape(x, source)
            return x, where
        return self.read_inputs(source, limit, split), None

    def _check_shape(self, x: np.ndarray, source: object) -> None:
        if tuple(x.shape[1:]) != self.meta.input_shape:
            raise SchemaError(
                f"{source}: inputs have shape {x.shape[1:]} per event; project {self.path} "
                f"needs {self.meta.input_shape}"
            )

    def bytes_per_event(self) -> int:
        """Memory one event costs a check of this project (inputs, mantissas, every layer's
        outputs in the emulator and the C-simulation's trace, float64 and int64 copies)."""
        n_in = int(np.prod(self.meta.input_shape))
        layers = sum(int(np.prod(layer.shape)) for layer in self.ir.layers)
        return 8 * (4 * n_in + 3 * layers + 4 * self.meta.csim.n_out) + 64

    def emulate(self, inputs: np.ndarray) -> np.ndarray:
        """The firmware's outputs (float64, (N, n_out)) from the bit-exact emulator."""
        from datrig.emulate.runner import emulate

        return emulate(self.ir, inputs).output.reshape(len(inputs), -1)

    def csim(self, inputs: np.ndarray) -> np.ndarray:
        return self.library.predict(inputs)

    def verify(self, inputs: np.ndarray) -> Comparison:
        """Emulator vs the stored C-sim library; VerificationError naming the first diverging
        layer on any mismatch."""
        result = emulator_vs_csim(self.ir, self.library, inputs)
        if not result.ok:
            raise VerificationError(result.message())
        return result


def project_is_current(
    project_dir: str | os.PathLike[str], source_sha256: str, firmware: FirmwareConfig
) -> bool:
    """True when ``project_dir`` holds a loadable project made from this source and config."""
    try:
        return FirmwareProject.load(project_dir).meta.is_current(source_sha256, firmware)
    except DatrigError:
        return False


def load_project(project_dir: str | os.PathLike[str], *, native: bool) -> FirmwareProject:
    """A project for a command that reads one another process may be re-exporting: waits for
    its writer (the destination lock), then reads the record and the IR and, with ``native``,
    loads the C-simulation library, so all of them come from one export."""
    parent = Path(os.path.abspath(project_dir)).parent
    lock = destination_lock(project_dir) if os.access(parent, os.W_OK) else contextlib.nullcontext()
    with lock:
        project = FirmwareProject.load(project_dir)
        _ = project.ir
        if native:
            _ = project.library
    return project
