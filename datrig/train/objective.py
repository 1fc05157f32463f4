"""What the QAT loop minimises, per event: the task loss, the penalised quantity and its subset.

Kept apart from the loop (:mod:`datrig.train.loop`) so the loss definitions can be read and
tested on their own; ``predict`` is the one evaluation path of a trained network.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from datrig.errors import DatrigError
from datrig.models.spec import ModelSpec
from datrig.quant.float_twin import float_mode
from datrig.train import dataset as ds

EVAL_BATCH = 8192
HUBER_DELTA = 0.05  # energy-correction units; close to L1, so the loss targets the median


def penalised(spec: ModelSpec, out: torch.Tensor, e_raw: torch.Tensor) -> torch.Tensor:
    """The quantity the DA penalty decorrelates: the score, or the log predicted energy."""
    if spec.penalised == "score":
        return torch.sigmoid(out)
    return torch.log(out.clamp_min(1e-2) * e_raw)  # log predicted energy, GeV


def task_loss(spec: ModelSpec, out: torch.Tensor, target: torch.Tensor, w: torch.Tensor):
    """Weighted BCE (classifiers) or Huber (energy correction), averaged over the weights."""
    if spec.task == "classification":
        per_event = F.binary_cross_entropy_with_logits(out, target, reduction="none")
    else:
        per_event = F.huber_loss(out, target, reduction="none", delta=HUBER_DELTA)
    return (per_event * w).sum() / w.sum()


def subset(spec: ModelSpec, label: torch.Tensor) -> torch.Tensor:
    """The events the penalty sees (e.g. only fakes: decorrelation is asked of background)."""
    if spec.penalty_subset == "all":
        return torch.ones_like(label, dtype=torch.bool)
    return label == 0  # fakes / background; data-domain events carry label -1


def predict(
    model: torch.nn.Module, x: np.ndarray, spec: ModelSpec, float_twin: bool, task: bool = False
) -> np.ndarray:
    """Network output (N,) in eval mode, quantized or with quantization disabled; ``task``: the
    branch the task loss trains instead (the score branch of a compensated photon ID)."""
    output, task_branch = predict_branches(model, x, spec, float_twin)
    return task_branch if task else output


def predict_branches(
    model: torch.nn.Module, x: np.ndarray, spec: ModelSpec, float_twin: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(output, task branch) of :func:`predict` from one pass over ``x`` (the validation loss
    and the collapse check of every epoch need both)."""
    model.eval()
    outs: list[torch.Tensor] = []
    tasks: list[torch.Tensor] = []

    def run(xb: torch.Tensor) -> None:
        terms = model.forward_terms(xb)  # output: a threshold table's block included
        outs.append(terms.output.reshape(-1))
        tasks.append(terms.task.reshape(-1))

    with torch.no_grad():
        for i in range(0, len(x), EVAL_BATCH):
            xb = ds.to_model_layout(x[i : i + EVAL_BATCH], spec)
            if float_twin:
                with float_mode(model):
                    run(xb)
            else:
                run(xb)
    if not outs:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    return (
        torch.cat(outs).numpy().astype(np.float32),
        torch.cat(tasks).numpy().astype(np.float32),
    )


def class_weights(
    spec: ModelSpec, label: np.ndarray, weight: np.ndarray, require_both: bool = True
) -> np.ndarray:
    """Per-event weights of the task loss: the events' own (signed) weights, with signal and
    background balanced by their summed weights; unlabelled (data) events weigh 0. A split
    missing a class (a validation split of a tiny sample) is an error with ``require_both``,
    else that class is simply absent from its loss. With unit weights the balance is
    N / (2 N_class), exactly as before weights existed."""
    w = (label >= 0).astype(np.float32) * weight.astype(np.float32)
    if spec.task != "classification":
        if not float(w.astype(np.float64).sum()) > 0:
            raise DatrigError("the training split's weights sum to zero or less")
        return w
    total = float(w.astype(np.float64).sum())
    for c in (0, 1):
        w_c = float(w[label == c].astype(np.float64).sum())
        if not w_c > 0 and not require_both:
            continue
        if not w_c > 0:
            raise DatrigError(
                f"the training split's events with label {c} have a weight sum of {w_c:g}; "
                "the task loss needs a positive one per class"
            )
        w[label == c] *= np.float32(total / (2.0 * w_c))
    return w
