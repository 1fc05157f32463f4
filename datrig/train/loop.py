"""The QAT loop: Adam, fixed epochs, one penalty, a checkpoint every epoch, then evaluation.

The trainer only orchestrates three parts: the run folder's life (staging, resume, the swap
into place: :mod:`datrig.train.lifecycle`), the step (task loss, penalty, resource term:
:mod:`datrig.train.step`) and the evaluation and writing (:mod:`datrig.train.evaluation`).
Writers of one run folder are serialised (:func:`datrig.atomic.destination_lock`): a second
``qat`` to the same ``--out`` waits instead of sharing the staging folder. A non-finite loss
or weight stops training with a clear message; such a checkpoint is never written, let alone
marked complete.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from datrig.atomic import destination_lock, write_json
from datrig.da.base import Penalty, PenaltySetup, RunData, TrainingEvents
from datrig.da.registry import make_penalty
from datrig.data.features import Normalisation
from datrig.data.manifest import dataset_file
from datrig.faults import pause_point
from datrig.models.registry import resolve_spec
from datrig.provenance import file_sha256
from datrig.quant.config import QuantConfig
from datrig.runtime import configure_torch, seed_everything
from datrig.train import dataset as ds
from datrig.train.config import TrainConfig
from datrig.train.evaluation import evaluate_and_write
from datrig.train.lifecycle import PARTIAL, RunFolder
from datrig.train.objective import subset
from datrig.train.outputs import plot_curves
from datrig.train.resource import check_not_collapsed, param_groups
from datrig.train.step import Step, TrainingDiverged, load_training_data

__all__ = ["Trainer", "train"]


class Trainer:
    """One run; ``run()`` trains (or resumes) and writes every artefact into ``out_dir``."""

    def __init__(
        self,
        cfg: TrainConfig,
        out_dir: Path,
        resume: bool = False,
        progress: bool = True,
        force: bool = False,
    ):
        self.cfg, self.progress = cfg, progress
        self.folder = RunFolder(Path(out_dir), resume=resume, force=force)
        self.spec = resolve_spec(cfg.model, cfg.task)
        data_dir = Path(cfg.data_dir)
        self.sim_path = dataset_file(data_dir, self.spec.kind, "sim")
        # a task may have no data source: only what needs data asks for it
        no_data = cfg.task is not None and "data" not in cfg.task.get("sources", {})
        self.data_path = None if no_data else dataset_file(data_dir, self.spec.kind, "data")

    def _inputs(self) -> dict[str, Path]:
        """The run's event files by domain (a task without a data source has only sim)."""
        files = {"sim": self.sim_path}
        if self.data_path is not None:
            files["data"] = self.data_path
        return files

    def _model_config(self, norm: Normalisation, penalty: Penalty) -> dict[str, Any]:
        quant = QuantConfig.from_dict(self.cfg.quant) if self.cfg.quant else QuantConfig()
        if self.spec.output_kind == "energy_correction":
            quant = QuantConfig.from_dict({**quant.to_dict(), "output_max": 4.0})
        config: dict[str, Any] = {
            "n_inputs": len(norm.features),
            "hidden": list(self.cfg.hidden or self.spec.hidden),
            "quant": quant.to_dict(),
            "output_init": self.spec.output_init,
        }
        if self.spec.inputs == "cells":
            config["n_cells"] = norm.n_cells
            config["head"] = list(self.spec.extra.get("head", ()))
        branches = self.spec.compensation_config(compensated=penalty.needs_compensation)
        if branches is not None:
            if getattr(penalty, "fits_table", False):
                branches = {**branches, "table": True}
            config["compensation"] = branches
        return config

    def _kept(self) -> str:
        if self.folder.ckpt_path.is_file():
            return (
                f"its last good checkpoint (not marked complete) is kept in {self.folder.work_dir}"
            )
        return "nothing was written"

    def prepare(self) -> tuple[Penalty, torch.optim.Optimizer]:
        """Seed, load data, build (or restore) model, penalty and optimizer."""
        cfg, spec = self.cfg, self.spec
        configure_torch()
        seed_everything(cfg.seed)
        self.folder.check()  # before any work: never overwrite foreign files
        self.input_hashes = {name: file_sha256(p) for name, p in self._inputs().items()}
        payload = self.folder.resume_payload(cfg, self.input_hashes, self._inputs())
        self.folder.prepare()
        if payload is not None:
            self.norm = Normalisation.from_dict(payload["normalisation"])
        else:
            self.norm = ds.fit_for(spec, self.sim_path, cfg.n_train)
        penalty = make_penalty(cfg.da, **cfg.penalty_options)
        penalty.check_model(spec.name, spec.condition, bool(spec.compensation_hidden))
        data = load_training_data(spec, cfg, self.sim_path, self.data_path, self.norm, penalty)
        self.model_config = self._model_config(self.norm, penalty)
        torch.manual_seed(cfg.seed)
        model = spec.build(self.model_config)
        self.step = Step(spec, cfg, model, data, self.model_config, self._kept)
        seen = subset(spec, torch.from_numpy(data.train.label).long()).numpy()
        t = data.train
        penalty.setup(
            PenaltySetup(
                t.protected[seen],
                model.latent_width,
                int(np.prod(t.inputs.shape[1:])),
                condition=t.condition[seen] if spec.condition else None,
                events=TrainingEvents(t.label, t.domain, t.protected, t.condition),
            )
        )
        penalty.attach(RunData(Path(cfg.data_dir), self.norm, cfg.n_train, cfg.seed))
        if payload is not None:  # before the optimizer: Brevitas may re-create parameters on load
            model.load_state_dict(payload["state_dict"])
            penalty.load_checkpoint_state(payload["penalty"])
        optimizer = torch.optim.Adam(param_groups(model, penalty, cfg.lr), lr=cfg.lr)
        self.curves: dict[str, list[float]] = {
            "train_task": [],
            "train_penalty": [],
            "val_task": [],
        }
        self.start_epoch = 0
        self.finished = False  # the penalty's after-training step is done
        if payload is not None:
            optimizer.load_state_dict(payload["optimizer"])
            self.curves = payload["curves"]
            self.start_epoch = int(payload["epoch"])
            self.finished = bool(payload.get("finished", False))
        return penalty, optimizer

    def train_epoch(self, epoch: int, penalty: Penalty, optimizer: torch.optim.Optimizer) -> None:
        self.step.epoch(epoch, penalty, optimizer, self.curves)

    def _after_training(self, penalty: Penalty, optimizer: torch.optim.Optimizer) -> None:
        """The penalty's last step on the sim splits it asks for (:meth:`Penalty.refit_splits`:
        the validation split unless it wants more; e.g. the DDT refit), then the final
        checkpoint, marked so that a resumed run does not repeat it."""
        self.finished = True
        if type(penalty).after_training is Penalty.after_training:
            return  # nothing to do: the last epoch's checkpoint is the final one
        spec, step = self.spec, self.step
        blocks = [
            ds.load_events(spec, self.sim_path, split, self.norm,
                           self.cfg.n_train if split == "train" else None)
            for split in penalty.refit_splits()
        ]  # fmt: skip
        sim = ds.EventArrays.concat(blocks)
        events = TrainingEvents(
            sim.label, sim.domain, sim.protected, sim.condition,
            inputs=ds.to_model_layout(sim.inputs, spec),
            weight=None if step.data.unit_weights else sim.weight,
        )  # fmt: skip
        penalty.after_training(step.model, events, self.cfg.seed)
        step.model.after_optimizer_step()
        step.val_loss()  # the collapse check of the final checkpoint sees the final network
        self._save(self.cfg.epochs - 1, penalty, optimizer)

    def _save(self, epoch: int, penalty: Penalty, optimizer: torch.optim.Optimizer) -> None:
        model, cfg = self.step.model, self.cfg
        if epoch + 1 == cfg.epochs:  # this epoch's validation outputs (train_epoch)
            check_not_collapsed(model, self.step.val_outputs, cfg.lam, cfg.resource_lam)
        bad = [n for n, t in model.state_dict().items() if not torch.isfinite(t).all()]
        if bad:
            raise TrainingDiverged(
                f"training diverged: non-finite weights in {', '.join(bad[:3])} after epoch "
                f"{epoch + 1}; lower --lr (now {cfg.lr:g}) or --lam (now {cfg.lam:g})"
            )
        self.folder.save(
            {
                "model": self.spec.name,
                "model_config": self.model_config,
                "state_dict": model.state_dict(),
                "normalisation": self.norm.to_dict(),
                "epoch": epoch + 1,
                "da": cfg.da,
                "train_config": cfg.to_dict(),
                "optimizer": optimizer.state_dict(),
                "penalty": penalty.checkpoint_state(),
                "curves": self.curves,
                "inputs": self.input_hashes,
                "complete": epoch + 1 == cfg.epochs,
                "finished": self.finished,
            },
        )
        pause_point(f"qat:saved-epoch-{epoch + 1}")

    def run(self) -> dict[str, Any]:
        with destination_lock(self.folder.out_dir):
            try:
                return self._run()
            except BaseException:
                self.folder.discard_unresumable()
                raise

    def _run(self) -> dict[str, Any]:
        cfg, spec, work = self.cfg, self.spec, self.folder.work_dir
        penalty, optimizer = self.prepare()
        train_rows = self.step.data.train_rows
        write_json(
            work / "config.json",
            {**cfg.to_dict(), "model_config": self.model_config, "stage": PARTIAL.value,
             "train_rows": train_rows},
        )  # fmt: skip
        bar = tqdm(
            range(self.start_epoch, cfg.epochs),
            desc=f"qat {spec.name}/{cfg.da}",
            unit="epoch",
            file=sys.stderr,
            disable=not self.progress,
            initial=self.start_epoch,
            total=cfg.epochs,
        )
        for epoch in bar:
            self.train_epoch(epoch, penalty, optimizer)
            bar.set_postfix(
                task=f"{self.curves['train_task'][-1]:.4f}",
                penalty=f"{self.curves['train_penalty'][-1]:.4f}",
                val=f"{self.curves['val_task'][-1]:.4f}",
            )
            self._save(epoch, penalty, optimizer)
        bar.close()
        if not self.finished:
            self._after_training(penalty, optimizer)
        write_json(work / "curves.json", self.curves)
        plot_curves(work / "curves.png", self.curves, f"{spec.name} / {cfg.da}")
        metrics = evaluate_and_write(self.step, self.norm, self._inputs(), self.input_hashes, work)
        write_json(  # the bit widths the run ended with (learned ones with --bits auto)
            work / "config.json",
            {**cfg.to_dict(), "model_config": self.model_config, "stage": PARTIAL.value,
             "train_rows": train_rows, "bits": metrics["resource"]["bits"]},
        )  # fmt: skip
        pause_point("qat:before-swap")
        self.folder.swap_in()
        return metrics


def _say(message: str) -> None:
    print(f"qat: {message}", file=sys.stderr, flush=True)


def _quiet(message: str) -> None:
    pass


def train(
    cfg: TrainConfig,
    out_dir: Path,
    resume: bool = False,
    progress: bool = True,
    force: bool = False,
) -> dict:
    """Train (or resume) one run and write all artefacts; returns the metrics dict. A tree
    ensemble is grown instead (:mod:`datrig.train.trees`; nothing to resume)."""
    spec = resolve_spec(cfg.model, cfg.task)
    if spec.trees is not None:
        from datrig.train.trees import train_ensemble

        return train_ensemble(cfg, spec, out_dir, force=force, say=_quiet if not progress else _say)
    return Trainer(cfg, out_dir, resume=resume, progress=progress, force=force).run()
