"""Runs as cached artefacts: the resolved config of a run, and training only what is missing.

A run folder is current when it is a complete run (:data:`datrig.train.lifecycle.RUN`) whose
``config.json`` holds exactly the config this invocation would train with; ``datrig hls``,
``datrig validate`` and the scans all ask :func:`ensure_run`, so a run is trained once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

from datrig.da.registry import penalty_class
from datrig.models.registry import resolve_spec
from datrig.models.spec import ModelSpec
from datrig.quant.config import QuantConfig
from datrig.train.config import TrainConfig
from datrig.train.lifecycle import RUN
from datrig.train.loop import train


def resolve_quant(
    model: str,
    bits: int | str | None = None,
    weight_bits: int | None = None,
    act_bits: int | None = None,
    task: dict | None = None,
) -> QuantConfig:
    """Bit widths of a run: ``bits`` (an int, or "auto" for learned widths), else the model's
    (or task's) default; ``weight_bits``/``act_bits`` override (the start values when
    learned)."""
    spec = resolve_spec(model, task)
    if bits is None and weight_bits is None and act_bits is None:
        bits = spec.default_bits
    quant = QuantConfig(act_rounding=spec.default_act_rounding)
    if bits == "auto":
        quant = QuantConfig(**{**quant.to_dict(), "learned_bits": True})
    elif bits is not None:
        quant = quant.with_bits(int(bits))
    overrides = {"weight_bits": weight_bits, "act_bits": act_bits}
    return QuantConfig(
        **{**quant.to_dict(), **{k: v for k, v in overrides.items() if v is not None}}
    )


def default_epochs(
    spec: ModelSpec, data_dir: str | Path, batch_size: int, n_train: int | None
) -> int:
    """The model's training length on this dataset: ``default_epochs``, or with
    ``default_updates`` as many epochs as give that many updates over the simulated training
    candidates read (the last epoch completed)."""
    if spec.default_updates is None:
        return spec.default_epochs
    from datrig.data.manifest import dataset_file
    from datrig.data.reader import split_rows

    rows = split_rows(dataset_file(data_dir, spec.kind, "sim"), "train", n_train)
    per_epoch = max(math.ceil(rows / batch_size), 1)
    return max(math.ceil(spec.default_updates / per_epoch), 1)


def resolve_config(
    model: str,
    da: str,
    data_dir: str | Path,
    seed: int,
    *,
    lam: float | None = None,
    bits: int | str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    n_train: int | None = None,
    n_test: int | None = None,
    quant: QuantConfig | None = None,
    hidden: tuple[int, ...] | None = None,
    resource_lam: float | None = None,
    penalty_options: dict[str, float] | None = None,
    task: dict | None = None,
) -> TrainConfig:
    """The run's TrainConfig: every option left None takes the model's (or task's) or
    penalty's default (``quant``, when given, is used as is; else :func:`resolve_quant` of
    ``bits``). ``task``: the task file's JSON, for a run of a task."""
    spec = resolve_spec(model, task)
    quant = quant or resolve_quant(model, bits, task=task)
    task_lam = None if task is None else task.get("model", {}).get("lam")
    if lam is None and task_lam is not None and da == spec.shipped_da:
        lam = float(task_lam)  # the task's strength is that of its own penalty
    if resource_lam is None:
        resource_lam = spec.default_resource_lam if quant.learned_bits else 0.0
    batch_size = spec.default_batch_size if batch_size is None else batch_size
    n_train = spec.default_n_train if n_train is None else n_train
    if epochs is None:
        epochs = default_epochs(spec, data_dir, batch_size, n_train)
    return TrainConfig(
        model=spec.name,
        da=da,
        lam=penalty_class(da).lam_for(spec.name) if lam is None else lam,
        epochs=epochs,
        batch_size=batch_size,
        lr=spec.default_lr if lr is None else lr,
        lr_schedule=spec.default_lr_schedule,
        seed=seed,
        n_train=n_train,
        n_test=n_test,
        data_dir=str(data_dir),
        quant=quant.to_dict(),
        hidden=None if hidden is None else list(hidden),
        resource_lam=resource_lam,
        penalty_options=dict(penalty_options or {}),
        task=task,
    )


def run_data_dir(run_dir: str | Path) -> Path:
    """The dataset a run was trained on (its config.json ``data_dir``)."""
    from datrig.errors import DatrigError

    try:
        return Path(json.loads((Path(run_dir) / "config.json").read_text())["data_dir"])
    except (OSError, ValueError, KeyError, TypeError):
        raise DatrigError(f"{run_dir} has no readable config.json naming its data") from None


def run_is_current(out: str | Path, cfg: TrainConfig) -> bool:
    """A complete run of exactly ``cfg`` is at ``out``."""
    out = Path(out)
    if not RUN.owns(out):
        return False
    try:
        saved = json.loads((out / "config.json").read_text())
    except (OSError, ValueError):
        return False
    wanted = cfg.to_dict()
    return {key: saved.get(key) for key in wanted} == wanted


def ensure_run(
    cfg: TrainConfig,
    out: str | Path,
    *,
    force: bool = False,
    progress: bool = True,
    say: Callable[[str], None] = lambda message: None,
) -> Path:
    """Train ``cfg`` into ``out`` unless a complete run of the same config is there."""
    out = Path(out)
    if run_is_current(out, cfg) and not force:
        say(f"up to date: {out}")
        return out
    if resolve_spec(cfg.model, cfg.task).trees is not None:
        say(f"growing the {cfg.model} tree ensemble with --da {cfg.da} into {out}")
    else:
        say(f"training {cfg.model} with --da {cfg.da} (lam={cfg.lam:g}) into {out}")
    train(cfg, out, resume=False, progress=progress)
    return out


def run_identity(run_dir: str | Path) -> tuple[str, dict | None]:
    """(model name, task JSON or None) that a run records in its config.json."""
    from datrig.errors import DatrigError
    from datrig.paths import safe_name

    path = Path(run_dir) / "config.json"
    try:
        doc = json.loads(path.read_text())
        model = safe_name(doc["model"], f"{path}: model")
        task = doc.get("task")
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        raise DatrigError(f"{run_dir} is not a QAT run (no readable config.json)") from None
    if task is not None and not isinstance(task, dict):
        raise DatrigError(f"{path}: task is not a task record")
    return model, task


def model_file(run_dir: str | Path) -> Path:
    """The file a run's model is in: a network's ``checkpoint.pt`` or a tree ensemble's
    ``ensemble.json`` (what a calibration records the sha256 of)."""
    ensemble = Path(run_dir) / "ensemble.json"
    return ensemble if ensemble.is_file() else Path(run_dir) / "checkpoint.pt"
