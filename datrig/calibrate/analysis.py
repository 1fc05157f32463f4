"""One calibration: regions and bins from simulation, the measurement in data, its closure.

Everything the measurement needs from simulation (working point, isolation cut, bins, photon
leakage fractions, the ABCD factor R for the corrected variant) comes from the ``sim`` events
with their labels; from ``data`` it takes only the candidates' scores, isolation and
kinematics. Data labels enter only the truth the estimates are compared with (closure), in
separate counts, so permuting them moves the closure and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from datrig.calibrate.binning import Binning, condition_binning, fit_binnings
from datrig.calibrate.measure import (
    LI,
    LN,
    MI,
    MIN_COUNT,
    TI,
    TN,
    abcd_factors,
    band_regions,
    bootstrap_counts,
    check_counts,
    estimate,
    too_few,
)
from datrig.errors import DatrigError
from datrig.metrics.decorrelation import AbcdRegions

N_REGIONS = 6


@dataclass(frozen=True)
class Settings:
    id_efficiency: float = 0.8  # tight ID: this fraction of simulated photons passes
    # control band: scores below this photon efficiency. Far from the photons, so that their
    # leakage into it (taken from simulation) is small: at 0.98 the data's lower ID efficiency
    # put 50 % more photons there than simulation predicts and biased the high-pT fake estimate
    # by +18 % (flat, 1M events); at 0.998 the bias is gone and the efficiency is within 0.7 %
    control_efficiency: float = 0.998
    iso_quantile: float = 0.9  # isolated: below this quantile of simulated photons' iso_calo
    iso_gap: float = 2.0  # GeV between isolated and non-isolated
    n_replicas: int = 200  # bootstrap replicas for statistical uncertainties
    seed: int = 1
    binnings: tuple[str, ...] = ("pt", "pt_eta", "cluster")  # which calibration bins
    peers: tuple[str, ...] = ()  # peer methods on the same candidates (datrig.validate.peers)
    # the plane's variables: the protected one (isolation) and the condition of the bins (pT);
    # a task names its own
    protected: str = "iso_calo"
    condition: str = "pt"
    # a bin with too few events in a region: an error (the toy's default), or reported as not
    # measured while the other bins are (a task's calibration)
    strict_counts: bool = True
    # the toy's bins (pT, pT x |eta|, clusters of its conditions), or a task's condition alone
    toy_binnings: bool = True


@dataclass
class Sample:
    """Candidates of one domain: their rows (pt, eta, iso_calo, label, ...) and firmware score;
    ``weight``: their (signed) event weights, None for unit weights; ``truth``: whether their
    labels are known (the toy's data; never real data), for closure only."""

    events: np.ndarray
    score: np.ndarray
    weight: np.ndarray | None = None
    truth: bool = True

    def __post_init__(self) -> None:
        if len(self.events) != len(self.score):
            raise DatrigError("calibration: one firmware score per candidate is needed")
        if len(self.events) == 0:
            raise DatrigError("calibration: no candidates to evaluate")
        if self.weight is not None and len(self.weight) != len(self.score):
            raise DatrigError("calibration: one weight per candidate is needed")


@dataclass
class Result:
    regions: AbcdRegions
    binnings: dict[str, Binning]
    bins: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    region_of: dict[str, np.ndarray] = field(default_factory=dict)  # per domain
    bin_of: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # domain -> binning


def _value(x: np.ndarray) -> dict[str, float]:
    """Observed value (replica row 0) and bootstrap standard deviation."""
    return {"value": float(x[0]), "err": float(np.std(x[1:], ddof=1)) if len(x) > 2 else 0.0}


def _ratio(est: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    out = _value(est / truth)
    out["pull"] = (out["value"] - 1.0) / out["err"] if out["err"] > 0 else float("nan")
    return out


def calibrate(sim: Sample, data: Sample, settings: Settings) -> Result:
    """Measure the fake yield in the signal region and the ID efficiency in ``data``."""
    s_label = sim.events["label"]
    regions = AbcdRegions.from_sim(
        sim.score,
        s_label,
        sim.events[settings.protected],
        id_efficiency=settings.id_efficiency,
        control_efficiency=settings.control_efficiency,
        iso_quantile=settings.iso_quantile,
        iso_gap=settings.iso_gap,
        weights=sim.weight,
    )
    if settings.toy_binnings:
        binnings = {
            name: b
            for name, b in fit_binnings(sim.events, settings.seed).items()
            if name in settings.binnings
        }
    else:  # a task: terciles of its condition
        binnings = {"pt": condition_binning(sim.events, settings.condition)}  # fmt: skip
    result = Result(regions, binnings)
    for name, sample in (("sim", sim), ("data", data)):
        result.region_of[name] = band_regions(
            sample.score,
            sample.events[settings.protected],
            regions.pass_threshold,
            regions.control_threshold,
            regions.iso_cut,
            regions.iso_gap,
        )
        result.bin_of[name] = {b: binning.assign(sample.events) for b, binning in binnings.items()}
    names = list(binnings)
    sizes = [binnings[b].n_bins * N_REGIONS for b in names]

    def cells(domain: str) -> list[np.ndarray]:
        """Per binning: the (bin, region) cell of each event, -1 outside."""
        region = result.region_of[domain]
        return [
            np.where((bins >= 0) & (region >= 0), bins * N_REGIONS + region, -1)
            for bins in (result.bin_of[domain][b] for b in names)
        ]

    def by_class(streams: list[np.ndarray], label: np.ndarray) -> list[np.ndarray]:
        """Cells split by truth class: photons first, then fakes (cell + size)."""
        fake = (label == 0).astype(np.int64)
        return [np.where(c >= 0, c + fake * n, -1) for c, n in zip(streams, sizes, strict=True)]

    reps, seed = settings.n_replicas, settings.seed
    sim_cells, data_cells = cells("sim"), cells("data")
    sim_counts = bootstrap_counts(
        by_class(sim_cells, s_label), [2 * n for n in sizes], reps, seed, sim.weight
    )
    measured = bootstrap_counts(  # no labels: the measurement
        data_cells, sizes, reps, seed + 1, data.weight
    )
    truth = None
    if data.truth:  # closure only; the same per-event bootstrap weights as the measurement
        truth = bootstrap_counts(
            by_class(data_cells, data.events["label"]), [2 * n for n in sizes], reps, seed + 1,
            data.weight,
        )  # fmt: skip
    for k, name in enumerate(names):
        n, shape = sizes[k], (reps + 1, binnings[name].n_bins, N_REGIONS)
        measure = _measure_binning if settings.strict_counts else _measure_each_bin
        result.bins[name] = measure(
            binnings[name],
            measured[k].reshape(shape),
            sim_counts[k][:, :n].reshape(shape),
            sim_counts[k][:, n:].reshape(shape),
            None if truth is None else truth[k][:, :n].reshape(shape),
            None if truth is None else truth[k][:, n:].reshape(shape),
        )
    return result


NO_TRUTH = "not available (no truth in data)"


def _measure_each_bin(
    binning: Binning,
    n_data: np.ndarray,
    sim_photons: np.ndarray,
    sim_fakes: np.ndarray,
    data_photons: np.ndarray | None,
    data_fakes: np.ndarray | None,
) -> list[dict[str, Any]]:
    """:func:`_measure_binning` bin by bin: a bin whose regions hold too few events is
    reported as not measured (why) instead of stopping the calibration."""
    out = []
    for b, label in enumerate(binning.labels):
        one = Binning(binning.name, (label,), binning.pt_edges, column=binning.column)

        def at(x: np.ndarray | None, b: int = b) -> np.ndarray | None:
            return None if x is None else x[:, b : b + 1]

        try:
            out += _measure_binning(
                one, at(n_data), at(sim_photons), at(sim_fakes), at(data_photons), at(data_fakes)
            )
        except DatrigError as exc:
            out.append({"label": label, "not_measured": str(exc).split(": ", 1)[-1],
                        "counts_data": n_data[0, b].tolist()})  # fmt: skip
    return out


def _measure_binning(
    binning: Binning,
    n_data: np.ndarray,
    sim_photons: np.ndarray,
    sim_fakes: np.ndarray,
    data_photons: np.ndarray | None,
    data_fakes: np.ndarray | None,
) -> list[dict[str, Any]]:
    """Per-bin estimates, truths and closures; arrays are (replicas + 1, bins, 6). Without
    data truth (``data_photons`` None: real data) the measurement alone, every truth and
    closure said to be unavailable (:data:`NO_TRUTH`)."""
    abcd = (TI, TN, LI, LN)  # the regions the estimate divides by
    check_counts(n_data[0], binning.labels, "the data sample", abcd)
    check_counts(sim_fakes[0], binning.labels, "the simulated fakes", abcd)
    isolated = sim_photons[0][:, [TI, MI, LI]].sum(axis=1)  # the leakage fractions' denominator
    for label, n in zip(binning.labels, isolated, strict=True):
        if n < MIN_COUNT:
            too_few(label, f"the simulation has {int(n)} isolated photons")
    r_sim, r_m_sim = abcd_factors(sim_fakes)
    ones = np.ones_like(r_sim)
    uncorrected = estimate(n_data, sim_photons, ones, ones)
    corrected = estimate(n_data, sim_photons, r_sim, r_m_sim)
    in_sim = estimate(sim_photons + sim_fakes, sim_photons, ones, ones)
    eff_sim = sim_photons[..., TI] / sim_photons[..., [TI, MI, LI]].sum(axis=-1)
    truth = data_photons is not None and data_fakes is not None
    if truth:
        r_data, _ = abcd_factors(data_fakes)
        fakes_true = data_fakes[..., TI]
        eff_true = data_photons[..., TI] / data_photons[..., [TI, MI, LI]].sum(axis=-1)
    out = []
    for b, label in enumerate(binning.labels):

        def at(x: np.ndarray, b: int = b) -> np.ndarray:
            return x[:, b]

        sf_measured = at(uncorrected.efficiency) / at(eff_sim)
        entry = {
            "label": label,
            "counts_data": n_data[0, b].tolist(),
            "abcd_r": {"sim": _value(at(r_sim)), "data_truth": NO_TRUTH},
            "fakes_a": {
                "uncorrected": _value(at(uncorrected.fakes_a)),
                "corrected_with_sim_r": _value(at(corrected.fakes_a)),
                "truth": NO_TRUTH,
            },
            "closure": NO_TRUTH,
            "efficiency": {
                "data_measured": _value(at(uncorrected.efficiency)),
                "data_measured_corrected": _value(at(corrected.efficiency)),
                "data_truth": NO_TRUTH,
                "sim_truth": _value(at(eff_sim)),
                "sim_measured": _value(at(in_sim.efficiency)),
            },
            "scale_factor": {"measured": _value(sf_measured), "truth": NO_TRUTH},
        }
        if truth:
            sf_truth = at(eff_true) / at(eff_sim)
            entry["abcd_r"]["data_truth"] = _value(at(r_data))
            entry["fakes_a"]["truth"] = _value(at(fakes_true))
            entry["closure"] = {
                "uncorrected": _ratio(at(uncorrected.fakes_a), at(fakes_true)),
                "corrected_with_sim_r": _ratio(at(corrected.fakes_a), at(fakes_true)),
            }
            entry["efficiency"]["data_truth"] = _value(at(eff_true))
            entry["scale_factor"]["truth"] = _value(sf_truth)
            entry["scale_factor"]["measured_over_truth"] = _ratio(sf_measured, sf_truth)
        out.append(entry)
    return out
