"""Assemble a verified hls4ml project: convert, compile, verify, write, hand over.

The project is built in a temporary folder next to ``out_dir``. Everything that can fail
happens there: conversion, the g++ build of the C-simulation, C-sim == emulator bit for bit
and C-sim == QONNX executor on the calibration events (exactly; through a final
softmax/sigmoid/tanh table: exactly up to its input and within a table-derived bound after it,
see :mod:`datrig.export.qonnx_check`). Only then is the folder swapped into place, in one
step (:func:`datrig.atomic.atomic_dir`), replacing a previous project and nothing else;
concurrent exports of one destination are serialised. The C-simulation library is
relocatable, so the verified library is the one handed over, unchanged.

Input layout: the project's inputs are in hls4ml's layout, which is channels-last for the
Deep Sets model ``(N, n_cells, n_features)``; the QONNX reference keeps the exporter's layout
and inputs are transposed for it.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from datrig.atomic import atomic_dir, destination_lock
from datrig.errors import DatrigError, SchemaError, VerificationError
from datrig.export import qonnx as qx
from datrig.export.hls import compile_project, convert, resolved_types
from datrig.export.qonnx_check import compare_with_qonnx
from datrig.export.threshold_graph import append_threshold_map, model_threshold_map
from datrig.export.to_ir import network_ir_from_hls4ml
from datrig.faults import pause_point
from datrig.ir.io import save_ir
from datrig.project.config import FirmwareConfig
from datrig.project.csim import CsimLibrary
from datrig.project.inputs import InputSpec
from datrig.project.meta import PROJECT, ProjectMeta, SourceInfo, write_meta
from datrig.project.verify import Comparison, emulator_vs_csim, seeded_inputs
from datrig.provenance import file_sha256, package_versions

REFERENCE_ONNX = "model_qonnx.onnx"  # cleaned QONNX, exporter layout: the reference semantics
HLS_ONNX = "model_hls.onnx"  # channels-last, Gemm->MatMul: what hls4ml converted


@dataclass
class ExportResult:
    """A verified project: where it is, the comparisons it passed, its metadata."""

    project_dir: Path
    comparisons: list[Comparison]
    meta: ProjectMeta


def export_checkpoint(
    checkpoint: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    fw_config: FirmwareConfig,
    *,
    calib_inputs: np.ndarray | None = None,
    seed: int = 0,
) -> ExportResult:
    """Brevitas checkpoint -> QONNX -> verified project in ``out_dir``.

    The checkpoint's model must be ``fw_config.model`` (a photon_id run is never wrapped in a
    diphoton project). ``calib_inputs`` are normalised network inputs (N, ...) in the project
    layout; without them, seeded random inputs covering the input quantizer's range are used.
    """
    from datrig.train.checkpoint import load_checkpoint

    loaded = load_checkpoint(checkpoint)
    if loaded.spec.name != fw_config.model:
        raise DatrigError(
            f"{checkpoint} holds a {loaded.spec.name} model, not {fw_config.model}: export it "
            f"with --model {loaded.spec.name}, or pass the run of a {fw_config.model} model"
        )
    example = loaded.example_input()
    with qx.temporary_onnx_path() as onnx_path:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            qx.brevitas_to_qonnx(loaded.model, example, onnx_path)
        table = model_threshold_map(loaded.model)
        if table is not None:  # the model's table block, as plain QONNX layers after s
            graph = _clean_reference(qx.load_qonnx(onnx_path), str(checkpoint))
            append_threshold_map(graph, table, str(checkpoint)).save(str(onnx_path))
        return export_qonnx_model(
            onnx_path,
            fw_config.model,
            out_dir,
            fw_config,
            inputs=calib_inputs,
            seed=seed,
            source=SourceInfo("checkpoint", str(checkpoint), file_sha256(checkpoint)),
            input_spec=InputSpec(
                loaded.spec.kind, loaded.normalisation, loaded.spec.extra.get("task")
            ),
            output_kind=loaded.spec.output_kind,
            top_up=True,
        )


def export_qonnx_model(
    onnx_path: str | os.PathLike[str],
    name: str,
    out_dir: str | os.PathLike[str],
    fw_config: FirmwareConfig,
    *,
    inputs: np.ndarray | None = None,
    seed: int = 0,
    source: SourceInfo | None = None,
    input_spec: InputSpec | None = None,
    output_kind: str | None = None,
    top_up: bool = False,
) -> ExportResult:
    """QONNX file -> verified project in ``out_dir`` (see module docstring); ``top_up``: fewer
    ``inputs`` than the config's verification events are topped up with seeded ones."""
    reference = _clean_reference(qx.load_qonnx(onnx_path), str(onnx_path))
    if input_spec is not None:
        n_net = int(np.prod(qx.input_shape(reference)))
        n_task = len(input_spec.normalisation.features) * (input_spec.normalisation.n_cells or 1)
        if n_net != n_task:
            raise DatrigError(
                f"{onnx_path}: the network takes {n_net} inputs per event, the task lists "
                f"{n_task} ({', '.join(input_spec.normalisation.features[:8])}, ...); the task's "
                "inputs must be the network's, in order"
            )
    hls_onnx = qx.clean_for_hls4ml(reference)
    qx.check_supported(hls_onnx, str(onnx_path))
    source = source or SourceInfo("onnx", str(onnx_path), file_sha256(onnx_path))
    with destination_lock(out_dir), atomic_dir(out_dir, PROJECT) as tmp:
        reference.save(str(tmp / REFERENCE_ONNX))
        hls_onnx.save(str(tmp / HLS_ONNX))
        hls_model = convert(hls_onnx, fw_config, tmp)
        csim = compile_project(hls_model, fw_config)
        pause_point("export:compiled")
        library = CsimLibrary(
            tmp / csim.library, csim.project_name, csim.n_in, csim.n_out, csim.traced_layers
        )
        shape = tuple(int(d) for d in hls_model.get_input_variables()[0].shape)
        x = _calibration_inputs(inputs, shape, fw_config, seed, top_up)
        ir = network_ir_from_hls4ml(hls_model, name)
        comparisons = _verify(library, ir, reference, name, x, fw_config, onnx_path)
        save_ir(ir, tmp)
        meta = ProjectMeta(
            model=name,
            source=source,
            seed=seed,
            firmware=fw_config,
            input_shape=shape,
            reference_input_shape=qx.input_shape(reference),
            csim=csim,
            verification={c.name: c for c in comparisons},
            inputs=input_spec,
            output_kind=output_kind,
            types=resolved_types(hls_model),
            versions=package_versions(),
        )
        write_meta(tmp, meta)  # the marker: written last, so only a complete folder has it
        pause_point("export:before-swap")
    pause_point("export:after-swap")
    return ExportResult(Path(out_dir), comparisons, meta)


