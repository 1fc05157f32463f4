"""The calibration plane of a photon ID: rejection against the ABCD factor in both domains.

Every method, network or peer (:mod:`datrig.validate.peers`), is judged the same way on the
same candidates: the working point keeps 80 % of the simulated photons, isolated means below
the 90 % quantile of the simulated photons' isolation and non-isolated 2 GeV above it; the ABCD
factor ``R = N_A N_D / (N_B N_C)`` among fakes per pT tercile of the simulated fakes and over
all pT, in ``sim`` and (with the toy's truth) in ``data``. C and D are the candidates that fail
the ID, or, with a ``control_efficiency``, those below that photon-efficiency point (the
calibration's control band). R80 is the fake rejection at the working point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from datrig.errors import DatrigError
from datrig.metrics import decorrelation as dm

N_PT_TERCILES = 3
# A calibration closes when R is 1 within these (beyond one standard error): per pT tercile in
# sim and in data, and over all pT in data (the ABCD estimate a physicist would quote).
TERCILE_TOLERANCE = 0.10
ALL_PT_TOLERANCE = 0.05


def _max_abs_dev(r: Sequence[float]) -> float:
    """Largest |R - 1| over the bins where R is defined (NaN if it is nowhere)."""
    dev = np.abs(np.asarray(r, dtype=np.float64) - 1.0)
    dev = dev[np.isfinite(dev)]
    return float(dev.max()) if dev.size else math.nan


@dataclass(frozen=True)
class PlanePoint:
    """One method's figures; per-tercile lists, then the all-pT value."""

    method: str
    kind: str  # "firmware" (a run: network or tree ensemble) or "peer"
    rejection80_sim: float
    rejection80_data: float
    r_sim: list[float]
    r_sim_err: list[float]
    r_data: list[float]
    r_data_err: list[float]
    r_all_sim: float
    r_all_sim_err: float
    r_all_data: float
    r_all_data_err: float

    @property
    def max_abs_dev_data(self) -> float:
        return _max_abs_dev(self.r_data)

    @property
    def max_abs_dev_sim(self) -> float:
        return _max_abs_dev(self.r_sim)

    def closes(self) -> bool:
        """|R - 1| <= 0.10 (+1 sigma) in every pT tercile in sim and data, and the all-pT data
        R within 0.05 (+1 sigma); an undefined R (an empty region) does not close."""
        sim = zip(self.r_sim, self.r_sim_err, strict=True)
        per = [*sim, *zip(self.r_data, self.r_data_err, strict=True)]
        within = [abs(r - 1.0) <= TERCILE_TOLERANCE + e for r, e in per]
        whole = abs(self.r_all_data - 1.0) <= ALL_PT_TOLERANCE + self.r_all_data_err
        return all(within) and whole  # NaN compares False

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        out["max_abs_dev_sim"] = self.max_abs_dev_sim
        out["max_abs_dev_data"] = self.max_abs_dev_data
        out["closes"] = self.closes()
        return out


def plane_point(
    method: str,
    kind: str,
    score: np.ndarray,
    events: np.ndarray,
    control_efficiency: float | None = None,
    id_efficiency: float = 0.8,
) -> PlanePoint:
    """Figures of ``score`` on ``events`` (rows of both domains, with labels)."""
    score = np.asarray(score, dtype=np.float64)
    if score.shape != (len(events),):
        raise DatrigError(f"{method}: one score per candidate is needed")
    domain, label = np.asarray(events["domain"]), np.asarray(events["label"])
    iso = np.asarray(events["iso_calo"], dtype=np.float64)
    pt = np.asarray(events["pt"], dtype=np.float64)
    sim = domain == 0
    if not np.any(sim & (label == 1)) or not np.any(sim & (label == 0)):
        raise DatrigError(f"{method}: the plane needs simulated photons and fakes")
    regions = dm.AbcdRegions.from_sim(
        score[sim],
        label[sim],
        iso[sim],
        id_efficiency=id_efficiency,
        control_efficiency=control_efficiency,
    )
    terciles = dm.quantile_bin_edges(pt[sim & (label == 0)], N_PT_TERCILES)
    if terciles.size != N_PT_TERCILES + 1:
        raise DatrigError(f"{method}: the simulated fakes' pT has too few distinct values")
    figures = {}
    for name, dval in (("sim", 0), ("data", 1)):
        fake = (domain == dval) & (label == 0)
        if not fake.any():
            figures[name] = ([math.nan] * N_PT_TERCILES, [math.nan] * N_PT_TERCILES, math.nan,
                             math.nan, math.nan)  # fmt: skip
            continue
        region = regions.assign(score[fake], iso[fake])
        per = dm.abcd_factor(dm.region_counts(region, dm.bin_index(pt[fake], terciles), 3))
        whole = dm.abcd_factor(dm.region_counts(region, np.zeros(fake.sum(), np.int64), 1))
        passed = score[fake] >= regions.pass_threshold
        figures[name] = (per[0].tolist(), per[1].tolist(), float(whole[0][0]),
                         float(whole[1][0]), 1.0 / max(float(passed.mean()), 1e-12))  # fmt: skip
    s, d = figures["sim"], figures["data"]
    return PlanePoint(method, kind, s[4], d[4], s[0], s[1], d[0], d[1], s[2], s[3], d[2], d[3])


