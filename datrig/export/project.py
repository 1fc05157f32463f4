"""Assemble a verified hls4ml project: convert, compile, verify three ways, write, hand over.

The project is built in a temporary folder next to ``out_dir`` and renamed into place only
after C-sim == emulator bit for bit and C-sim == QONNX executor on the calibration events
(exactly; through a final softmax/sigmoid/tanh table: exactly up to its input and within a
table-derived bound after it, see :mod:`datrig.export.qonnx_check`). A project that fails
is never handed over: :class:`VerificationError` says how many events differ and where.

Input layout: the project's inputs are in hls4ml's layout, which is channels-last for the
Deep Sets model ``(N, n_cells, n_features)``; the QONNX reference keeps the exporter's layout
and inputs are transposed for it.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from datrig.atomic import atomic_dir, write_json
from datrig.errors import DatrigError, SchemaError, VerificationError
from datrig.export import qonnx as qx
from datrig.export.hls import PROJECT_NAME, convert, resolved_types
from datrig.firmware.config import FirmwareConfig, parse_firmware_config
from datrig.firmware.csim import (
    PROJECT_FILE,
    compile_project,
    csim_predict,
    library_path,
    read_project_meta,
)
from datrig.firmware.verify import Comparison, compare_outputs, first_diverging_layer
from datrig.provenance import sidecar

REFERENCE_ONNX = "model_qonnx.onnx"  # cleaned QONNX, exporter layout: the reference semantics
HLS_ONNX = "model_hls.onnx"  # channels-last, Gemm->MatMul: what hls4ml converted
MAX_TRACE_EVENTS = 16


@dataclass
class ExportResult:
    """A verified project: where it is, the comparisons it passed, its sidecar."""

    project_dir: Path
    comparisons: list[Comparison]
    meta: dict[str, Any] = field(default_factory=dict)


def export_checkpoint(
    checkpoint: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    fw_config: FirmwareConfig,
    *,
    calib_inputs: np.ndarray | None = None,
    seed: int = 0,
) -> ExportResult:
    """Brevitas checkpoint -> QONNX -> verified project in ``out_dir``.

    ``calib_inputs`` are normalised network inputs (N, ...) in the project layout; without them,
    seeded random inputs covering the input quantizer's range are used.
    """
    import torch

    from datrig.train.checkpoint import load_checkpoint

    loaded = load_checkpoint(checkpoint)
    example = _example_input(loaded.model, calib_inputs, torch)
    with qx.temporary_onnx_path() as onnx_path:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            qx.brevitas_to_qonnx(loaded.model, example, onnx_path)
        return export_qonnx_model(
            onnx_path,
            fw_config.model,
            out_dir,
            fw_config,
            inputs=calib_inputs,
            seed=seed,
            source=Path(checkpoint),
            source_kind="checkpoint",
        )


def export_qonnx_model(
    onnx_path: str | os.PathLike[str],
    name: str,
    out_dir: str | os.PathLike[str],
    fw_config: FirmwareConfig,
    *,
    inputs: np.ndarray | None = None,
    seed: int = 0,
    source: Path | None = None,
    source_kind: str = "onnx",
) -> ExportResult:
    """QONNX file -> verified project in ``out_dir`` (see module docstring)."""
    reference = _clean_reference(qx.load_qonnx(onnx_path), str(onnx_path))
    hls_onnx = qx.clean_for_hls4ml(reference)
    qx.check_supported(hls_onnx, str(onnx_path))
    source = Path(source or onnx_path)
    with atomic_dir(out_dir) as tmp:
        reference.save(str(tmp / REFERENCE_ONNX))
        hls_onnx.save(str(tmp / HLS_ONNX))
        hls_model = convert(hls_onnx, fw_config, tmp)
        compile_project(hls_model)
        shape = _hls_input_shape(hls_model)
        x = _calibration_inputs(inputs, shape, fw_config, seed)
        comparisons, ir = _verify(
            hls_model, reference, name, x, fw_config.verification.min_argmax_agreement
        )
        from datrig.emulate.io import save_ir

        save_ir(ir, tmp)
        meta = sidecar(
            stage="export",
            seed=seed,
            inputs={source_kind: source},
            model=name,
            firmware_config=fw_config.to_json(),
            types=resolved_types(hls_model),
            input_shape=list(shape),
            reference_input_shape=list(qx.input_shape(reference)),
            csim={
                "library": str(library_path(hls_model).resolve().relative_to(tmp.resolve())),
                "project_name": PROJECT_NAME,
                "n_in": int(np.prod(shape)),
                "n_out": int(np.prod(hls_model.get_output_variables()[0].shape)),
                "weights_dir": "",  # set by build_library once the project is in place
            },
            verification={c.name: c.to_json() for c in comparisons},
        )
        write_json(tmp / PROJECT_FILE, meta)
        y_verified = csim_predict(hls_model, x)
    _relink_in_place(Path(out_dir), x, y_verified)
    return ExportResult(Path(out_dir), comparisons, read_project_meta(out_dir))


def _relink_in_place(project_dir: Path, x: np.ndarray, y_verified: np.ndarray) -> None:
    """Rebuild the library at its final path and check it reproduces the verified outputs.

    hls4ml's C-sim library embeds the absolute weights path of the folder it was built in, so
    the library built in the temporary folder cannot be kept. On any failure the project is
    removed: an unverified project is never left behind.
    """
    import shutil

    from datrig.firmware.csim import CsimLibrary, build_library

    try:
        build_library(project_dir)
        check = compare_outputs(
            "relinked_csim", CsimLibrary.from_project(project_dir).predict(x), y_verified
        )
        if not check.ok:
            raise VerificationError(f"{check.message()}; the project was removed")
    except BaseException:
        shutil.rmtree(project_dir, ignore_errors=True)
        raise


def rebuild_hls_model(project_dir: str | os.PathLike[str], work_dir: str | os.PathLike[str]) -> Any:
    """Reconvert a written project (deterministic) into ``work_dir`` and compile it.

    Used for layer-by-layer traces; predictions alone use the stored library
    (:class:`datrig.firmware.csim.CsimLibrary`).
    """
    meta = read_project_meta(project_dir)
    fw = parse_firmware_config(meta["firmware_config"], source=str(project_dir))
    hls_onnx = qx.load_qonnx(Path(project_dir) / HLS_ONNX)
    return compile_project(convert(hls_onnx, fw, work_dir))


def to_reference_layout(x: np.ndarray, reference_shape: tuple[int, ...]) -> np.ndarray:
    """Project-layout inputs -> the exporter's layout (channels-first for the Deep Sets)."""
    if tuple(x.shape[1:]) == tuple(reference_shape):
        return x
    if x.ndim == 3 and tuple(x.shape[:0:-1]) == tuple(reference_shape):
        return np.ascontiguousarray(x.transpose(0, 2, 1))
    return x.reshape(len(x), *reference_shape)


