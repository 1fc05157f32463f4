"""QONNX -> hls4ml ModelGraph with datrig's exact precisions and the firmware config applied.

Conversion is deterministic: the same cleaned QONNX model and FirmwareConfig always give the
same project, which is how a written project is rebuilt later for layer-by-layer traces.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any

from datrig.emulate.ir import FixedType
from datrig.errors import DatrigError
from datrig.export.precision import apply_precisions, derive_precisions
from datrig.firmware.config import FirmwareConfig

PROJECT_NAME = "myproject"
# hls4ml layers datrig cannot emulate or verify, with the QONNX pattern that produces them.
UNSUPPORTED_LAYERS = {
    "BatchNormalizationQuantizedTanh": "BatchNorm followed by a BipolarQuant (binary) activation",
}


def hls_config(qonnx_model: Any, fw: FirmwareConfig) -> dict[str, Any]:
    """hls4ml's per-layer config dict from the firmware config (precisions fixed later)."""
    import hls4ml

    with contextlib.redirect_stdout(io.StringIO()):
        cfg = hls4ml.utils.config_from_onnx_model(
            qonnx_model,
            granularity="name",
            backend=fw.backend,
            default_precision=fw.default_precision,
            default_reuse_factor=fw.reuse_factor,
        )
    cfg["Model"]["Strategy"] = fw.strategy
    cfg["Model"]["ReuseFactor"] = fw.reuse_factor
    for layer_cfg in cfg.get("LayerName", {}).values():
        layer_cfg["ReuseFactor"] = fw.reuse_factor
        layer_cfg["Trace"] = True
        if "Strategy" in layer_cfg:
            layer_cfg["Strategy"] = fw.strategy
    return cfg


def convert(
    qonnx_model: Any,
    fw: FirmwareConfig,
    output_dir: str | os.PathLike[str],
    input_type: FixedType | None = None,
) -> Any:
    """Convert and fix every type: derived exact precisions, then the config's overrides."""
    import hls4ml

    cfg = hls_config(qonnx_model, fw)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            hls_model = hls4ml.converters.convert_from_onnx_model(
                qonnx_model,
                output_dir=str(Path(output_dir)),
                project_name=PROJECT_NAME,
                backend=fw.backend,
                part=fw.part,
                clock_period=fw.clock_period_ns,
                io_type=fw.io_type,
                hls_config=cfg,
            )
    except Exception as exc:  # hls4ml raises bare Exceptions for unsupported layers
        raise DatrigError(f"hls4ml could not convert the QONNX model: {exc}") from None
    for layer in hls_model.get_layers():  # ONNX constant inputs (Reshape's shape) leave ''
        if layer.class_name in UNSUPPORTED_LAYERS:
            raise DatrigError(
                f"layer {layer.name} ({layer.class_name}, from "
                f"{UNSUPPORTED_LAYERS[layer.class_name]}) is not supported by datrig's emulator "
                "and verification; quantize activations with Quant (>= 2 bits) instead"
            )
        if "" in layer.inputs:
            layer.inputs = [name for name in layer.inputs if name]
    plan = derive_precisions(hls_model, input_type)
    for layer, types in fw.layer_precision.items():
        plan.setdefault(layer, {}).update(
            {_type_key(k): FixedType.parse(str(v)) for k, v in types.items()}
        )
    apply_precisions(hls_model, plan)
    return hls_model


def resolved_types(hls_model: Any) -> dict[str, dict[str, str]]:
    """Every layer's types as hls4ml strings, for the project sidecar."""
    return {
        layer.name: {name: str(t.precision) for name, t in layer.types.items()}
        for layer in hls_model.get_layers()
    }


def _type_key(name: str) -> str:
    return name if name.endswith("_t") else f"{name}_t"
