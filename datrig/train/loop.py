"""The QAT loop: Adam, fixed epochs, one penalty, a checkpoint every epoch, then evaluation.

Determinism: shuffling uses ``default_rng([seed, epoch])`` and nothing else draws random numbers
after initialisation, so a resumed run is bit-identical to an uninterrupted one.

Integrity: a run is trained in a staging folder next to its destination
(``.<name>.datrig-partial``, where ``--resume`` finds an interrupted run) and swapped into place
only when training and evaluation have finished, so the previous complete run survives every
failure and a folder at the destination is always a complete run (its ``run.json`` is written
last). Writers of one run folder are serialised (:func:`datrig.atomic.destination_lock`): a
second ``qat`` to the same ``--out`` waits instead of sharing the staging folder. A non-finite
loss or weight stops training with a clear message; such a checkpoint is never written, let
alone marked complete.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from datrig.atomic import (
    ArtefactKind,
    check_replaceable,
    destination_lock,
    replace_dir,
    write_json,
)
from datrig.da.base import (
    FullBatch,
    Penalty,
    PenaltyInputs,
    PenaltySetup,
    RunData,
    TrainingEvents,
)
from datrig.da.registry import make_penalty
from datrig.data.features import Normalisation
from datrig.data.manifest import dataset_file
from datrig.errors import DatrigError
from datrig.faults import pause_point
from datrig.models.registry import resolve_spec
from datrig.paths import predictions_path
from datrig.provenance import file_sha256, sidecar
from datrig.quant.config import QuantConfig
from datrig.quant.cost import bit_widths, ebops
from datrig.runtime import configure_torch, seed_everything
from datrig.safefs import refuse_symlink
from datrig.train import dataset as ds
from datrig.train.checkpoint import read_checkpoint, save_checkpoint
from datrig.train.config import TrainConfig, lr_factor
from datrig.train.metrics import abcd_gap, run_metrics
from datrig.train.objective import class_weights, penalised, predict, subset, task_loss
from datrig.train.outputs import plot_curves, write_predictions
from datrig.train.resource import check_not_collapsed, param_groups

RUN = ArtefactKind("QAT run", "run.json", "qat")  # run.json: written last
PARTIAL = ArtefactKind("partial QAT run", "config.json", "qat")  # config.json: written first


class TrainingDiverged(DatrigError):
    """The loss or the weights became NaN/inf."""


def staging_dir(out_dir: Path) -> Path:
    """Where a run is trained before it replaces ``out_dir`` (and where --resume looks)."""
    return out_dir.parent / f".{out_dir.name}.datrig-partial"


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
        self.cfg, self.out_dir, self.resume, self.progress = cfg, Path(out_dir), resume, progress
        self.force = force
        self.spec = resolve_spec(cfg.model, cfg.task)
        self.work_dir = staging_dir(self.out_dir)
        self.ckpt_path = self.work_dir / "checkpoint.pt"
        data_dir = Path(cfg.data_dir)
        self.sim_path = dataset_file(data_dir, self.spec.kind, "sim")
        # a task may have no data source: only what needs data asks for it
        no_data = cfg.task is not None and "data" not in cfg.task.get("sources", {})
        self.data_path = None if no_data else dataset_file(data_dir, self.spec.kind, "data")

    # -- setup ---------------------------------------------------------------------------
    def _check_work_dir(self) -> None:
        """The staging folder is datrig's (a partial run) or absent: never delete other files."""
        w = self.work_dir
        refuse_symlink(w, "the run's staging folder")
        refuse_symlink(self.out_dir, "the run folder")
        if os.path.lexists(w) and not (w.is_dir() and (PARTIAL.owns(w) or not any(w.iterdir()))):
            raise DatrigError(
                f"{w} is not a partial datrig run; nothing was changed: remove it yourself or "
                "choose another --out"
            )

    def _prepare_work_dir(self) -> None:
        """Start (or keep, to resume) the staging folder."""
        if not self.resume and self.work_dir.exists():
            shutil.rmtree(self.work_dir)  # an abandoned partial of this very run: restart
        self.work_dir.mkdir(parents=True, exist_ok=True)

    def _resume_source(self) -> Path | None:
        """The checkpoint to continue: an interrupted run's, else a finished run's (to extend
        it with more epochs, which needs --force)."""
        if not self.resume:
            return None
        if self.ckpt_path.is_file():
            return self.ckpt_path
        finished = self.out_dir / "checkpoint.pt"
        return finished if finished.is_file() and RUN.owns(self.out_dir) else None

    def _resume_payload(self) -> dict[str, Any] | None:
        source = self._resume_source()
        if source is None:
            return None
        payload = read_checkpoint(source)
        previous = TrainConfig.from_dict(payload.get("train_config", {"model": payload["model"]}))
        changed = previous.differences(self.cfg)
        saved_inputs = payload.get("inputs", {})
        changed += [
            f"{name} data file {getattr(self, f'{name}_path')} (sha256 differs)"
            for name, sha in self.input_hashes.items()
            if saved_inputs.get(name) != sha
        ]
        if changed and not self.force:
            raise DatrigError(
                f"cannot resume {source}: it was trained with other settings or data "
                f"({'; '.join(changed)}); drop --resume to restart, use another --out, or add "
                "--force to continue with the new ones"
            )
        return payload

    def _load_training_data(self, norm: Normalisation, penalty: Penalty) -> None:
        cfg, spec = self.cfg, self.spec
        blocks = [ds.load_events(spec, self.sim_path, "train", norm, cfg.n_train)]
        self.uses_data_domain = penalty.needs_data_domain(spec)
        if self.uses_data_domain and self.data_path is None:
            raise DatrigError(
                f"penalty {cfg.da!r} needs unlabelled data events (for the domain), but the task "
                "has no data source; add sources: data: or choose another --da"
            )
        if self.uses_data_domain:  # unlabeled: labels and targets hidden
            blocks.append(
                ds.load_events(spec, self.data_path, "train", norm, cfg.n_train, hide_truth=True)
            )
        self.train = ds.EventArrays.concat(blocks)
        # what the data held, not what was asked for (--n-train is an upper limit)
        self.train_rows = {"sim": len(blocks[0])}
        if self.uses_data_domain:
            self.train_rows["data"] = len(blocks[1])
        self.val = ds.load_events(spec, self.sim_path, "val", norm, cfg.n_val)
        self.weights = class_weights(spec, self.train.label, self.train.weight)
        # toy samples (all weights 1) keep the unweighted arithmetic, byte for byte
        self.unit_weights = bool(np.all(self.train.weight == 1))
        self.val_weights = class_weights(
            spec, self.val.label, self.val.weight, require_both=self.cfg.task is None
        )

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
            config["compensation"] = branches
        return config

    # -- training ------------------------------------------------------------------------
    def _batch_step(self, idx: np.ndarray, penalty: Penalty, optimizer, lam: float):
        t = self.train
        x = ds.to_model_layout(t.inputs[idx], self.spec)
        label = torch.from_numpy(t.label[idx]).long()
        target = torch.from_numpy(np.nan_to_num(t.target[idx])).float()
        w = torch.from_numpy(self.weights[idx])
        e_raw = torch.from_numpy(t.e_raw[idx])
        w_event = torch.from_numpy(t.weight[idx])
        terms = self.model.forward_terms(x)
        out = terms.output
        task = task_loss(self.spec, terms.task, target, w) if w.sum() > 0 else out.new_zeros(())
        sel = subset(self.spec, label)
        protected = torch.from_numpy(t.protected[idx])
        domain = torch.from_numpy(t.domain[idx])
        condition = torch.from_numpy(t.condition[idx]) if self.spec.condition else None
        pin = PenaltyInputs(
            outputs=penalised(self.spec, out, e_raw)[sel],
            protected=protected[sel],
            weights=w_event[sel],
            latent=terms.latent,
            inputs=x,
            domain=domain,
            condition=None if condition is None else condition[sel],
            full=FullBatch(
                out, terms.task, terms.compensation, terms.score_latent, label, domain,
                protected, condition, None if self.unit_weights else w_event,
            ),
            model=self.model,
        )  # fmt: skip
        penalty.helper_step(pin)
        pen = penalty(pin)
        loss = task + lam * pen if lam else task
        if self.cfg.resource_lam:
            loss = loss + self.cfg.resource_lam * self._ebops() / self.ebops_ref
        if not torch.isfinite(loss):
            kept = (
                f"its last good checkpoint (not marked complete) is kept in {self.work_dir}"
                if self.ckpt_path.is_file()
                else "nothing was written"
            )
            raise TrainingDiverged(
                f"training diverged: the loss became {loss.item()} (task {task.item():.4g}, "
                f"penalty {pen.item():.4g}); lower --lr (now {self.cfg.lr:g}) or --lam (now "
                f"{lam:g}). The run was not written; {kept}"
            )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        self.model.after_optimizer_step()
        return task.item(), pen.item()

    def _val_loss(self) -> float:
        """Validation task loss (of the branch the task trains); keeps the outputs for the
        collapse check of the last epoch."""
        self.val_outputs = predict(self.model, self.val.inputs, self.spec, float_twin=False)
        task = predict(self.model, self.val.inputs, self.spec, float_twin=False, task=True)
        out, w = torch.from_numpy(task), torch.from_numpy(self.val_weights)
        return float(task_loss(self.spec, out, torch.from_numpy(self.val.target), w))

    def prepare(self) -> tuple[Penalty, torch.optim.Optimizer]:
        """Seed, load data, build (or restore) model, penalty and optimizer."""
        cfg, spec = self.cfg, self.spec
        configure_torch()
        seed_everything(cfg.seed)
        check_replaceable(self.out_dir, RUN)  # before any work: never overwrite foreign files
        self._check_work_dir()
        self.input_hashes = {name: file_sha256(p) for name, p in self._inputs().items()}
        payload = self._resume_payload()
        self._prepare_work_dir()
        if payload is not None:
            self.norm = Normalisation.from_dict(payload["normalisation"])
        else:
            self.norm = ds.fit_for(spec, self.sim_path, cfg.n_train)
        penalty = make_penalty(cfg.da, **cfg.penalty_options)
        penalty.check_model(spec.name, spec.condition, bool(spec.compensation_hidden))
        self._load_training_data(self.norm, penalty)
        self.model_config = self._model_config(self.norm, penalty)
        torch.manual_seed(cfg.seed)
        self.model = spec.build(self.model_config)
        self.ebops_ref = float(self._ebops().detach())  # the starting bit widths' cost
        seen = subset(spec, torch.from_numpy(self.train.label).long()).numpy()
        t = self.train
        penalty.setup(
            PenaltySetup(
                t.protected[seen],
                self.model.latent_width,
                int(np.prod(t.inputs.shape[1:])),
                condition=t.condition[seen] if spec.condition else None,
                events=TrainingEvents(t.label, t.domain, t.protected, t.condition),
            )
        )
        penalty.attach(RunData(Path(cfg.data_dir), self.norm, cfg.n_train, cfg.seed))
        if payload is not None:  # before the optimizer: Brevitas may re-create parameters on load
            self.model.load_state_dict(payload["state_dict"])
            penalty.load_checkpoint_state(payload["penalty"])
        optimizer = torch.optim.Adam(param_groups(self.model, penalty, cfg.lr), lr=cfg.lr)
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
        """One pass over the training events in a seed- and epoch-determined order."""
        cfg = self.cfg
        self.model.train()
        penalty.on_epoch_start(epoch)
        factor = lr_factor(cfg.lr_schedule, epoch, cfg.epochs)
        for group in optimizer.param_groups:
            group["lr"] = group.setdefault("base_lr", group["lr"]) * factor
        order = np.random.default_rng([cfg.seed, epoch]).permutation(len(self.train))
        sums = np.zeros(2)
        n_batches = 0
        for i in range(0, len(order), cfg.batch_size):
            sums += self._batch_step(order[i : i + cfg.batch_size], penalty, optimizer, cfg.lam)
            n_batches += 1
        self.curves["train_task"].append(float(sums[0] / n_batches))
        self.curves["train_penalty"].append(float(sums[1] / n_batches))
        val = self._val_loss()
        if not np.isfinite(val):
            raise TrainingDiverged(
                f"training diverged: the validation loss after epoch {epoch + 1} is {val} (the "
                f"network's outputs are no longer finite); lower --lr (now {cfg.lr:g}) or --lam "
                f"(now {cfg.lam:g}). The run was not written"
            )
        self.curves["val_task"].append(val)

    def _after_training(self, penalty: Penalty, optimizer: torch.optim.Optimizer) -> None:
        """The penalty's last step on the full sim validation split (e.g. the DDT refit), then
        the final checkpoint, marked so that a resumed run does not repeat it."""
        self.finished = True
        if type(penalty).after_training is Penalty.after_training:
            return  # nothing to do: the last epoch's checkpoint is the final one
        spec = self.spec
        val = ds.load_events(spec, self.sim_path, "val", self.norm)
        events = TrainingEvents(
            val.label, val.domain, val.protected, val.condition,
            inputs=ds.to_model_layout(val.inputs, spec),
            weight=None if self.unit_weights else val.weight,
        )  # fmt: skip
        penalty.after_training(self.model, events, self.cfg.seed)
        self.model.after_optimizer_step()
        self._val_loss()  # the collapse check of the final checkpoint sees the final network
        self._save(self.cfg.epochs - 1, penalty, optimizer)

    def _ebops(self) -> torch.Tensor:
        return ebops(self.model, self.model_config.get("n_cells", 1))

    def _save(self, epoch: int, penalty: Penalty, optimizer: torch.optim.Optimizer) -> None:
        if epoch + 1 == self.cfg.epochs:  # this epoch's validation outputs (train_epoch)
            check_not_collapsed(self.model, self.val_outputs, self.cfg.lam, self.cfg.resource_lam)
        bad = [n for n, t in self.model.state_dict().items() if not torch.isfinite(t).all()]
        if bad:
            raise TrainingDiverged(
                f"training diverged: non-finite weights in {', '.join(bad[:3])} after epoch "
                f"{epoch + 1}; lower --lr (now {self.cfg.lr:g}) or --lam (now {self.cfg.lam:g})"
            )
        save_checkpoint(
            self.ckpt_path,
            {
                "model": self.spec.name,
                "model_config": self.model_config,
                "state_dict": self.model.state_dict(),
                "normalisation": self.norm.to_dict(),
                "epoch": epoch + 1,
                "da": self.cfg.da,
                "train_config": self.cfg.to_dict(),
                "optimizer": optimizer.state_dict(),
                "penalty": penalty.checkpoint_state(),
                "curves": self.curves,
                "inputs": self.input_hashes,
                "complete": epoch + 1 == self.cfg.epochs,
                "finished": self.finished,
            },
        )
        pause_point(f"qat:saved-epoch-{epoch + 1}")

    def run(self) -> dict[str, Any]:
        with destination_lock(self.out_dir):
            try:
                return self._run()
            except BaseException:
                w = self.work_dir
                if w.exists() and not w.is_symlink() and not self.ckpt_path.is_file():
                    shutil.rmtree(w)  # nothing to resume from: leave nothing behind
                raise

    def _run(self) -> dict[str, Any]:
        cfg, spec = self.cfg, self.spec
        penalty, optimizer = self.prepare()
        write_json(
            self.work_dir / "config.json",
            {**cfg.to_dict(), "model_config": self.model_config, "stage": PARTIAL.value,
             "train_rows": self.train_rows},
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
        write_json(self.work_dir / "curves.json", self.curves)
        plot_curves(self.work_dir / "curves.png", self.curves, f"{spec.name} / {cfg.da}")
        metrics = self._evaluate(self.norm)
        write_json(  # the bit widths the run ended with (learned ones with --bits auto)
            self.work_dir / "config.json",
            {**cfg.to_dict(), "model_config": self.model_config, "stage": PARTIAL.value,
             "train_rows": self.train_rows, "bits": metrics["resource"]["bits"]},
        )  # fmt: skip
        pause_point("qat:before-swap")
        replace_dir(self.work_dir, self.out_dir, RUN)
        return metrics

    # -- evaluation ----------------------------------------------------------------------
    def _inputs(self) -> dict[str, Path]:
        """The run's event files by domain (a task without a data source has only sim)."""
        files = {"sim": self.sim_path}
        if self.data_path is not None:
            files["data"] = self.data_path
        return files

    def _evaluate(self, norm: Normalisation) -> dict[str, Any]:
        from datrig.data.reader import read_rows

        cfg, spec = self.cfg, self.spec
        provenance = sidecar(
            stage="qat",
            seed=cfg.seed,
            inputs=self._inputs(),
            model=spec.name,
            da=cfg.da,
        )
        changed = [
            k for k, h in self.input_hashes.items() if provenance["inputs"][k]["sha256"] != h
        ]
        if changed:
            raise DatrigError(
                f"input file(s) {', '.join(str(provenance['inputs'][k]['path']) for k in changed)} "
                "changed during training (re-simulated?); rerun datrig qat on stable data"
            )
        inputs, events = [], []
        for path in self._inputs().values():
            block = ds.load_events(spec, path, "test", norm, cfg.n_test)
            inputs.append(block.inputs)
            events.append(read_rows(path, "test")[: cfg.n_test])
        x = np.concatenate(inputs)
        rows = np.concatenate(events)
        out_quant = predict(self.model, x, spec, float_twin=False)
        out_float = predict(self.model, x, spec, float_twin=True)
        protected = (spec.protected, *spec.extra_protected)
        protected = tuple(p for p in protected if p != "domain")
        metrics = run_metrics(
            spec.task,
            protected,
            {"float": out_float, "quant": out_quant},
            rows,
            cfg.metric_max_events,
            spec.condition,
            weights=None if self.unit_weights else rows["weight"].astype(np.float64),
            iso_gap=abcd_gap(self.cfg.task),
            regression=ds.regression_columns(spec),
        )
        metrics["model"], metrics["da"], metrics["lam"] = spec.name, cfg.da, cfg.lam
        metrics["train_rows"] = self.train_rows
        metrics["resource"] = {
            "ebops": float(self._ebops().detach()),
            "ebops_at_start": self.ebops_ref,
            "bits": bit_widths(self.model),
        }
        write_predictions(
            predictions_path(self.work_dir),
            x,
            rows,
            out_float,
            out_quant,
            {
                "model": spec.name,
                "da": cfg.da,
                "task": spec.task,
                "output_kind": spec.output_kind,
                "protected": spec.protected,
                **({"task_config": json.dumps(cfg.task, sort_keys=True)} if cfg.task else {}),
            },
        )
        write_json(self.work_dir / "metrics.json", metrics)
        write_json(self.work_dir / RUN.marker, provenance)  # last: marks the run complete
        return metrics


def train(
    cfg: TrainConfig,
    out_dir: Path,
    resume: bool = False,
    progress: bool = True,
    force: bool = False,
) -> dict:
    """Train (or resume) one run and write all artefacts; returns the metrics dict."""
    return Trainer(cfg, out_dir, resume=resume, progress=progress, force=force).run()
