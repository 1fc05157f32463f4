"""Assemble the validation report: metrics.json, PNG plots and report.md for one or more models.

metrics.json layout::

    {model: {method: {"float": {...}, "quant": {...}, "firmware": {...},
                      "diff": {...firmware - float...}, "firmware_vs_quant": {...}},
             "baseline": {name: {...}}}}

"quant" is the Brevitas model as trained; "firmware" the bit-accurate emulator of the exported
hls4ml project. Infinite or undefined numbers are written as null.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from datrig.atomic import atomic_path, write_json
from datrig.data.schema import SHOWER_SHAPES
from datrig.errors import DatrigError
from datrig.jsonio import json_safe
from datrig.metrics import classifier as m
from datrig.metrics import decorrelation as dm
from datrig.provenance import sidecar
from datrig.train.predictions import PREDICTIONS_FILE, RunPredictions
from datrig.validate.compare import diff_metrics
from datrig.validate.cutbased import cross_fit_pass
from datrig.validate.decorrelation_bound import (
    conditional_rejection_bound,
    independent_rejection_bound,
)
from datrig.validate.energy_ceiling import energy_baselines
from datrig.validate.energy_table import resolution_table, table_markdown
from datrig.validate.evaluate import (
    EVALUATORS,
    FLATNESS_EFFICIENCY,
    ID_EFFICIENCIES,
    N_ISO_BINS,
    N_PT_TERCILES,
    ColumnResult,
    evaluate_energy,
    family,
    physical_output,
)
from datrig.validate.figures import model_figures
from datrig.validate.markdown import CONVENTIONS, model_markdown

N_ISO_SLICES_PER_PT_BIN = 5  # isolation slices of the pT-conditional bound
BOUND_FEATURES = (*SHOWER_SHAPES, "pt", "eta")  # photon_id's inputs (eta enters as |eta|)


@dataclass
class RunColumns:
    """One run's predictions and, when built, its emulated firmware output."""

    preds: RunPredictions
    firmware: np.ndarray | None = None

    def columns(self) -> dict[str, np.ndarray]:
        cols = {"float": self.preds.output_float, "quant": self.preds.output_quant}
        if self.firmware is not None:
            cols["firmware"] = self.firmware
        return cols


def _method_key(preds: RunPredictions, taken: set[str]) -> str:
    """The DA method's name; a second run of it is named after its folder (``ddt-seed2``)."""
    key = preds.da
    if key in taken:
        name = preds.run_dir.name
        key = name if name.startswith(f"{preds.da}-") else f"{preds.da}@{name}"
    while key in taken:
        key += "'"
    return key


def _order(methods: Sequence[str]) -> list[str]:
    """Methods in the penalty registry's order (``none`` first); unknown names last."""
    from datrig.da.registry import PENALTIES

    rank = {name: i for i, name in enumerate(PENALTIES)}
    return sorted(methods, key=lambda k: (rank.get(k.split("@")[0], len(rank)), k))


def _photon_id_baseline(
    preds: RunPredictions, seed: int
) -> tuple[dict[str, Any], dict[float, m.WorkingPoint], dict[str, Any]]:
    label, domain = preds.field("label"), preds.field("domain")
    iso = preds.field(preds.protected)
    out: dict[str, Any] = {}
    wps: dict[float, m.WorkingPoint] = {}
    curves: dict[str, Any] = {}
    for eff in ID_EFFICIENCIES:
        tag = round(eff * 100)
        passed, cuts = cross_fit_pass(preds.events, label, domain, eff, seed)
        out[f"cuts{tag}"] = [c.to_json() for c in cuts]
        for dname, dval in (("sim", 0), ("data", 1)):
            sel = domain == dval
            if not sel.any():
                continue
            sig, bkg = sel & (label == 1), sel & (label == 0)
            wp = m.WorkingPoint(math.nan, float(passed[sig].mean()), float(passed[bkg].mean()))
            out[f"eff_sig{tag}_{dname}"] = wp.eff_sig
            out[f"rejection{tag}_{dname}"] = wp.rejection
            if dname == "sim":
                wps[eff] = wp
                if eff == FLATNESS_EFFICIENCY:
                    edges = dm.quantile_bin_edges(iso[bkg], N_ISO_BINS)
                    e, err = dm.binned_efficiency(passed[bkg], iso[bkg], edges)
                    out["flatness_std_over_mean_sim"] = dm.flatness(e)["std_over_mean"]
                    out["rank_dcor_bkg_sim"] = dm.rank_distance_correlation(
                        passed[bkg].astype(float), iso[bkg]
                    )
                    curves["bkg_eff_vs_iso_sim"] = {"edges": edges, "eff": e, "err": err}
    return out, wps, curves


