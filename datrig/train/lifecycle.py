"""A run folder's life: staged next to its destination, resumable, swapped in when complete.

A run is trained in ``.<name>.datrig-partial`` (where ``--resume`` finds an interrupted run)
and replaces its destination only when training and evaluation have finished, so the previous
complete run survives every failure and a folder at the destination is always a complete run
(its ``run.json`` is written last). Only datrig's own partial run is ever deleted.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from datrig.atomic import ArtefactKind, check_replaceable, replace_dir
from datrig.errors import DatrigError
from datrig.safefs import refuse_symlink
from datrig.train.checkpoint import read_checkpoint, save_checkpoint
from datrig.train.config import TrainConfig

RUN = ArtefactKind("QAT run", "run.json", "qat")  # run.json: written last
PARTIAL = ArtefactKind("partial QAT run", "config.json", "qat")  # config.json: written first
CHECKPOINT = "checkpoint.pt"


def staging_dir(out_dir: Path) -> Path:
    """Where a run is trained before it replaces ``out_dir`` (and where --resume looks)."""
    return out_dir.parent / f".{out_dir.name}.datrig-partial"


class RunFolder:
    """The destination, its staging folder and the checkpoint in it."""

    def __init__(self, out_dir: Path, *, resume: bool, force: bool) -> None:
        self.out_dir = Path(out_dir)
        self.work_dir = staging_dir(self.out_dir)
        self.ckpt_path = self.work_dir / CHECKPOINT
        self.resume, self.force = resume, force

    def check(self) -> None:
        """Before any work: the destination is datrig's run (or absent) and the staging folder
        is datrig's partial run (or absent); never delete other files."""
        check_replaceable(self.out_dir, RUN)
        w = self.work_dir
        refuse_symlink(w, "the run's staging folder")
        refuse_symlink(self.out_dir, "the run folder")
        if os.path.lexists(w) and not (w.is_dir() and (PARTIAL.owns(w) or not any(w.iterdir()))):
            raise DatrigError(
                f"{w} is not a partial datrig run; nothing was changed: remove it yourself or "
                "choose another --out"
            )

    def prepare(self) -> None:
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
        finished = self.out_dir / CHECKPOINT
        return finished if finished.is_file() and RUN.owns(self.out_dir) else None

    def resume_payload(
        self, cfg: TrainConfig, input_hashes: dict[str, str], input_paths: dict[str, Path]
    ) -> dict[str, Any] | None:
        """The checkpoint to continue from, if resuming one made with these settings and data
        (or ``force``)."""
        source = self._resume_source()
        if source is None:
            return None
        payload = read_checkpoint(source)
        previous = TrainConfig.from_dict(payload.get("train_config", {"model": payload["model"]}))
        changed = previous.differences(cfg)
        saved_inputs = payload.get("inputs", {})
        changed += [
            f"{name} data file {input_paths[name]} (sha256 differs)"
            for name, sha in input_hashes.items()
            if saved_inputs.get(name) != sha
        ]
        if changed and not self.force:
            raise DatrigError(
                f"cannot resume {source}: it was trained with other settings or data "
                f"({'; '.join(changed)}); drop --resume to restart, use another --out, or add "
                "--force to continue with the new ones"
            )
        return payload

    def save(self, payload: dict[str, Any]) -> None:
        save_checkpoint(self.ckpt_path, payload)

    def swap_in(self) -> None:
        """The complete run replaces the destination (the last step)."""
        replace_dir(self.work_dir, self.out_dir, RUN)

    def discard_unresumable(self) -> None:
        """After a failure: nothing to resume from means nothing is left behind."""
        w = self.work_dir
        if w.exists() and not w.is_symlink() and not self.ckpt_path.is_file():
            shutil.rmtree(w)