def _verify(
    hls_model: Any, reference: Any, name: str, x: np.ndarray, min_argmax_agreement: float
) -> tuple[list[Comparison], Any]:
    from datrig.emulate.runner import emulate
    from datrig.export.qonnx_check import compare_with_qonnx
    from datrig.export.to_ir import network_ir_from_hls4ml

    y_csim = csim_predict(hls_model, x)
    ir = network_ir_from_hls4ml(hls_model, name)
    y_emu = emulate(ir, x).output
    vs_emu = compare_outputs("emulator_vs_csim", y_emu, y_csim)
    if not vs_emu.ok:
        bad = np.flatnonzero(np.any(y_emu.reshape(len(x), -1) != y_csim, axis=1))
        layer = first_diverging_layer(hls_model, ir, x[bad[:MAX_TRACE_EVENTS]])
        vs_emu = Comparison(**{**vs_emu.to_json(), "first_diverging_layer": layer})
        raise VerificationError(
            f"{name}: {vs_emu.message()}; the project was not written. This is an emulator or "
            "conversion bug: report it with the model"
        )
    vs_qonnx = compare_with_qonnx(hls_model, ir, reference, x, y_csim, min_argmax_agreement)
    for check in vs_qonnx:
        if not check.ok:
            scaled = [la.name for la in hls_model.get_layers() if la.class_name == "ApplyAlpha"]
            hint = (
                f" (layers {', '.join(scaled)} apply non-power-of-two scales/BatchNorm as "
                "fixed-point constants, which is lossy; use power-of-two quantizer scales)"
                if scaled
                else " (unsupported pattern or lossy precision)"
            )
            raise VerificationError(
                f"{name}: {check.message()}; hls4ml did not convert the QONNX graph "
                f"faithfully{hint}; the project was not written"
            )
    return [*vs_qonnx, vs_emu], ir


def _clean_reference(model: Any, source: str) -> Any:
    from qonnx.util.cleanup import cleanup_model

    try:
        return cleanup_model(model)
    except Exception as exc:
        raise DatrigError(f"{source}: qonnx cleanup failed: {exc}") from None


def _hls_input_shape(hls_model: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in hls_model.get_input_variables()[0].shape)


def _calibration_inputs(
    inputs: np.ndarray | None, shape: tuple[int, ...], fw: FirmwareConfig, seed: int
) -> np.ndarray:
    if inputs is None:
        rng = np.random.default_rng(seed)
        r = fw.verification.input_range
        return rng.uniform(-r, r, size=(fw.verification.n_events, *shape)).astype(np.float64)
    x = np.asarray(inputs, dtype=np.float64)
    if x.ndim < 2 or tuple(x.shape[1:]) != shape:
        raise SchemaError(
            f"calibration inputs have shape {x.shape}; the converted model needs (N, "
            f"{', '.join(map(str, shape))})"
        )
    if not np.all(np.isfinite(x)):
        raise SchemaError(f"calibration inputs contain {int(np.sum(~np.isfinite(x)))} NaN/inf")
    return np.ascontiguousarray(x[: fw.verification.n_events])


def _example_input(model: Any, calib: np.ndarray | None, torch: Any) -> Any:
    """One example event in the model's torch layout (project layout, or its transpose)."""
    if calib is None:
        raise DatrigError("export needs calibration inputs to know the model's input shape")
    first = torch.as_tensor(np.asarray(calib[:1], dtype=np.float32))
    candidates = [first] + ([first.transpose(1, 2).contiguous()] if first.ndim == 3 else [])
    model.eval()
    for example in candidates:
        try:
            with torch.no_grad():
                model(example)
            return example
        except RuntimeError:
            continue
    raise SchemaError(f"model does not accept inputs of shape {tuple(first.shape[1:])}")
