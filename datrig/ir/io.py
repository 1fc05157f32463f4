"""Save/load a NetworkIR as ``emulator_ir.json`` (structure, types) + ``emulator_ir.npz``
(integer mantissas of the constant tensors), both written atomically.

The JSON is written last and records the sha256 of the npz, so a crash between the two files
or a stray edit is detected at load time instead of silently emulating the wrong weights.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from datrig.atomic import atomic_path, write_json
from datrig.bounds import check_shape
from datrig.errors import DatrigError, SchemaError, short
from datrig.ir.fixed import FixedType
from datrig.ir.network import LayerIR, NetworkIR
from datrig.provenance import file_sha256

IR_JSON = "emulator_ir.json"
IR_NPZ = "emulator_ir.npz"
SCHEMA = "datrig-emulator-ir/2"  # 2: named arithmetic types in LayerIR.types


def _layer_to_json(layer: LayerIR) -> dict[str, Any]:
    return {
        "name": layer.name,
        "kind": layer.kind,
        "inputs": list(layer.inputs),
        "result_t": layer.result_t.to_json(),
        "shape": list(layer.shape),
        "attrs": layer.attrs,
        "tensor_types": {k: t.to_json() for k, t in layer.tensor_types.items()},
        "types": {k: t.to_json() for k, t in layer.types.items()},
        "tensors": sorted(layer.tensors),
    }


def save_ir(ir: NetworkIR, directory: str | os.PathLike[str]) -> Path:
    """Write ``directory/emulator_ir.{npz,json}``; returns the JSON path."""
    directory = Path(directory)
    arrays = {
        f"{i}/{key}": np.asarray(arr, dtype=np.int64)
        for i, layer in enumerate(ir.layers)
        for key, arr in layer.tensors.items()
    }
    npz_path = directory / IR_NPZ
    with atomic_path(npz_path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    doc = {
        "schema": SCHEMA,
        "name": ir.name,
        "outputs": list(ir.outputs),
        "meta": ir.meta,
        "layers": [_layer_to_json(layer) for layer in ir.layers],
        "npz_sha256": file_sha256(npz_path),
    }
    json_path = directory / IR_JSON
    write_json(json_path, doc)
    return json_path


def load_ir(directory: str | os.PathLike[str]) -> NetworkIR:
    """Read a NetworkIR written by :func:`save_ir` (checks schema and the npz hash)."""
    directory = Path(directory)
    json_path, npz_path = directory / IR_JSON, directory / IR_NPZ
    if not json_path.is_file() or not npz_path.is_file():
        raise SchemaError(
            f"{directory} has no {IR_JSON}/{IR_NPZ}; run `datrig export` (or `datrig import`) "
            "to create the project first"
        )
    try:
        doc = json.loads(json_path.read_text())
    except (ValueError, RecursionError) as exc:
        raise SchemaError(f"{json_path} is not valid JSON ({short(exc)}); re-export") from None
    if not isinstance(doc, dict):
        raise SchemaError(f"{json_path} is not an emulator IR record; re-export")
    if doc.get("schema") != SCHEMA:
        raise SchemaError(f"{json_path}: schema {short(doc.get('schema'))}, expected {SCHEMA!r}")
    if file_sha256(npz_path) != doc.get("npz_sha256"):
        raise SchemaError(f"{npz_path} does not match {json_path} (hash differs); re-export")
    try:
        with np.load(npz_path) as npz:
            layers = [
                LayerIR(
                    name=obj["name"],
                    kind=obj["kind"],
                    inputs=list(obj["inputs"]),
                    result_t=FixedType.from_json(obj["result_t"]),
                    shape=check_shape(obj["shape"], str(json_path), f"layer {i}"),
                    attrs=obj["attrs"],
                    tensors={k: npz[f"{i}/{k}"] for k in obj["tensors"]},
                    tensor_types={
                        k: FixedType.from_json(t) for k, t in obj["tensor_types"].items()
                    },
                    types={k: FixedType.from_json(t) for k, t in obj["types"].items()},
                )
                for i, obj in enumerate(doc["layers"])
            ]
        ir = NetworkIR(doc["name"], layers, list(doc["outputs"]), doc.get("meta", {}))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OSError) as exc:
        raise SchemaError(f"{json_path} is malformed ({short(exc)}); re-export") from None
    except DatrigError as exc:
        raise SchemaError(str(exc)) from None
    return ir
