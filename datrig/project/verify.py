"""Bit-exact comparisons between implementations, and where they first diverge.

Three implementations of one network exist: the QONNX executor (reference semantics), hls4ml's
C-simulation (what the firmware computes) and datrig's emulator. C-sim vs emulator must agree
exactly, on every event and every output; this module holds the one comparison of the two
(:func:`emulator_vs_csim`, used at export and by ``datrig verify``) and the one generator of
seeded test inputs (:func:`seeded_inputs`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from datrig.emulate.runner import emulate
from datrig.errors import VerificationError
from datrig.ir.network import NetworkIR
from datrig.project.csim import CsimLibrary

MAX_TRACE_EVENTS = 16  # mismatching events replayed layer by layer to name the first bad layer


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

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Comparison:
        return cls(**obj)

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


def seeded_inputs(
    shape: tuple[int, ...], n_events: int, input_range: float, seed: int
) -> np.ndarray:
    """Uniform float64 inputs over +-``input_range`` (the firmware config's
    ``verification.input_range``), which covers every input quantizer's saturation region."""
    if n_events < 1:
        raise VerificationError(f"need at least 1 event to verify, got {n_events}")
    rng = np.random.default_rng(seed)
    return rng.uniform(-input_range, input_range, size=(n_events, *shape))


def first_diverging_layer(library: CsimLibrary, ir: NetworkIR, inputs: np.ndarray) -> str | None:
    """The first layer (execution order) whose C-sim output differs from the emulator's."""
    x = np.ascontiguousarray(np.asarray(inputs, dtype=np.float64))
    csim_trace = library.trace(x)
    emu_trace = emulate(ir, x, trace=True).trace
    for layer in ir.layers:
        if layer.name not in csim_trace or layer.name not in emu_trace:
            continue
        c = csim_trace[layer.name].reshape(len(x), -1)
        e = np.asarray(emu_trace[layer.name], dtype=np.float64).reshape(len(x), -1)
        if c.shape != e.shape or np.any(c != e):
            return layer.name
    return None


def emulator_vs_csim(ir: NetworkIR, library: CsimLibrary, inputs: np.ndarray) -> Comparison:
    """Emulator vs C-sim on ``inputs``, bit for bit; a mismatch names the first bad layer."""
    x = np.ascontiguousarray(np.asarray(inputs, dtype=np.float64))
    y_csim = library.predict(x)
    y_emu = emulate(ir, x).output
    result = compare_outputs("emulator_vs_csim", y_emu, y_csim)
    if result.ok:
        return result
    bad = np.flatnonzero(np.any(y_emu.reshape(len(x), -1) != y_csim, axis=1))
    layer = first_diverging_layer(library, ir, x[bad[:MAX_TRACE_EVENTS]])
    return replace(result, first_diverging_layer=layer)