def bound_features(events: np.ndarray | Mapping[str, np.ndarray]) -> np.ndarray:
    """(N, len(BOUND_FEATURES)) float64 matrix of photon_id's inputs, eta as |eta|."""
    columns = [np.asarray(events[c], dtype=np.float64) for c in BOUND_FEATURES]
    columns[-1] = np.abs(columns[-1])
    return np.stack(columns, axis=1)


def _independence_bound(
    preds: RunPredictions, scores: Sequence[np.ndarray], seed: int
) -> tuple[dict[str, Any], dict]:
    """Best rejection at 80 % of any score independent of the protected variable among fakes,
    from the shower shapes + pT, |eta| (see :mod:`datrig.validate.decorrelation_bound`).

    The runs' own scores join the features: they are functions of the same information, so
    the estimate stays a bound for classifiers of it, and it can no longer fall below what a
    trained network already reaches in a slice (the learned estimate otherwise can).
    """
    sim = preds.field("domain") == 0
    extra = [np.asarray(score, dtype=np.float64)[sim] for score in scores]
    features = np.column_stack([bound_features(preds.events[sim]), *extra])
    bound = independent_rejection_bound(
        features,
        preds.field("label")[sim],
        preds.field(preds.protected)[sim],
        efficiency=FLATNESS_EFFICIENCY,
        n_slices=N_ISO_BINS,
        seed=seed,
    )
    tag = round(FLATNESS_EFFICIENCY * 100)
    with np.errstate(divide="ignore"):
        eff = 1.0 / bound.rejection_per_slice
    curve = {"edges": bound.edges, "eff": eff, "err": np.zeros_like(eff)}
    return bound.to_json(tag), curve


def pt_independence_bound(
    preds: RunPredictions, scores: Sequence[np.ndarray], seed: int
) -> dict[str, Any]:
    """Best rejection at 80 % of any score independent of isolation among fakes *at fixed pT*
    (pT terciles of the sim fakes): what a calibration in pT bins allows (see
    :func:`datrig.validate.decorrelation_bound.conditional_rejection_bound`)."""
    sim = preds.field("domain") == 0
    label = preds.field("label")[sim]
    pt = preds.field("pt")[sim]
    extra = [np.asarray(score, dtype=np.float64)[sim] for score in scores]
    bound = conditional_rejection_bound(
        np.column_stack([bound_features(preds.events[sim]), *extra]),
        label,
        preds.field(preds.protected)[sim],
        pt,
        efficiency=FLATNESS_EFFICIENCY,
        n_slices=N_ISO_SLICES_PER_PT_BIN,
        condition_edges=dm.quantile_bin_edges(pt[label == 0], N_PT_TERCILES),
        seed=seed,
    )
    return bound.to_json(str(round(FLATNESS_EFFICIENCY * 100)))


