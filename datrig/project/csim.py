"""The C-simulation library of a project: hls4ml's C++ compiled with g++ and the ap_fixed headers.

A verified project keeps its compiled library in ``firmware/``. datrig builds it with the
weights compiled in (hls4ml's ``WriteWeightsTxt`` off) and layer tracing compiled in, so the
library has no absolute path inside: it works wherever the project folder is moved or copied,
in any process, without g++ and without reconverting anything. :class:`CsimLibrary` calls it
through ctypes exactly as hls4ml's own ``predict``/``trace`` do (``<project>_double(in, out)``
per event; ``allocate_trace_storage``/``collect_trace_output`` for per-layer outputs).
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np
import numpy.ctypeslib as npc

from datrig.errors import DatrigError, SchemaError


class _TraceData(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("data", ctypes.c_void_p)]


class CsimLibrary:
    """A compiled C-simulation library loaded with ctypes (hls4ml's calling convention).

    ``traced_layers`` maps each layer the library can trace to its output size.
    """

    def __init__(
        self,
        lib_path: str | os.PathLike[str],
        project_name: str,
        n_in: int,
        n_out: int,
        traced_layers: dict[str, int] | None = None,
    ) -> None:
        self.lib_path = Path(lib_path)
        if not self.lib_path.is_file():
            raise DatrigError(
                f"C-simulation library {lib_path} is missing; the project is damaged: re-export"
            )
        try:
            self._lib = ctypes.cdll.LoadLibrary(str(self.lib_path.resolve()))
            self._fn = getattr(self._lib, f"{project_name}_double")
        except (OSError, AttributeError) as exc:
            raise DatrigError(
                f"cannot load the C-simulation library {lib_path} ({exc}); re-export the project"
            ) from None
        self._fn.restype = None
        ptr = npc.ndpointer(ctypes.c_double, flags="C_CONTIGUOUS")
        self._fn.argtypes = [ptr, ptr]
        self.n_in, self.n_out = self._checked_sizes(n_in, n_out)
        self.traced_layers = dict(traced_layers or {})

    def _checked_sizes(self, n_in: int, n_out: int) -> tuple[int, int]:
        """The sizes the project records, if the compiled library states the same ones: a
        wrong record would make every call read or write past its buffers."""
        try:
            sizes = [getattr(self._lib, f"datrig_n_{k}") for k in ("in", "out")]
        except AttributeError:
            raise DatrigError(
                f"{self.lib_path} does not state its input/output sizes (exported by an older "
                "datrig); re-export the project"
            ) from None
        for fn in sizes:
            fn.restype, fn.argtypes = ctypes.c_ulong, []
        actual = (int(sizes[0]()), int(sizes[1]()))
        if actual != (n_in, n_out):
            raise SchemaError(
                f"{self.lib_path} takes {actual[0]} inputs and gives {actual[1]} outputs, but "
                f"the project records {n_in} and {n_out}; the project is damaged or crafted: "
                "re-export it"
            )
        return actual

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """(N, ...) inputs -> float64 (N, n_out), one library call per event."""
        x = flat_inputs(inputs, self.n_in)
        out = np.zeros((len(x), self.n_out), dtype=np.float64)
        row = np.zeros(self.n_out, dtype=np.float64)
        for i in range(len(x)):
            self._fn(x[i], row)
            out[i] = row
        return out

    def trace(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Every traced layer's output, float64 (N, size), as the C++ computed it."""
        if not self.traced_layers:
            raise DatrigError(f"{self.lib_path} was built without layer tracing; re-export")
        x = flat_inputs(inputs, self.n_in)
        alloc, collect, free = (
            self._lib.allocate_trace_storage,
            self._lib.collect_trace_output,
            self._lib.free_trace_storage,
        )
        alloc.argtypes, alloc.restype = [ctypes.c_size_t], None
        collect.argtypes, collect.restype = [ctypes.POINTER(_TraceData)], None
        free.argtypes, free.restype = None, None
        slots = (_TraceData * len(self.traced_layers))()
        traces = {name: np.zeros((len(x), n)) for name, n in self.traced_layers.items()}
        row = np.zeros(self.n_out, dtype=np.float64)
        alloc(ctypes.sizeof(ctypes.c_double))
        try:
            for i in range(len(x)):
                self._fn(x[i], row)
                collect(slots)
                for slot in slots:
                    name = slot.name.decode()
                    data = ctypes.cast(slot.data, ctypes.POINTER(ctypes.c_double))
                    traces[name][i] = npc.as_array(data, shape=(self.traced_layers[name],))
        finally:
            free()
        return traces


def flat_inputs(inputs: np.ndarray, n_in: int) -> np.ndarray:
    """(N, ...) float inputs as a C-contiguous float64 (N, n_in) array, checked."""
    x = np.asarray(inputs, dtype=np.float64)
    if x.ndim < 1 or x.size % max(n_in, 1) or (x.ndim > 1 and int(np.prod(x.shape[1:])) != n_in):
        raise SchemaError(
            f"inputs of shape {x.shape} do not fit the model: each event needs {n_in} values"
        )
    x = np.ascontiguousarray(x.reshape(-1, n_in))
    if not np.all(np.isfinite(x)):
        raise SchemaError(f"inputs contain {int(np.sum(~np.isfinite(x)))} NaN/inf values")
    return x
