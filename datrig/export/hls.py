"""QONNX -> hls4ml ModelGraph with datrig's exact precisions and the firmware config applied,
then the C-simulation library compiled from it.

Conversion is deterministic: the same cleaned QONNX model and FirmwareConfig always give the
same project, down to hls4ml's "stamp" in the library name (derived from the content, not a
random uuid). The library is relocatable: hls4ml's C-simulation reads its weights at run time
from ``WEIGHTS_DIR``, which hls4ml's ``build_lib.sh`` sets to the absolute path of the build
folder (so a project built in a temporary folder and renamed into place looked for its weights
in a folder that no longer existed). datrig's build resolves it next to the loaded library
instead (:data:`WEIGHTS_DIR_HEADER`). Compiling the weights in as constants would also work,
but g++ -O3 then spends minutes folding them (measured: > 13 min for a 16-64-32-32-5 MLP).
Layer tracing is compiled in (guarded by ``#ifndef __SYNTHESIS__``, so vendor synthesis sees
the plain design); see :mod:`datrig.project.csim`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from datrig.errors import DatrigError, ToolMissingError
from datrig.export.precision import apply_precisions, derive_precisions
from datrig.ir.fixed import FixedType
from datrig.project.config import FirmwareConfig, format_precision
from datrig.project.meta import CsimInfo

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
            default_precision=format_precision(fw.default_precision),
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
        plan.setdefault(layer, {}).update(types)
    apply_precisions(hls_model, plan)
    return hls_model


def require_compiler() -> str:
    """Path of g++, or a ToolMissingError saying how to get it."""
    gxx = shutil.which("g++")
    if gxx is None:
        raise ToolMissingError(
            "g++ not found on PATH: C-simulation compiles hls4ml's C++ with it; install it "
            "(Debian/Ubuntu: apt-get install g++) and retry"
        )
    return gxx


WEIGHTS_DIR_HEADER = "datrig_weights_dir.h"
_WEIGHTS_DIR_CODE = """// Written by datrig. hls4ml C-simulation reads its weights at run time from
// WEIGHTS_DIR, which hls4ml's build_lib.sh sets to the absolute path of the folder it was
// built in. datrig resolves it next to the loaded library instead (firmware/weights beside
// firmware/<project>-<stamp>.so), so the project keeps working when moved or copied.
#ifndef DATRIG_WEIGHTS_DIR_H_
#define DATRIG_WEIGHTS_DIR_H_
#include <dlfcn.h>
#include <string>
static inline std::string datrig_weights_dir() {
    Dl_info info;
    if (dladdr(reinterpret_cast<void *>(&datrig_weights_dir), &info) && info.dli_fname) {
        std::string lib(info.dli_fname);
        return lib.substr(0, lib.find_last_of('/')) + "/weights";
    }
    return "weights";
}
#endif
"""


def compile_project(hls_model: Any, fw: FirmwareConfig) -> CsimInfo:
    """Write and compile the converted model's C-simulation library (relocatable, traceable)."""
    require_compiler()
    hls_model.config.trace_output = True
    out_dir = Path(hls_model.config.get_output_dir()).resolve()
    stamp = _content_stamp(hls_model, fw)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            hls_model.write()  # hls4ml's writer draws a random stamp here ...
            hls_model.config.config["Stamp"] = stamp  # ... datrig's is the content's
            _make_relocatable_and_reproducible(out_dir, stamp)
            _export_sizes(out_dir, hls_model)
            library = Path(hls_model.config.backend.compile(hls_model)).resolve()
    except Exception as exc:
        raise DatrigError(f"compiling the hls4ml C-simulation failed: {exc}") from None
    traced = {
        layer.name: int(layer.get_output_variable().size())
        for layer in hls_model.get_layers()
        if layer.get_attr("function_cpp", None) and layer.get_attr("trace", False)
    }
    return CsimInfo(
        library=str(library.relative_to(out_dir)),
        project_name=PROJECT_NAME,
        n_in=int(hls_model.get_input_variables()[0].size()),
        n_out=int(hls_model.get_output_variables()[0].size()),
        traced_layers=traced,
    )


def _make_relocatable_and_reproducible(out_dir: Path, stamp: str) -> None:
    """Point hls4ml's ``build_lib.sh`` at weights beside the library (see module docstring),
    and replace the random stamp and the temporary build folder hls4ml records with the
    content stamp and ``.``: the same export gives the same files, wherever it was built."""
    config = out_dir / "hls4ml_config.yml"
    lines = config.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("OutputDir:"):
            lines[i] = "OutputDir: ."
        elif line.startswith("Stamp:"):
            lines[i] = f"Stamp: '{stamp}'"
    config.write_text("\n".join(lines) + "\n")
    script = out_dir / "build_lib.sh"
    text = re.sub(r"(?m)^LIB_STAMP=.*$", f"LIB_STAMP={stamp}", script.read_text())
    absolute = 'WEIGHTS_DIR="\\"${BASEDIR}/firmware/weights\\""'
    includes = 'INCFLAGS="-Ifirmware/ap_types/"'
    if absolute not in text or includes not in text:
        raise DatrigError(f"{script}: unexpected hls4ml build script (WEIGHTS_DIR, INCFLAGS)")
    (out_dir / "firmware" / WEIGHTS_DIR_HEADER).write_text(_WEIGHTS_DIR_CODE)
    text = text.replace(absolute, 'WEIGHTS_DIR="datrig_weights_dir()"')
    text = text.replace(
        includes, f'INCFLAGS="-Ifirmware/ap_types/ -include firmware/{WEIGHTS_DIR_HEADER}"'
    )
    script.write_text(text)


SIZES_CODE = """
// Written by datrig: the library states its own input and output sizes (from the compiled
// defines), so a loader checks datrig_project.json against the code, not against itself.
extern "C" {{
unsigned long datrig_n_in() {{ return {n_in}; }}
unsigned long datrig_n_out() {{ return {n_out}; }}
}}
"""


def _export_sizes(out_dir: Path, hls_model: Any) -> None:
    bridge = out_dir / f"{PROJECT_NAME}_bridge.cpp"
    if not bridge.is_file():
        raise DatrigError(f"{bridge}: hls4ml wrote no C-simulation bridge; cannot compile")
    n_in = hls_model.get_input_variables()[0].size_cpp()
    n_out = hls_model.get_output_variables()[0].size_cpp()
    with open(bridge, "a") as fh:
        fh.write(SIZES_CODE.format(n_in=n_in, n_out=n_out))


def _content_stamp(hls_model: Any, fw: FirmwareConfig) -> str:
    """hls4ml names the library ``myproject-<stamp>.so`` with a random stamp; datrig derives
    it from what determines the library, so the same export gives the same file names."""
    digest = hashlib.sha256(json.dumps(fw.to_json(), sort_keys=True).encode())
    for layer in hls_model.get_layers():
        digest.update(layer.name.encode())
        for name, t in sorted(layer.types.items()):
            digest.update(f"{name}={t.precision}".encode())
        for name, var in sorted(layer.weights.items()):
            digest.update(name.encode())
            digest.update(str(var.data.tolist()).encode())
    return digest.hexdigest()[:8]


def resolved_types(hls_model: Any) -> dict[str, dict[str, str]]:
    """Every layer's types as hls4ml strings, for the project sidecar."""
    return {
        layer.name: {name: str(t.precision) for name, t in layer.types.items()}
        for layer in hls_model.get_layers()
    }