def build_report(
    runs: Sequence[RunColumns], out_dir: Path, *, seed: int, peers: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Compute every metric, write metrics.json, PNGs and report.md into ``out_dir``;
    ``peers``: peer methods (:mod:`datrig.validate.peers`) measured next to photon IDs."""
    if not runs:
        raise DatrigError("nothing to validate: no runs given")
    out_dir = Path(out_dir)
    by_model: dict[str, dict[str, RunColumns]] = {}
    for run in runs:
        methods = by_model.setdefault(run.preds.model, {})
        methods[_method_key(run.preds, set(methods))] = run
    metrics: dict[str, Any] = {}
    sections: list[str] = []
    for model, methods in sorted(by_model.items()):
        metrics[model], md = _model_report(model, methods, out_dir, seed)
        if family(next(iter(methods.values())).preds) == "photon_id":
            plane, plane_md = photon_id_plane(methods, out_dir / model, seed, peers)
            metrics[model]["plane"] = plane
            md += plane_md
            if next(iter(methods.values())).preds.inputs.ndim == 3:  # a cell-level ID
                metrics[model]["float_ceiling"], ceiling_md = float_ceiling(methods, seed)
                md += ceiling_md
        sections.append(md)
    metrics = json_safe(metrics)
    write_json(out_dir / "metrics.json", metrics)
    inputs = {
        f"{model}/{key}": run.preds.run_dir / PREDICTIONS_FILE
        for model, methods in by_model.items()
        for key, run in methods.items()
    }
    write_json(out_dir / "validate.json", sidecar(stage="validate", seed=seed, inputs=inputs))
    text = "# datrig validation report\n\n" + CONVENTIONS + "\n" + "\n".join(sections)
    with atomic_path(out_dir / "report.md") as tmp:  # last: its presence means complete
        tmp.write_text(text)
    return metrics


def _plane_output(run: RunColumns) -> np.ndarray:
    """The firmware's output where it was built, else the Brevitas model's."""
    return run.firmware if run.firmware is not None else run.preds.output_quant


def float_ceiling(methods: dict[str, RunColumns], seed: int) -> tuple[dict[str, Any], str]:
    """A cell-level ID's float ceiling next to the shower-shape MLP
    (:mod:`datrig.validate.cell_ceiling`), with every run's float and firmware R80 on the same
    simulated test events; a dataset that cannot give it is reported, not fatal."""
    from datrig.validate.cell_ceiling import ceiling_markdown, measure_ceiling

    runs: dict[str, dict[str, float]] = {}
    for key, run in methods.items():
        sim = run.preds.field("domain") == 0
        label = run.preds.field("label")[sim]
        cols = {"float": run.preds.output_float}
        if run.firmware is not None:
            cols["firmware"] = run.firmware
        runs[key] = {c: m.working_point(v[sim], label, 0.8).rejection for c, v in cols.items()}
    try:
        ceiling = measure_ceiling(next(iter(methods.values())).preds, seed)
    except DatrigError as exc:
        why = str(exc)
        return {"skipped": why, "runs": runs}, f"\n\nFloat ceiling: not measured ({why}).\n"
    return {**ceiling.to_json(), "runs": runs}, "\n".join([*ceiling_markdown(ceiling, runs), ""])


def photon_id_plane(
    methods: dict[str, RunColumns], fig_dir: Path, seed: int, peers: tuple[str, ...]
) -> tuple[dict[str, Any], str]:
    """R80 against the ABCD factor per pT tercile in both domains for every method, the peers
    fitted on the runs' training sample and the spread over training seeds, on the test
    events; returns (metrics, markdown section)."""
    from datrig.validate.peers import fit_peers, training_sample
    from datrig.validate.plane import plane_point, plane_table, plot_plane, seed_spread

    first = next(iter(methods.values())).preds
    if "pt" not in (first.events.dtype.names or ()):
        return {}, ""
    points = []
    for key, run in methods.items():
        points.append(plane_point(key, "firmware", _plane_output(run), first.events))
    lines = ["", f"### {first.model}: every method on the same test events", ""]
    skipped: dict[str, str] = {}
    if peers:
        sample, source = training_sample(first.run_dir, seed)
        if sample is None:
            skipped = {name: f"no training sample: {source}" for name in peers}
        else:
            fitted = fit_peers(sample, peers)
            skipped = fitted.skipped
            points += [
                plane_point(name, "peer", scorer(first.events), first.events)
                for name, scorer in fitted.scorers.items()
            ]
            lines.append(f"Peers fitted on the simulated train/validation events of `{source}`.")
    lines += [f"- {name}: not measured ({why})" for name, why in skipped.items()]
    lines += ["", *plane_table(points)]
    spread = seed_spread(points)
    if spread:
        lines += ["", "Spread over training seeds (methods named `<da>` and `<da>-seed<k>`):", ""]
        lines += [f"- {name}: {text}" for name, text in spread.items()]
    figure = plot_plane(points, fig_dir / "calibration_plane.png", f"{first.model}: test events")
    lines += ["", f"![calibration plane]({figure.relative_to(fig_dir.parent)})", ""]
    metrics = {"points": [p.to_json() for p in points], "seed_spread": spread, "skipped": skipped}
    return metrics, "\n".join(lines)


def _model_report(
    model: str, methods: dict[str, RunColumns], out_dir: Path, seed: int
) -> tuple[dict[str, Any], str]:
    first = next(iter(methods.values())).preds
    for run in methods.values():  # before any baseline: they use every run's outputs
        if run.preds.n_events != first.n_events:
            raise DatrigError(
                f"{run.preds.run_dir} has {run.preds.n_events} test events but "
                f"{first.run_dir} has {first.n_events}: runs of one model must share a test set"
            )
    fam = family(first)
    result: dict[str, Any] = {}
    baseline: dict[str, Any] = {}
    base_curves: dict[str, Any] = {}
    cut_wps: dict[float, m.WorkingPoint] = {}
    if fam == "photon_id":
        baseline["cut_based"], cut_wps, base_curves = _photon_id_baseline(first, seed)
        scores = [run.preds.output_float for run in methods.values()]
        baseline["independence_bound"], base_curves["independence_bound"] = _independence_bound(
            first, scores, seed
        )
        if "pt" in (first.events.dtype.names or ()):
            baseline["independence_bound_pt"] = pt_independence_bound(first, scores, seed)
    elif fam == "energy":
        energy_preds, trained_on = energy_baselines(first, seed)
        for name, e_pred in energy_preds.items():
            r = evaluate_energy(first, e_pred)
            baseline[name] = {**r.metrics, "trained_on": trained_on}
            base_curves[name] = r.curves
    columns: dict[tuple[str, str], ColumnResult] = {}
    for key in _order(list(methods)):
        run = methods[key]
        entry: dict[str, Any] = {}
        for column, output in run.columns().items():
            value = physical_output(run.preds, output)
            if fam == "photon_id":
                res = EVALUATORS[fam](run.preds, value, cut_wps)
            else:
                res = EVALUATORS[fam](run.preds, value)
            entry[column] = res.metrics
            columns[(key, column)] = res
        if run.firmware is not None:
            entry["diff"] = diff_metrics(entry["float"], entry["firmware"])
            delta = run.firmware - run.preds.output_quant
            entry["firmware_vs_quant"] = {
                "n_events_differ": int(np.count_nonzero(delta)),
                "max_abs_diff": float(np.max(np.abs(delta))),
            }
        result[key] = entry
    if baseline:
        result["baseline"] = baseline
    figures = model_figures(model, fam, columns, baseline, base_curves, out_dir / model)
    md = model_markdown(model, fam, result, figures, out_dir)
    if fam == "energy":  # after the summary: a per-bin table is not a method
        outputs = {k: physical_output(r.preds, _plane_output(r)) for k, r in methods.items()}
        result["resolution_table"] = resolution_table(
            first.events, {**energy_preds, **outputs}, seed
        )
        md += table_markdown(result["resolution_table"], _order(list(outputs)), trained_on)
    return result, md
