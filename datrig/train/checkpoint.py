"""Checkpoints: written atomically every epoch, loadable by later stages (export, validate).

Format (docs/artefacts.md section 2): ``{"model", "model_config", "state_dict",
"normalisation", "epoch"}`` plus ``da``, ``train_config``, ``optimizer``, ``penalty``,
``curves`` and ``complete`` for resuming.

A checkpoint is a file people share, and a pickle can run any code when it is loaded: datrig
loads checkpoints with ``torch.load(weights_only=True)``, which rebuilds tensors and plain
values (dict, list, tuple, str, int, float, bool, None) and nothing else, and it saves only
such values (:func:`save_checkpoint` checks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from datrig.atomic import atomic_path
from datrig.bounds import MAX_ELEMENTS, MAX_HIDDEN
from datrig.data.features import Normalisation
from datrig.errors import DatrigError, short
from datrig.models.registry import resolve_spec
from datrig.models.spec import ModelSpec
from datrig.paths import safe_name


@dataclass
class LoadedModel:
    """A trained model ready for inference/export: Brevitas network in eval mode."""

    model: nn.Module
    spec: ModelSpec
    config: dict[str, Any]  # model_config (n_inputs, hidden, quant, ...)
    normalisation: Normalisation
    train_config: dict[str, Any]
    epoch: int

    def model_input(self, inputs: np.ndarray) -> torch.Tensor:
        """Artefact-layout ``inputs`` -> the tensor the network takes ((N, F, cells) for GNN)."""
        from datrig.train.dataset import to_model_layout

        return to_model_layout(inputs, self.spec)

    def example_input(self) -> torch.Tensor:
        """A (1, ...) zero input in network layout, for tracing/export."""
        shape = (
            (1, self.config["n_inputs"], self.config["n_cells"])
            if self.spec.inputs == "cells"
            else (1, self.config["n_inputs"])
        )
        return torch.zeros(shape)


_PLAIN = (str, int, float, bool, type(None), torch.Tensor, torch.Size)


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Atomic and byte-reproducible: torch names the records of its zip archive after the
    file it is given, so it gets an open handle (records ``archive/...``), never the
    temporary file's name (which carries the pid). Only plain data is saved, so that
    :func:`read_checkpoint` can load it without unpickling objects."""
    _check_plain(payload, "checkpoint")
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(payload, fh)


def _check_plain(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, f"{where} key")
            _check_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
    elif not isinstance(value, _PLAIN):
        raise TypeError(  # a datrig bug: such a checkpoint could not be loaded back
            f"internal error: {where} is a {type(value).__name__}; checkpoints hold only "
            "tensors and plain values"
        )


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkpoint's dict, loaded without running code (``weights_only=True``)."""
    import pickle
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise DatrigError(f"{path}: no checkpoint; run `datrig qat` first")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive
        raise DatrigError(f"{path}: unreadable checkpoint (not a torch file); retrain")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise DatrigError(
            f"{path} holds Python objects besides tensors and plain values (written by an "
            "older datrig, or crafted); datrig does not load objects from files: retrain it "
            "with `datrig qat`"
        ) from None
    except Exception as exc:  # torch raises many types for corrupt files
        raise DatrigError(
            f"{path}: unreadable checkpoint ({type(exc).__name__}); retrain"
        ) from None
    if not isinstance(payload, dict):
        raise DatrigError(f"{path}: not a datrig checkpoint (a {type(payload).__name__})")
    missing = {"model", "model_config", "state_dict", "normalisation", "epoch"} - set(payload)
    if missing:
        raise DatrigError(f"{path}: not a datrig checkpoint (missing {sorted(missing)})")
    return payload


def load_checkpoint(path: str | os.PathLike[str]) -> LoadedModel:
    """The quantized Brevitas model of a run, in eval mode, with its spec and normalisation."""
    payload = read_checkpoint(path)
    train_config = payload.get("train_config")
    task = train_config.get("task") if isinstance(train_config, dict) else None
    spec = resolve_spec(safe_name(payload["model"], f"{path}: model"), task)
    config = payload["model_config"]
    _check_sizes(path, config)
    try:
        model = spec.build(config)
        model.load_state_dict(payload["state_dict"])
        normalisation = Normalisation.from_dict(payload["normalisation"])
        epoch = int(payload["epoch"])
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise DatrigError(
            f"{path}: the checkpoint does not match a {spec.name} model "
            f"({type(exc).__name__}: {short(str(exc).splitlines()[0] if str(exc) else exc)}); "
            "retrain it with `datrig qat`"
        ) from None
    model.eval()
    return LoadedModel(
        model=model,
        spec=spec,
        config=config,
        normalisation=normalisation,
        train_config=payload.get("train_config", {}),
        epoch=epoch,
    )


def _check_sizes(path: str | os.PathLike[str], config: object) -> None:
    """Layer widths declared in a checkpoint's model config are bounded before any tensor is
    allocated (a crafted width of 10^5 would ask torch for hundreds of GB)."""
    if not isinstance(config, dict):
        raise DatrigError(f"{path}: model_config is not a mapping; retrain it")
    stack = [(k, v) for k, v in config.items()]
    while stack:
        key, value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.items())
        elif isinstance(value, (list, tuple)):
            stack.extend((key, v) for v in value)
        elif isinstance(value, int) and not isinstance(value, bool):
            limit = MAX_HIDDEN if "hidden" in str(key) else MAX_ELEMENTS
            if not -MAX_ELEMENTS <= value <= limit:
                raise DatrigError(
                    f"{path}: model_config {key} = {value:,} is beyond datrig's limit "
                    f"({limit:,}); the checkpoint is damaged or crafted"
                )


def prepare_inputs(
    loaded: LoadedModel, path: str | os.PathLike[str], split: str | None = "test"
) -> np.ndarray:
    """Normalised network ``inputs`` (artefact layout, float32) of ``split`` of a dataset file."""
    from datrig.data.reader import open_dataset

    info = open_dataset(path)
    if info.kind != loaded.spec.kind:
        raise DatrigError(
            f"{path} holds {info.kind} events; "
            f"model {loaded.spec.name} needs a {loaded.spec.kind} file"
        )
    return loaded.normalisation.network_inputs(path, split)