def _verify(
    library: CsimLibrary,
    ir: Any,
    reference: Any,
    name: str,
    x: np.ndarray,
    fw: FirmwareConfig,
    onnx_path: str | os.PathLike[str],
) -> list[Comparison]:
    vs_emu = emulator_vs_csim(ir, library, x)
    if not vs_emu.ok:
        raise VerificationError(
            f"{name}: {vs_emu.message()}; the project was not written. {_diagnosis(onnx_path)}"
        )
    vs_qonnx = compare_with_qonnx(library, ir, reference, x, fw.verification.min_argmax_agreement)
    for check in vs_qonnx:
        if not check.ok:
            raise VerificationError(
                f"{name}: {check.message()}; hls4ml did not convert the QONNX graph "
                f"faithfully. {_diagnosis(onnx_path, ir)}; the project was not written"
            )
    return [*vs_qonnx, vs_emu]


def _diagnosis(onnx_path: str | os.PathLike[str], ir: Any = None) -> str:
    """Why a conversion can be inexact, and what to do: non-power-of-two quantizer scales are
    the usual cause (hls4ml applies them as rounded fixed-point constants)."""
    import onnx

    from datrig.quant.pot import non_pot_quant_nodes

    bad = non_pot_quant_nodes(onnx.load(str(onnx_path)))
    if bad:
        return (
            f"The model is not quantized with power-of-two scales ({'; '.join(bad[:3])}): "
            "hls4ml turns such scales into rounded fixed-point multipliers. Retrain with "
            "power-of-two (fixed-point) quantizers, e.g. Brevitas' *FixedPoint quantizers "
            "or datrig's quant presets"
        )
    scaled = [la.name for la in (ir.layers if ir else []) if la.kind == "batchnorm"]
    if scaled:
        return (
            f"Layers {', '.join(scaled)} apply BatchNorm/scales as fixed-point constants, "
            "which is lossy; fold BatchNorm into power-of-two quantized weights"
        )
    return "This looks like a datrig emulator or conversion bug: please report it with the model"


def _clean_reference(model: Any, source: str) -> Any:
    from qonnx.util.cleanup import cleanup_model

    try:
        return cleanup_model(model)
    except Exception as exc:
        raise DatrigError(f"{source}: qonnx cleanup failed: {exc}") from None


def _calibration_inputs(
    inputs: np.ndarray | None,
    shape: tuple[int, ...],
    fw: FirmwareConfig,
    seed: int,
    top_up: bool = False,
) -> np.ndarray:
    n = fw.verification.n_events
    if inputs is None:
        return seeded_inputs(shape, n, fw.verification.input_range, seed)
    x = np.asarray(inputs, dtype=np.float64)
    if x.ndim < 2 or tuple(x.shape[1:]) != shape:
        raise SchemaError(
            f"calibration inputs have shape {x.shape}; the converted model needs (N, "
            f"{', '.join(map(str, shape))})"
        )
    if len(x) == 0:
        raise SchemaError("no calibration events to verify the project with")
    if not np.all(np.isfinite(x)):
        raise SchemaError(f"calibration inputs contain {int(np.sum(~np.isfinite(x)))} NaN/inf")
    if top_up and len(x) < n:  # a run's small test sample: seeded inputs over the input range
        extra = seeded_inputs(shape, n - len(x), fw.verification.input_range, seed)
        x = np.concatenate([x, extra])
    return np.ascontiguousarray(x[:n])
