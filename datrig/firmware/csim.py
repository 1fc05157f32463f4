"""C-simulation: hls4ml's generated C++ compiled with g++ and the ap_fixed headers.

Two ways in: :func:`compile_project` compiles a freshly converted ModelGraph (g++ needed), and
:class:`CsimLibrary` reloads the shared library a verified project keeps in ``firmware/``
through ctypes, exactly as hls4ml's own ``predict`` calls it (``<project>_double(in, out)``
per event). Reloading needs no g++ and no reconversion; ``datrig_project.json`` records the
library name and the input/output sizes.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.ctypeslib as npc

from datrig.errors import DatrigError, SchemaError, ToolMissingError

PROJECT_FILE = "datrig_project.json"


def require_compiler() -> str:
    """Path of g++, or a ToolMissingError saying how to get it."""
    gxx = shutil.which("g++")
    if gxx is None:
        raise ToolMissingError(
            "g++ not found on PATH: C-simulation compiles hls4ml's C++ with it; install it "
            "(Debian/Ubuntu: apt-get install g++) and retry"
        )
    return gxx


def compile_project(hls_model: Any) -> Any:
    """Write and compile a converted hls4ml ModelGraph; returns it ready for ``predict``."""
    require_compiler()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            hls_model.compile()
    except Exception as exc:
        raise DatrigError(f"compiling the hls4ml C-simulation failed: {exc}") from None
    return hls_model


class CsimLibrary:
    """A compiled C-simulation library loaded with ctypes (hls4ml's calling convention)."""

    def __init__(self, lib_path: Path, project_name: str, n_in: int, n_out: int) -> None:
        self.lib_path = Path(lib_path)
        if not self.lib_path.is_file():
            raise DatrigError(f"C-simulation library {lib_path} is missing; re-run datrig export")
        self._lib = ctypes.cdll.LoadLibrary(str(self.lib_path.resolve()))
        self._fn = getattr(self._lib, f"{project_name}_double")
        self._fn.restype = None
        ptr = npc.ndpointer(ctypes.c_double, flags="C_CONTIGUOUS")
        self._fn.argtypes = [ptr, ptr]
        self.n_in = n_in
        self.n_out = n_out

    @classmethod
    def from_project(cls, project_dir: str | os.PathLike[str]) -> CsimLibrary:
        """Load the project's library, rebuilding it if the project folder has moved."""
        meta = read_project_meta(project_dir)
        csim = meta["csim"]
        if csim.get("weights_dir") != str(weights_dir(project_dir)):
            build_library(project_dir)
        return cls(
            Path(project_dir) / csim["library"], csim["project_name"], csim["n_in"], csim["n_out"]
        )

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """(N, ...) inputs -> float64 (N, n_out), one library call per event."""
        x = _flat_inputs(inputs, self.n_in)
        out = np.zeros((len(x), self.n_out), dtype=np.float64)
        row = np.zeros(self.n_out, dtype=np.float64)
        for i in range(len(x)):
            self._fn(x[i], row)
            out[i] = row
        return out


def csim_predict(project_or_model: Any, inputs: np.ndarray) -> np.ndarray:
    """C-sim outputs (N, n_out) float64 from a project directory or a compiled ModelGraph."""
    if isinstance(project_or_model, (str, os.PathLike)):
        return CsimLibrary.from_project(project_or_model).predict(inputs)
    model = project_or_model
    n_in = int(np.prod(model.get_input_variables()[0].shape))
    x = _flat_inputs(inputs, n_in)
    with contextlib.redirect_stdout(io.StringIO()):
        y = model.predict(x)
    return np.asarray(y, dtype=np.float64).reshape(len(x), -1)


def weights_dir(project_dir: str | os.PathLike[str]) -> Path:
    """hls4ml's C-sim reads weights at run time from this absolute path, baked in at compile."""
    return Path(project_dir).resolve() / "firmware" / "weights"


def build_library(project_dir: str | os.PathLike[str]) -> None:
    """(Re)compile the project's C-sim library in place with hls4ml's ``build_lib.sh``.

    Needed once a project is renamed into place: the library embeds the absolute weights path.
    Records the new weights path in the project sidecar.
    """
    import subprocess

    from datrig.atomic import write_json

    require_compiler()
    project_dir = Path(project_dir)
    proc = subprocess.run(
        ["bash", "build_lib.sh"], cwd=project_dir, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise DatrigError(f"compiling the C-simulation in {project_dir} failed: {' | '.join(tail)}")
    meta = read_project_meta(project_dir)
    meta["csim"]["weights_dir"] = str(weights_dir(project_dir))
    write_json(project_dir / PROJECT_FILE, meta)


def library_path(hls_model: Any) -> Path:
    """The .so the last compile produced (hls4ml stamps its name)."""
    return Path(hls_model._top_function_lib._name)


def read_project_meta(project_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(project_dir) / PROJECT_FILE
    if not path.is_file():
        raise DatrigError(
            f"{project_dir} is not a datrig project (no {PROJECT_FILE}); run datrig export first"
        )
    return json.loads(path.read_text())


def _flat_inputs(inputs: np.ndarray, n_in: int) -> np.ndarray:
    x = np.asarray(inputs, dtype=np.float64)
    if x.ndim < 1 or x.size % max(n_in, 1) or (x.ndim > 1 and int(np.prod(x.shape[1:])) != n_in):
        raise SchemaError(
            f"inputs of shape {x.shape} do not fit the model: each event needs {n_in} values"
        )
    x = np.ascontiguousarray(x.reshape(-1, n_in))
    if not np.all(np.isfinite(x)):
        raise SchemaError(f"inputs contain {int(np.sum(~np.isfinite(x)))} NaN/inf values")
    return x
