"""The training step: the task loss, the penalty and the resource term on one batch, and the
epoch that walks the training events in a seed- and epoch-determined order.

Determinism: shuffling uses ``default_rng([seed, epoch])`` and nothing else draws random
numbers after initialisation, so a resumed run is bit-identical to an uninterrupted one. A
non-finite loss stops training with a clear message before any checkpoint is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from datrig.da.base import FullBatch, Penalty, PenaltyInputs
from datrig.data.features import Normalisation
from datrig.errors import DatrigError
from datrig.quant.cost import QuantOutputs, QuantRecorder, ebops
from datrig.train import dataset as ds
from datrig.train.config import TrainConfig, lr_factor
from datrig.train.objective import (
    class_weights,
    penalised,
    predict_branches,
    subset,
    task_loss,
)


class TrainingDiverged(DatrigError):
    """The loss or the weights became NaN/inf."""


@dataclass
class TrainingData:
    """The events a run trains and validates on, with their class weights."""

    train: ds.EventArrays
    val: ds.EventArrays
    weights: np.ndarray
    val_weights: np.ndarray
    unit_weights: bool  # toy samples (all weights 1) keep the unweighted arithmetic
    train_rows: dict[str, int]  # what the data held (--n-train is an upper limit)
    uses_data_domain: bool


def load_training_data(
    spec: Any,
    cfg: TrainConfig,
    sim_path: Path,
    data_path: Path | None,
    norm: Normalisation,
    penalty: Penalty,
) -> TrainingData:
    """Sim training events, plus the unlabelled data events when the penalty reads them
    (labels and targets hidden), and the sim validation split."""
    blocks = [ds.load_events(spec, sim_path, "train", norm, cfg.n_train)]
    uses_data_domain = penalty.needs_data_domain(spec, cfg.penalty_options)
    if uses_data_domain and data_path is None:
        raise DatrigError(
            f"penalty {cfg.da!r} needs unlabelled data events (for the domain), but the task "
            "has no data source; add sources: data: or choose another --da"
        )
    if uses_data_domain:
        blocks.append(ds.load_events(spec, data_path, "train", norm, cfg.n_train, hide_truth=True))
    train = ds.EventArrays.concat(blocks)
    train_rows = {"sim": len(blocks[0])}
    if uses_data_domain:
        train_rows["data"] = len(blocks[1])
    val = ds.load_events(spec, sim_path, "val", norm, cfg.n_val)
    return TrainingData(
        train=train,
        val=val,
        weights=class_weights(spec, train.label, train.weight),
        val_weights=class_weights(spec, val.label, val.weight, require_both=cfg.task is None),
        unit_weights=bool(np.all(train.weight == 1)),
        train_rows=train_rows,
        uses_data_domain=uses_data_domain,
    )


class Step:
    """One model's optimisation: batches, epochs and the validation loss."""

    def __init__(
        self,
        spec: Any,
        cfg: TrainConfig,
        model: Any,
        data: TrainingData,
        model_config: dict[str, Any],
        kept_message: Any,
    ) -> None:
        self.spec, self.cfg, self.model, self.data = spec, cfg, model, data
        self.model_config = model_config
        self.kept_message = kept_message  # what a divergence leaves behind, said when it happens
        self.ebops_ref = float(self.ebops().detach())  # the starting bit widths' cost
        self.val_outputs: np.ndarray | None = None
        self.quantized = QuantRecorder(model) if cfg.resource_lam else None

    def ebops(self, seen: QuantOutputs | None = None) -> torch.Tensor:
        return ebops(self.model, self.model_config.get("n_cells", 1), seen)

    def batch(self, idx: np.ndarray, penalty: Penalty, optimizer: Any, lam: float):
        t, spec = self.data.train, self.spec
        x = ds.to_model_layout(t.inputs[idx], spec)
        label = torch.from_numpy(t.label[idx]).long()
        target = torch.from_numpy(np.nan_to_num(t.target[idx])).float()
        w = torch.from_numpy(self.data.weights[idx])
        e_raw = torch.from_numpy(t.e_raw[idx])
        w_event = torch.from_numpy(t.weight[idx])
        terms = self.model.forward_terms(x)
        seen = self.quantized.take() if self.quantized is not None else None
        out = terms.output
        task = task_loss(spec, terms.task, target, w) if w.sum() > 0 else out.new_zeros(())
        sel = subset(spec, label)
        protected = torch.from_numpy(t.protected[idx])
        domain = torch.from_numpy(t.domain[idx])
        condition = torch.from_numpy(t.condition[idx]) if spec.condition else None
        pin = PenaltyInputs(
            outputs=penalised(spec, out, e_raw)[sel],
            protected=protected[sel],
            weights=w_event[sel],
            latent=terms.latent,
            inputs=x,
            domain=domain,
            condition=None if condition is None else condition[sel],
            full=FullBatch(
                out, terms.task, terms.compensation, terms.score_latent, label, domain,
                protected, condition, None if self.data.unit_weights else w_event,
            ),
            model=self.model,
        )  # fmt: skip
        penalty.helper_step(pin)
        pen = penalty(pin)
        loss = task + lam * pen if lam else task
        if self.cfg.resource_lam:
            loss = loss + self.cfg.resource_lam * self.ebops(seen) / self.ebops_ref
        if not torch.isfinite(loss):
            raise TrainingDiverged(
                f"training diverged: the loss became {loss.item()} (task {task.item():.4g}, "
                f"penalty {pen.item():.4g}); lower --lr (now {self.cfg.lr:g}) or --lam (now "
                f"{lam:g}). The run was not written; {self.kept_message()}"
            )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        self.model.after_optimizer_step()
        return task.item(), pen.item()

    def val_loss(self) -> float:
        """Validation task loss (of the branch the task trains); keeps the outputs for the
        collapse check of the last epoch."""
        val, spec = self.data.val, self.spec
        self.val_outputs, task = predict_branches(self.model, val.inputs, spec, float_twin=False)
        out, w = torch.from_numpy(task), torch.from_numpy(self.data.val_weights)
        return float(task_loss(spec, out, torch.from_numpy(val.target), w))

    def epoch(
        self, epoch: int, penalty: Penalty, optimizer: Any, curves: dict[str, list[float]]
    ) -> None:
        """One pass over the training events in a seed- and epoch-determined order."""
        cfg = self.cfg
        self.model.train()
        penalty.on_epoch_start(epoch)
        factor = lr_factor(cfg.lr_schedule, epoch, cfg.epochs)
        for group in optimizer.param_groups:
            group["lr"] = group.setdefault("base_lr", group["lr"]) * factor
        order = np.random.default_rng([cfg.seed, epoch]).permutation(len(self.data.train))
        sums = np.zeros(2)
        n_batches = 0
        for i in range(0, len(order), cfg.batch_size):
            sums += self.batch(order[i : i + cfg.batch_size], penalty, optimizer, cfg.lam)
            n_batches += 1
        curves["train_task"].append(float(sums[0] / n_batches))
        curves["train_penalty"].append(float(sums[1] / n_batches))
        val = self.val_loss()
        if not np.isfinite(val):
            raise TrainingDiverged(
                f"training diverged: the validation loss after epoch {epoch + 1} is {val} (the "
                f"network's outputs are no longer finite); lower --lr (now {cfg.lr:g}) or --lam "
                f"(now {cfg.lam:g}). The run was not written"
            )
        curves["val_task"].append(val)
