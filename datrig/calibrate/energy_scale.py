"""The in-situ energy scale: data/simulation scale factors per |eta| bin from a resonance peak.

As with Z -> ee in ATLAS and CMS: photon pairs are sorted into categories (i, j) by the |eta|
bins of their two photons; in each category the simulated mass distribution, scaled by
``exp(alpha)`` and smeared per photon by a Gaussian of relative width ``s`` (the data's
resolution may be worse), is fitted to the data's (binned chi2 on log m in a window around the
peak). Since ``m ~ sqrt(E1 E2)``, ``alpha_ij = (a_i + a_j) / 2`` with ``a_i = ln`` of the
data/sim energy scale of bin i, solved by weighted least squares over the categories. Data
energies are corrected by ``exp(-a_i)``. The measurement reads from ``data`` only the photons'
firmware energies, directions and |eta| -- never their true energies, which enter only the
closure (:func:`closure`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from datrig.errors import DatrigError
from datrig.metrics.energy_bins import ETA_BINS

FINE_STEP = 2e-4  # log-mass bin of the simulated template (0.02 % in scale)
REBIN = 10  # fine bins per chi2 bin (0.2 % in mass)
SMEARING_MAX = 0.03  # largest per-photon extra resolution the template may need


@dataclass(frozen=True)
class ScaleSettings:
    """How the peak is fitted. ``window``: half-width in log mass around the simulated peak;
    ``max_shift``: largest |alpha| scanned; ``min_events``: a category with fewer data or
    simulated pairs is left out (its chi2 would be dominated by empty bins)."""

    eta_bins: tuple[tuple[float, float], ...] = ETA_BINS
    window: float = 0.08
    max_shift: float = 0.06
    min_events: int = 200
    seed: int = 1


@dataclass
class Pairs:
    """Photon pairs of one domain: firmware energies [GeV] (n, 2), the cosine of their opening
    angle (n,) and the |eta| bin of each photon (n, 2; -1 outside every bin)."""

    energy: np.ndarray
    cos_angle: np.ndarray
    bins: np.ndarray

    def mass(self, energy: np.ndarray | None = None) -> np.ndarray:
        """Invariant mass [GeV] of massless photons: sqrt(2 E1 E2 (1 - cos))."""
        e = self.energy if energy is None else energy
        return np.sqrt(np.clip(2.0 * e[:, 0] * e[:, 1] * (1.0 - self.cos_angle), 0.0, None))


def opening_cosine(eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """cos of the angle between the two photons of each pair; eta, phi: (n, 2)."""
    t1, t2 = 1.0 / np.cosh(eta[:, 0]), 1.0 / np.cosh(eta[:, 1])  # sin(theta)
    c1, c2 = np.tanh(eta[:, 0]), np.tanh(eta[:, 1])  # cos(theta)
    return t1 * t2 * np.cos(phi[:, 0] - phi[:, 1]) + c1 * c2


@dataclass
class CategoryFit:
    """One (i, j) category: the fitted log-scale shift of data vs simulation and its error."""

    bins: tuple[int, int]
    n_data: int
    n_sim: int
    alpha: float = math.nan
    alpha_err: float = math.nan
    smearing: float = math.nan
    chi2: float = math.nan
    ndf: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "bins": list(self.bins),
            "n_data": self.n_data,
            "n_sim": self.n_sim,
            "alpha": self.alpha,
            "alpha_err": self.alpha_err,
            "smearing": self.smearing,
            "chi2": self.chi2,
            "ndf": self.ndf,
        }


@dataclass
class ScaleResult:
    """Per |eta| bin: ``log_scale`` a_i (data energies are exp(a_i) times the simulation's at
    the same true energy), its error, and the category fits it was solved from."""

    settings: ScaleSettings
    log_scale: np.ndarray
    log_scale_err: np.ndarray
    categories: list[CategoryFit] = field(default_factory=list)

    def correction(self, bins: np.ndarray) -> np.ndarray:
        """Multiplicative correction of data energies, exp(-a_i), per photon bin (1 outside)."""
        factor = np.ones(bins.shape)
        inside = bins >= 0
        factor[inside] = np.exp(-self.log_scale[bins[inside]])
        return factor


def _fine_histogram(x: np.ndarray, lo: float, n_fine: int) -> np.ndarray:
    idx = np.floor((x - lo) / FINE_STEP).astype(np.int64)
    idx = idx[(idx >= 0) & (idx < n_fine)]
    return np.bincount(idx, minlength=n_fine).astype(np.float64)


@dataclass
class _Template:
    """The simulated log-mass distribution of one category on fine bins, smeared on demand:
    per-photon relative smearing s is a Gaussian of width s / sqrt(2) in log m."""

    counts: np.ndarray  # fine-bin counts over [lo, lo + n * FINE_STEP)
    lo: float

    def cdf(self, smearing: float) -> np.ndarray:
        """Cumulative counts at the fine-bin edges (n + 1,), after smearing."""
        h = self.counts
        width = smearing / math.sqrt(2.0) / FINE_STEP  # in fine bins
        if width > 0.05:
            half = min(math.ceil(5 * width), (h.size - 1) // 2)
            k = np.arange(-half, half + 1)
            kernel = np.exp(-0.5 * (k / width) ** 2)
            h = np.convolve(h, kernel / kernel.sum(), mode="same")
        return np.concatenate([[0.0], np.cumsum(h)])

    def expected(self, edges: np.ndarray, alpha: float, smearing: float) -> np.ndarray:
        """Counts of the template shifted by ``alpha`` in log m between ``edges`` (linear
        interpolation of the cumulative distribution: continuous in alpha)."""
        grid = self.lo + FINE_STEP * np.arange(self.counts.size + 1)
        c = np.interp(edges - alpha, grid, self.cdf(smearing))
        return np.diff(c)


def _chi2(data: np.ndarray, expected: np.ndarray) -> float:
    """chi2 of the data counts against the template normalised to them (template statistics
    included: the simulated sample is finite too)."""
    total = expected.sum()
    if total <= 0:
        return math.inf
    norm = data.sum() / total
    e = norm * expected
    var = data + norm * e
    use = var > 0
    return float(np.sum((data[use] - e[use]) ** 2 / var[use]))


def fit_category(
    sim_log_m: np.ndarray, data_log_m: np.ndarray, settings: ScaleSettings
) -> tuple[float, float, float, float, int]:
    """Fit (alpha, smearing) of one category; returns (alpha, error, smearing, chi2, ndf).

    Data are binned in ``REBIN`` fine steps over the window around the simulated median; the
    template's chi2 is smooth in both parameters (continuous shift and smearing), minimised
    from the best point of a coarse grid; the error is that of alpha with the smearing
    profiled (chi2 + 1), from the numerical Hessian.
    """
    from scipy.optimize import minimize

    centre = float(np.median(sim_log_m))
    n_win = round(2 * settings.window / FINE_STEP) // REBIN * REBIN
    lo = centre - 0.5 * n_win * FINE_STEP
    edges = lo + FINE_STEP * REBIN * np.arange(n_win // REBIN + 1)
    data = np.histogram(data_log_m, bins=edges)[0].astype(np.float64)
    margin = settings.max_shift + 6 * SMEARING_MAX
    n_wide = round((2 * settings.window + 2 * margin) / FINE_STEP)
    template = _Template(_fine_histogram(sim_log_m, lo - margin, n_wide), lo - margin)

    def f(p: np.ndarray) -> float:
        return _chi2(data, template.expected(edges, p[0], min(abs(p[1]), SMEARING_MAX)))

    grid = [
        (f(np.array([a, s])), a, s)
        for a in np.linspace(-settings.max_shift, settings.max_shift, 61)
        for s in (0.0, 0.005, 0.01, 0.02)
    ]
    _, a0, s0 = min(grid)
    best = minimize(f, np.array([a0, s0 + 1e-3]), method="Nelder-Mead",
                    options={"xatol": 1e-6, "fatol": 1e-4, "maxiter": 2000})  # fmt: skip
    alpha, smearing = float(best.x[0]), min(abs(float(best.x[1])), SMEARING_MAX)
    if abs(alpha) > settings.max_shift:
        raise DatrigError(
            f"energy scale fit: the best shift ({alpha:+.2%}) is beyond the scanned range "
            f"(+-{settings.max_shift:.1%}); the data and simulation peaks are further apart"
        )
    err = _profiled_error(f, alpha, smearing)
    ndf = int(np.count_nonzero(data > 0)) - 3
    return alpha, err, smearing, float(best.fun), ndf


def _profiled_error(f, alpha: float, smearing: float) -> float:
    """sqrt(2 (H^-1)_aa) at the minimum (chi2 = 1 + min for alpha, the smearing profiled)."""
    h = np.array([4 * FINE_STEP, 2e-3])
    x0 = np.array([alpha, max(smearing, h[1])])  # keep the smearing step inside s >= 0
    hess = np.empty((2, 2))
    f0 = f(x0)
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * h[i], np.eye(2)[j] * h[j]
            if i == j:
                hess[i, i] = (f(x0 + ei) - 2 * f0 + f(x0 - ei)) / h[i] ** 2
            else:
                hess[i, j] = (
                    f(x0 + ei + ej) - f(x0 + ei - ej) - f(x0 - ei + ej) + f(x0 - ei - ej)
                ) / (4 * h[i] * h[j])
    try:
        cov = 2.0 * np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return math.nan
    return float(math.sqrt(cov[0, 0])) if cov[0, 0] > 0 else math.nan


def fit_scales(sim: Pairs, data: Pairs, settings: ScaleSettings) -> ScaleResult:
    """Per-bin log scales a_i of data vs simulation from the peak of every category."""
    n_bins = len(settings.eta_bins)
    sim_log_m = np.log(np.maximum(sim.mass(), 1e-9))
    data_log_m = np.log(np.maximum(data.mass(), 1e-9))
    sim_cat = category_codes(sim.bins, n_bins)
    data_cat = category_codes(data.bins, n_bins)
    fits: list[CategoryFit] = []
    for i in range(n_bins):
        for j in range(i, n_bins):
            code = i * n_bins + j
            in_sim, in_data = sim_cat == code, data_cat == code
            fit = CategoryFit((i, j), int(in_data.sum()), int(in_sim.sum()))
            if min(fit.n_data, fit.n_sim) >= settings.min_events:
                fit.alpha, fit.alpha_err, fit.smearing, fit.chi2, fit.ndf = fit_category(
                    sim_log_m[in_sim], data_log_m[in_data], settings
                )
            fits.append(fit)
    log_scale, err = solve_bins(fits, n_bins)
    return ScaleResult(settings, log_scale, err, fits)


def category_codes(bins: np.ndarray, n_bins: int) -> np.ndarray:
    """Unordered category code min * n + max of each pair, -1 when a photon is outside."""
    lo, hi = bins.min(axis=1), bins.max(axis=1)
    return np.where(lo >= 0, lo * n_bins + hi, -1)


def solve_bins(fits: list[CategoryFit], n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares of alpha_ij = (a_i + a_j) / 2 over the fitted categories;
    (a, standard errors). A bin no fitted category constrains is an error naming it."""
    used = [
        f for f in fits if np.isfinite(f.alpha) and np.isfinite(f.alpha_err) and f.alpha_err > 0
    ]
    design = np.zeros((len(used), n_bins))
    for row, f in enumerate(used):
        design[row, f.bins[0]] += 0.5
        design[row, f.bins[1]] += 0.5
    missing = [k for k in range(n_bins) if not design[:, k].any()]
    if missing:
        raise DatrigError(
            f"energy scale: |eta| bin(s) {missing} have no category with enough pairs in both "
            "domains; simulate more resonance events (datrig simulate --n-resonance)"
        )
    weight = np.array([1.0 / f.alpha_err**2 for f in used])
    alpha = np.array([f.alpha for f in used])
    normal = design.T @ (design * weight[:, None])
    cov = np.linalg.inv(normal)
    solution = cov @ (design.T @ (weight * alpha))
    return solution, np.sqrt(np.diag(cov))


def median_with_error(x: np.ndarray) -> tuple[float, float]:
    """Median and its standard error from the order statistics (the 68 % binomial interval of
    the median's rank), valid for any continuous distribution."""
    n = x.size
    if n == 0:
        return math.nan, math.nan
    s = np.sort(x)
    half = 0.5 * math.sqrt(n)
    lo = s[max(0, math.floor(0.5 * n - half))]
    hi = s[min(n - 1, math.ceil(0.5 * n + half))]
    return float(np.median(s)), float(0.5 * (hi - lo))