def plane_table(points: Sequence[PlanePoint]) -> list[str]:
    """Markdown rows: R80, R per pT tercile and all-pT, in sim and data."""

    def fmt(values: Sequence[float], errors: Sequence[float]) -> str:
        return " / ".join(f"{v:.2f}±{e:.2f}" for v, e in zip(values, errors, strict=True))

    lines = [
        "| method | kind | R80 (sim) | R sim per pT tercile | R sim all pT | R data per pT "
        "tercile | R data all pT | max abs(R-1) data |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        lines.append(
            f"| {p.method} | {p.kind} | {p.rejection80_sim:.2f} | {fmt(p.r_sim, p.r_sim_err)} "
            f"| {p.r_all_sim:.3f}±{p.r_all_sim_err:.3f} | {fmt(p.r_data, p.r_data_err)} "
            f"| {p.r_all_data:.3f}±{p.r_all_data_err:.3f} | {p.max_abs_dev_data:.3f} |"
        )
    return lines


def plot_plane(points: Sequence[PlanePoint], path: Path, title: str) -> Path:
    """R80 against the largest |R - 1| in data over the pT terciles, one marker per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for p in points:
        errors = np.asarray(p.r_data_err, dtype=np.float64)
        err = float(errors[np.isfinite(errors)].max()) if np.isfinite(errors).any() else 0.0
        style = {"firmware": ("o", "tab:blue"), "peer": ("s", "tab:gray")}.get(
            p.kind, ("^", "tab:red")
        )
        ax.errorbar(p.max_abs_dev_data, p.rejection80_sim, xerr=err, fmt=style[0],
                    color=style[1], capsize=2)  # fmt: skip
        ax.annotate(p.method, (p.max_abs_dev_data, p.rejection80_sim), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")  # fmt: skip
    ax.axvline(0.1, color="tab:green", ls="--", lw=1, label="|R - 1| = 0.1")
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlabel("max over pT terciles of |R - 1| in data (truth)")
    ax.set_ylabel("rejection at 80 % photon efficiency (sim)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def seed_spread(points: Sequence[PlanePoint]) -> dict[str, str]:
    """For methods trained with several seeds (``<da>``, ``<da>-seed<k>``): how many seeds close
    (:meth:`PlanePoint.closes`), mean and standard deviation of R80 and the range of R per pT
    tercile in both domains. A calibration that closes on one seed and not the next is not one:
    this count is the recipe's figure, not any single run's."""
    groups: dict[str, list[PlanePoint]] = {}
    for p in points:
        if p.kind == "firmware":
            groups.setdefault(p.method.split("-seed")[0], []).append(p)
    out = {}
    for name, group in groups.items():
        if len(group) < 2:
            continue
        r80 = np.array([p.rejection80_sim for p in group])
        sim = np.array([p.r_sim for p in group], dtype=np.float64)
        data = np.array([p.r_data for p in group], dtype=np.float64)
        sim, data = sim[np.isfinite(sim)], data[np.isfinite(data)]
        if not sim.size or not data.size:
            continue
        closing = sum(p.closes() for p in group)
        out[name] = (
            f"{closing} of {len(group)} seeds close (|R-1| <= {TERCILE_TOLERANCE} +1σ per pT "
            f"tercile in sim and data, all-pT data within {ALL_PT_TOLERANCE} +1σ); "
            f"R80 {r80.mean():.2f} ± {r80.std(ddof=1):.2f} "
            f"(min {r80.min():.2f}); R sim {sim.min():.2f}-{sim.max():.2f}, "
            f"R data {data.min():.2f}-{data.max():.2f}; "
            f"max abs(R-1) data {max(p.max_abs_dev_data for p in group):.3f}"
        )
    return out
