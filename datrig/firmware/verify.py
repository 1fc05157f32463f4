"""Bit-exact comparisons between implementations, and where they first diverge.

Three implementations of one network exist: the QONNX executor (reference semantics), hls4ml's
C-simulation (what the firmware computes) and datrig's emulator. C-sim vs emulator must agree
exactly; QONNX vs C-sim exactly too, except the output of a final lookup-table activation
(softmax, sigmoid, tanh): there the tensor feeding it is compared exactly and the output within
a bound derived from the tables (:mod:`datrig.export.lut_check`).
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from datrig.errors import VerificationError


@dataclass(frozen=True)
class Comparison:
    """Outcome of comparing two (n_events, n_out) arrays; ``atol`` 0 means bit for bit."""

    name: str
    n_events: int
    n_mismatch: int
    max_abs_diff: float
    first_event: int | None
    atol: float = 0.0
    first_diverging_layer: str | None = None
    tensor: str | None = None  # the compared tensor when not the network output
    input_grid: str | None = None  # type the inputs were snapped to (graph has no quantizer)
    tolerance_basis: str | None = None  # how a non-zero atol was derived
    argmax_agreement: float | None = None  # softmax classifiers: fraction of equal argmax

    @property
    def ok(self) -> bool:
        return self.n_mismatch == 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def message(self) -> str:
        where = (
            f"; first diverging layer: {self.first_diverging_layer}"
            if self.first_diverging_layer
            else ""
        )
        mode = "bit for bit" if self.atol == 0 else f"within {self.atol:.4g}"
        what = f" in {self.tensor}" if self.tensor else ""
        extra = ""
        if self.argmax_agreement is not None:
            extra += f", argmax agreement {100 * self.argmax_agreement:.2f}%"
        if self.input_grid:
            extra += f", inputs on the {self.input_grid} grid"
        if self.tolerance_basis:
            extra += f"; tolerance from {self.tolerance_basis}"
        first = f"first event {self.first_event}, " if self.first_event is not None else ""
        return (
            f"{self.name}: {self.n_mismatch} of {self.n_events} events differ{what} {mode} "
            f"({first}max |diff| {self.max_abs_diff:.4g}{extra}){where}"
        )


def compare_outputs(name: str, a: np.ndarray, b: np.ndarray, atol: float = 0.0) -> Comparison:
    """Per-event comparison; an event mismatches if any of its outputs differs (> atol)."""
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    if a.shape != b.shape:
        raise VerificationError(f"{name}: output shapes differ: {a.shape} vs {b.shape}")
    diff = np.abs(a - b)
    bad = np.any(diff > atol, axis=1) if atol > 0 else np.any(a != b, axis=1)
    idx = np.flatnonzero(bad)
    return Comparison(
        name=name,
        n_events=len(a),
        n_mismatch=len(idx),
        max_abs_diff=float(diff.max()) if diff.size else 0.0,
        first_event=int(idx[0]) if len(idx) else None,
        atol=atol,
    )


def first_diverging_layer(hls_model: Any, ir: Any, inputs: np.ndarray) -> str | None:
    """The first layer (in execution order) whose C-sim trace differs from the emulator's.

    Recompiles the hls4ml model with tracing (a few seconds), so call it on the few events
    that mismatch, not on all of them.
    """
    from datrig.emulate.runner import emulate

    x = np.ascontiguousarray(np.asarray(inputs, dtype=np.float64))
    with contextlib.redirect_stdout(io.StringIO()):
        _, hls_trace = hls_model.trace(x)
    emu_trace = emulate(ir, x, trace=True).trace
    for layer in ir.layers:
        if layer.name not in hls_trace or layer.name not in emu_trace:
            continue
        c = np.asarray(hls_trace[layer.name], dtype=np.float64).reshape(len(x), -1)
        e = np.asarray(emu_trace[layer.name], dtype=np.float64).reshape(len(x), -1)
        if c.shape != e.shape or np.any(c != e):
            return layer.name
    return None


def verify_project(
    project_dir: Any, *, n_events: int, inputs: np.ndarray | None = None, seed: int = 1
) -> Comparison:
    """Emulator vs the project's stored C-sim library on ``inputs`` (or seeded random events).

    Random inputs are uniform over +-``verification.input_range`` of the project's firmware
    config, which covers every input quantizer's saturation region. On mismatch the project is
    reconverted in a temporary folder and traced to name the first diverging layer.
    """
    import tempfile

    from datrig.emulate.io import load_ir
    from datrig.emulate.runner import emulate
    from datrig.firmware.csim import CsimLibrary, read_project_meta

    meta = read_project_meta(project_dir)
    shape = tuple(meta["input_shape"])
    if inputs is None:
        r = float(meta["firmware_config"]["verification"]["input_range"])
        rng = np.random.default_rng(seed)
        inputs = rng.uniform(-r, r, size=(n_events, *shape))
    x = np.ascontiguousarray(np.asarray(inputs, dtype=np.float64)[:n_events])
    if tuple(x.shape[1:]) != shape:
        raise VerificationError(f"inputs have shape {x.shape}; the project needs (N, {shape})")
    y_csim = CsimLibrary.from_project(project_dir).predict(x)
    ir = load_ir(project_dir)
    y_emu = emulate(ir, x).output
    result = compare_outputs("emulator_vs_csim", y_emu, y_csim)
    if result.ok:
        return result
    from datrig.export.project import MAX_TRACE_EVENTS, rebuild_hls_model

    bad = np.flatnonzero(np.any(y_emu.reshape(len(x), -1) != y_csim, axis=1))
    with tempfile.TemporaryDirectory(prefix="datrig-trace-") as work:
        hls_model = rebuild_hls_model(project_dir, work)
        layer = first_diverging_layer(hls_model, ir, x[bad[:MAX_TRACE_EVENTS]])
    result = Comparison(**{**result.to_json(), "first_diverging_layer": layer})
    raise VerificationError(result.message())
