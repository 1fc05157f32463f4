"""Training a tree-ensemble model: the firmware grid from the data, trees grown on that grid,
an optional designed-decorrelation map, and the same run artefacts as a network's.

Steps (one run folder, staged and swapped into place like every run):

1. the input grid: each feature scaled so that ``input_coverage`` of the simulated training
   events spans [-1, 1), then ``ap_fixed<input_width,1>`` (saturating, round half to even)
   for all; the score grid: LSB
   ``2^-score_fractional``, integer bits from the largest reachable sum;
2. the trees (:mod:`datrig.train.tree_learners`: scikit-learn's histogram boosting, or
   hep_ml's uniform boosting for ``--da flat``) grown on the quantized features, so a split
   ``x <= t`` is the integer split ``m <= floor(t / lsb)`` exactly;
3. ``--da ddt``: a threshold map over (condition, protected) cells fitted on simulated events
   (the validation split, or with ``map_events`` the training split too;
   :func:`datrig.da.threshold_map.fit_threshold_map`), weighted; its edges and thresholds are
   put on the grids so that the integer map decides as the float one;
4. ``ensemble.json`` (the IR, data only), ``predictions_test.h5``, ``metrics.json`` and
   ``run.json`` last.

Signed event weights: the trees are grown with negative weights set to 0 (gradient boosting
needs non-negative hessians); the map and every metric use the signed weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from datrig.atomic import destination_lock, write_json
from datrig.da.threshold_map import fit_coarsening
from datrig.data.features import Normalisation
from datrig.data.manifest import dataset_file
from datrig.errors import DatrigError
from datrig.ir.fixed import FixedType, Overflow, Rounding
from datrig.ir.trees import EnsembleIR, ThresholdMapIR, quantize
from datrig.metrics.classifier import weighted_quantiles
from datrig.models.spec import ModelSpec
from datrig.models.trees import TreeSettings
from datrig.paths import predictions_path
from datrig.provenance import file_sha256, sidecar
from datrig.train import dataset as ds
from datrig.train.config import TrainConfig
from datrig.train.lifecycle import PARTIAL, RUN, RunFolder
from datrig.train.metrics import abcd_gap, run_metrics
from datrig.train.outputs import write_predictions
from datrig.train.tree_learners import (
    FittedEnsemble,
    fit_histgb,
    fit_uniform,
    quantize_ensemble,
    score_type,
)

ENSEMBLE_FILE = "ensemble.json"
TREE_VARIANTS = ("none", "ddt", "flat")  # flat: hep_ml's uniform boosting
ISO_QUANTILE = 0.9  # the toy's ABCD isolation cut: this quantile of the simulated photons


def range_normalisation(norm: Normalisation, z: np.ndarray, coverage: float) -> Normalisation:
    """The standardisation ``norm`` rescaled per feature so that the central ``coverage`` of
    the training values ``z`` (standardised) spans [-1, 1): every feature then uses the whole
    ``ap_fixed<W,1>`` grid, as CMS's L1 e/gamma BDT does, instead of one shared range wasting
    bits on the narrow features."""
    tail = (1.0 - coverage) / 2.0
    lo, hi = np.quantile(z, tail, axis=0), np.quantile(z, 1.0 - tail, axis=0)
    half = np.maximum((hi - lo) / 2.0, 1e-6) * (1.0 + 2.0**-10)  # the top value stays < 1
    mid = (hi + lo) / 2.0
    center = [c + s * m for c, s, m in zip(norm.center, norm.scale, mid, strict=True)]
    scale = [s * h for s, h in zip(norm.scale, half, strict=True)]
    return Normalisation(list(norm.features), list(norm.transforms), center, scale)


def input_type(settings: TreeSettings) -> FixedType:
    """``input_width`` bits on [-1, 1), round half to even, saturating beyond."""
    return FixedType(settings.input_width, 1, True, Rounding.RND_CONV, Overflow.SAT)


class EnsembleTrainer:
    """One tree-ensemble run of ``cfg`` into ``out_dir``."""

    def __init__(self, cfg: TrainConfig, spec: ModelSpec, out_dir: Path, force: bool) -> None:
        if spec.trees is None:
            raise DatrigError(f"model {spec.name} is not a tree ensemble")
        if cfg.da not in TREE_VARIANTS:
            raise DatrigError(
                f"--da {cfg.da} is a network penalty; a tree ensemble takes "
                f"{' or '.join(TREE_VARIANTS)} (ddt: a threshold map after the score)"
            )
        if cfg.da == "ddt" and (spec.condition is None or spec.task != "classification"):
            raise DatrigError("--da ddt needs a classifier with a condition variable (e.g. pT)")
        if cfg.da == "flat" and (spec.task != "classification" or spec.protected == "domain"):
            raise DatrigError("--da flat needs a classifier with a protected variable")
        self.cfg, self.spec, self.settings = cfg, spec, spec.trees
        self.folder = RunFolder(Path(out_dir), resume=False, force=force)
        data_dir = Path(cfg.data_dir)
        self.files = {"sim": dataset_file(data_dir, spec.kind, "sim")}
        no_data = cfg.task is not None and "data" not in cfg.task.get("sources", {})
        if not no_data:
            self.files["data"] = dataset_file(data_dir, spec.kind, "data")

    def _score_columns(self) -> list[int]:
        names = self.spec.feature_names
        return [i for i, n in enumerate(names) if n != self.spec.protected]

    def build(self, say: Any = print) -> tuple[EnsembleIR, Any, Any, dict[str, Any]]:
        cfg, spec, s = self.cfg, self.spec, self.settings
        standard = ds.fit_for(spec, self.files["sim"], cfg.n_train)
        z = ds.load_events(spec, self.files["sim"], "train", standard, cfg.n_train).inputs
        norm = range_normalisation(standard, z, s.input_coverage)
        train = ds.load_events(spec, self.files["sim"], "train", norm, cfg.n_train)
        t_in = input_type(s)
        lsb_in = t_in.lsb
        xq = quantize(train.inputs, t_in).astype(np.float64) * lsb_in
        score_cols = self._score_columns()
        target = train.label if spec.task == "classification" else train.target
        say(f"growing {s.n_trees} trees of depth {s.max_depth} on {len(xq):,} events ...")
        if cfg.da == "flat":
            model = fit_uniform(xq[:, score_cols], target, train.weight, train.protected, s,
                                cfg.seed)  # fmt: skip
        else:
            model = fit_histgb(xq[:, score_cols], target, train.weight, s, cfg.seed,
                               regression=spec.task == "regression")  # fmt: skip
        ir = quantize_ensemble(model, spec.name, spec.feature_names, t_in, s.score_fractional,
                               score_cols)  # fmt: skip
        info: dict[str, Any] = {"input_type": t_in.to_hls(), "score_type": ir.score_type.to_hls()}
        if cfg.da == "ddt":
            ir, info["threshold_map"] = self._with_map(ir, norm, train)
        ir.check(f"the ensemble of {spec.name}")
        return ir, norm, model, info

    def _with_map(
        self, ir: EnsembleIR, norm: Normalisation, train: ds.EventArrays
    ) -> tuple[EnsembleIR, dict[str, Any]]:
        """Fit the DDT map on the sim validation split (and ``train``, the trees' own events,
        with ``map_events``), on the firmware's own integers."""
        from datrig.emulate.trees import emulate_mantissas

        spec, s = self.spec, self.settings
        val = ds.load_events(spec, self.files["sim"], "val", norm)
        if s.map_events == "train+validation":  # 4x the events; the trees' bias is measured
            val = ds.EventArrays.concat([train, val])
        xv = quantize(val.inputs, ir.input_type)
        score = emulate_mantissas(ir, xv).astype(np.float64)
        names = spec.feature_names
        ci, pi = names.index(spec.condition), names.index(spec.protected)
        quantile = ISO_QUANTILE
        if self.cfg.task is not None:
            calibration = self.cfg.task.get("calibration", {})
            quantile = float(calibration.get("isolated_quantile", ISO_QUANTILE))
        sig = val.label == 1
        iso_cut = weighted_quantiles(val.protected[sig], [quantile], val.weight[sig])[0]
        gap = abcd_gap(self.cfg.task)
        abcd = norm.apply(_one_feature(norm, pi, [iso_cut, iso_cut + gap]))[:, pi]
        abcd_int = np.ceil(abcd / ir.input_type.lsb)  # x >= e on integers
        tmap = fit_coarsening(
            score, xv[:, ci], xv[:, pi], val.label,
            shapes=_coarser(s.map_condition_bins, s.map_protected_bins),
            efficiency=s.efficiency, weights=val.weight, protected_extra=tuple(abcd_int),
        )  # fmt: skip
        table = np.ceil(tmap.thresholds).astype(np.int64)  # s >= c on integers
        bound = ir.score_bound() + int(np.abs(table).max())
        t_out = score_type(bound, s.score_fractional)
        m = ThresholdMapIR(
            ci, pi, tuple(int(e) for e in tmap.condition_edges),
            tuple(int(e) for e in tmap.protected_edges),
            tuple(tuple(int(v) for v in row) for row in table),
        )  # fmt: skip
        mapped = EnsembleIR(ir.name, ir.features, ir.input_type, ir.score_type, t_out, ir.init,
                            ir.trees, m)  # fmt: skip
        return mapped, {"shape": list(m.shape), "background_pass": tmap.background_pass}

    def run(self, say: Any = print) -> dict[str, Any]:
        with destination_lock(self.folder.out_dir):
            try:
                return self._run(say)
            except BaseException:
                self.folder.discard_unresumable()
                raise

    def _run(self, say: Any) -> dict[str, Any]:
        from datrig.data.reader import read_rows
        from datrig.emulate.trees import emulate

        cfg, spec, work = self.cfg, self.spec, self.folder.work_dir
        self.folder.check()
        hashes = {k: file_sha256(p) for k, p in self.files.items()}
        self.folder.prepare()
        write_json(work / "config.json", {**cfg.to_dict(), "stage": PARTIAL.value})
        ir, norm, model, info = self.build(say)
        write_json(work / ENSEMBLE_FILE, ir.to_json())
        write_json(work / "normalisation.json", norm.to_dict())
        blocks, rows = [], []
        for path in self.files.values():
            blocks.append(ds.load_events(spec, path, "test", norm, cfg.n_test).inputs)
            rows.append(read_rows(path, "test")[: cfg.n_test])
        x, events = np.concatenate(blocks), np.concatenate(rows)
        xq = quantize(x, ir.input_type)
        out_quant = emulate(ir, xq)[:, 0]
        out_float = self._float_output(model, xq, ir)
        provenance = sidecar(stage="qat", seed=cfg.seed, inputs=self.files, model=spec.name,
                             da=cfg.da)  # fmt: skip
        if any(provenance["inputs"][k]["sha256"] != h for k, h in hashes.items()):
            raise DatrigError("input files changed during training; rerun on stable data")
        weights = events["weight"].astype(np.float64) if "weight" in events.dtype.names else None
        protected = tuple(p for p in (spec.protected, *spec.extra_protected) if p != "domain")
        metrics = run_metrics(
            spec.task, protected, {"float": out_float, "quant": out_quant}, events,
            cfg.metric_max_events, spec.condition, weights=weights,
            iso_gap=abcd_gap(cfg.task), regression=ds.regression_columns(spec),
        )  # fmt: skip
        metrics.update(model=spec.name, da=cfg.da, trees=len(ir.trees), depth=ir.max_depth,
                       firmware_types=info)  # fmt: skip
        attrs = {
            "model": spec.name, "da": cfg.da, "task": spec.task,
            "output_kind": spec.output_kind, "protected": spec.protected,
            **({"task_config": json.dumps(cfg.task, sort_keys=True)} if cfg.task else {}),
        }  # fmt: skip
        x_grid = xq.astype(np.float64) * ir.input_type.lsb  # what the firmware reads
        write_predictions(predictions_path(work), x_grid, events, out_float, out_quant, attrs)
        write_json(work / "metrics.json", metrics)
        write_json(work / RUN.marker, provenance)  # last: marks the run complete
        self.folder.swap_in()
        return metrics

    def _float_output(self, model: FittedEnsemble, xq: np.ndarray, ir: EnsembleIR) -> np.ndarray:
        """The library's float ensemble on the grid's inputs ``xq`` (mantissas; no leaf
        rounding) with the map: what rounding the leaves costs is the gap to the firmware's
        output."""
        raw = model.raw(xq[:, self._score_columns()].astype(np.float64) * ir.input_type.lsb)
        if ir.threshold_map is not None:
            from datrig.emulate.trees import map_thresholds

            raw = raw - map_thresholds(ir.threshold_map, xq) * ir.output_type.lsb
        return np.asarray(raw, dtype=np.float64)


def _coarser(n_cond: int, n_prot: int):
    """The map's bin counts from the configured ones down to 1 x 1, protected bins first:
    small samples get a coarser map rather than a failure (the shape is recorded)."""
    for c in range(n_cond, 0, -1):
        for p in range(n_prot, 0, -1):
            if c == n_cond or p == 1:
                yield c, p


def _one_feature(norm: Any, index: int, values: list[float]) -> np.ndarray:
    """Raw rows holding ``values`` in feature ``index`` (1 elsewhere), to normalise them."""
    rows = np.ones((len(values), len(norm.features)))
    rows[:, index] = values
    return rows


def train_ensemble(
    cfg: TrainConfig, spec: ModelSpec, out: Path, *, force: bool = False, say: Any = print
) -> dict[str, Any]:
    return EnsembleTrainer(cfg, spec, out, force).run(say)
