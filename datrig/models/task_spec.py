"""A task file's network: the :class:`~datrig.models.spec.ModelSpec` a task implies.

A classification task with a protected variable and a condition is an ID to calibrate with
ABCD: its network is the two-branch design of :mod:`datrig.models.compensated` (a score that
never reads the protected variable, minus a compensation of the condition and the protected
variable), trained by default with the learned DDT, datrig's best fixed-condition
decorrelation; the condition and the protected variable are added to the inputs when the task
does not list them. A regression task predicts ``target / reference``, the correction of a raw
quantity (an energy), as photon_energy does.
"""

from __future__ import annotations

from datrig.data.features import Feature
from datrig.data.task import TaskConfig
from datrig.data.task_sections import TASK_EPOCHS
from datrig.models.compensated import build_id_mlp
from datrig.models.mlp import build_mlp
from datrig.models.spec import ModelSpec
from datrig.models.trees import TreeSettings, no_network


def spec_for_task(task: TaskConfig) -> ModelSpec:
    """The network, loss and penalty roles of ``task`` (see module docstring)."""
    features = [Feature(i.column, i.transform) for i in task.inputs]
    names = [f.column for f in features]
    classification = task.kind == "classification"
    calibrated = classification and task.protected is not None and task.condition is not None
    if calibrated:
        for column in (task.condition, task.protected):
            if column not in names:
                features.append(Feature(column))
                names.append(column)
    m = task.model
    shipped = "ddt" if calibrated else ("none" if task.protected is None else "disco")
    trees = None
    if m.kind == "bdt":  # the map after the score is the trees' DDT; no network penalty
        shipped = "ddt" if calibrated else "none"
        trees = TreeSettings(
            n_trees=m.trees, max_depth=m.depth, efficiency=task.calibration.efficiency
        )
    return ModelSpec(
        name=task.name,
        kind="task",  # type: ignore[arg-type]
        inputs=tuple(features),
        task=task.kind,  # type: ignore[arg-type]
        target="label" if classification else str(task.target),
        protected=task.protected or "domain",
        penalty_subset="fakes" if classification else "all",
        penalised="score" if classification else "energy",
        output_kind="logit" if classification else "energy_correction",
        family="photon_id" if classification else "energy",
        build=no_network if trees else (build_id_mlp if classification else build_mlp),
        hidden=tuple(m.hidden),
        shipped_da=m.penalty or shipped,
        condition=task.condition,
        default_epochs=TASK_EPOCHS if m.epochs is None else m.epochs,
        default_updates=m.updates,
        default_batch_size=m.batch_size,
        default_n_train=m.n_train,  # type: ignore[arg-type]
        default_lr=m.lr,
        default_lr_schedule=m.lr_schedule,
        output_init=0.0 if classification else 1.0,
        default_bits=m.bits,  # type: ignore[arg-type]
        default_resource_lam=0.1 if m.resource_lam is None else m.resource_lam,
        default_act_rounding=m.act_rounding,
        compensation_hidden=tuple(m.compensation_hidden) if calibrated and not trees else (),
        trees=trees,
        extra={"task": task.to_json(), "reference": task.reference},
    )
