"""Domain-adaptation and decorrelation losses for anyone's PyTorch training loop.

Plain tensors in, a scalar out. Event weights are optional and may be negative (generator
weights); every function normalises them by their sum, which must be positive. Bin edges and
working points are explicit arguments: fit them once on your training sample with the helpers
(:func:`fit_edges`, :func:`fit_flatness_bins`, :func:`fit_working_point`) and keep them fixed.
A call without what a loss needs (no edges, no condition, mismatched lengths, weights that
sum to zero or less, NaNs) raises :class:`datrig.errors.DatrigError` naming the argument,
never a silent zero. datrig's own trainer calls these same functions.

Which loss for which calibration (details: docs/da_library.md):

* :func:`disco_loss` - the squared distance correlation (DisCo, Kasieczka & Shih 2020) of a
  score and a protected variable: global independence.
* :func:`conditional_disco_loss` - the same within bins of a condition (e.g. pT): independence
  at fixed pT, what per-bin ABCD needs.
* :func:`flatness_loss` - the pass fraction of the working point(s) is the same in every
  (condition, protected) cell: exactly the ABCD factor's assumption, nothing more.
* :class:`PivotAdversary`, :func:`adversary_step`, :func:`pivot_loss` - a pivot adversary
  (Louppe, Kagan & Cranmer 2017) with alternating updates (:mod:`datrig.da.pivot`).
* :func:`mmd_loss` - a kernel MMD between two samples (sim and data latents: domain invariance).
* :class:`LearnedDDT` and :func:`ddt_loss` - a learned designed decorrelation: a score network
  minus a compensation c(condition, protected) fitted as the background's working-point
  quantile by the pinball loss (:mod:`datrig.da.learned_ddt`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from datrig.errors import DatrigError
from datrig.metrics.classifier import weighted_quantiles

MIN_BIN_EVENTS = 8  # fewer events: a bin's dCor^2 or efficiency is dominated by its noise
LOGIT_EPS = 1e-6
EFF_EPS = 1e-4
MMD_BANDWIDTHS = (0.25, 0.5, 1.0, 2.0)  # multiples of the mean squared pairwise distance


# --- argument checks --------------------------------------------------------------------------


def _vector(name: str, value: object, n: int | None = None) -> torch.Tensor:
    """``value`` as a 1-d tensor of ``n`` finite values, or a DatrigError naming ``name``."""
    if value is None:
        raise DatrigError(f"{name} is required (got None)")
    t = value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))
    if t.dim() > 1 and t.numel() == t.shape[0]:
        t = t.reshape(-1)
    if t.dim() != 1:
        raise DatrigError(f"{name} must be 1-d (one value per event), got shape {tuple(t.shape)}")
    if n is not None and len(t) != n:
        raise DatrigError(f"{name} has {len(t)} values; the score has {n}: lengths must match")
    if t.is_floating_point() and not bool(torch.isfinite(t.detach()).all()):
        bad = int((~torch.isfinite(t.detach())).sum())
        raise DatrigError(f"{name} holds {bad} NaN/inf value(s)")
    return t


def _weights(weights: object, like: torch.Tensor) -> torch.Tensor:
    """Weights of the events (ones if None), checked: same length, finite, positive sum."""
    if weights is None:
        return torch.ones_like(like)
    w = _vector("weights", weights, len(like)).to(like.dtype)
    if not float(w.detach().sum()) > 0:
        raise DatrigError(
            f"weights sum to {float(w.detach().sum()):g}; they must sum to more than zero "
            "(signed weights are fine, an empty or cancelling selection is not)"
        )
    return w


def _events(score: object, protected: object, weights: object, min_events: int = 2):
    s = _vector("score", score)
    if len(s) < min_events:
        raise DatrigError(f"the loss needs at least {min_events} events, got {len(s)}")
    p = _vector("protected", protected, len(s)).to(s.dtype)
    return s, p, _weights(weights, s)


def _edges(edges: object, what: str = "edges") -> torch.Tensor:
    if edges is None:
        raise DatrigError(
            f"{what} are required: fit them once on your training sample, e.g. "
            "datrig.da.fit_edges(condition, n_bins=3), and pass them to every call"
        )
    e = _vector(what, edges).float()
    if len(e) and not bool((e[1:] >= e[:-1]).all()):
        raise DatrigError(f"{what} must be sorted in increasing order")
    return e


def bin_index(values: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Bin of each value: the number of edges below it (bins ``(e_{i-1}, e_i]``); ``edges`` is
    (n_edges,) or (n_events, n_edges) for per-event edges."""
    return (values.reshape(-1, 1) > edges).sum(dim=1)


# --- fitting helpers --------------------------------------------------------------------------


def fit_edges(values: object, n_bins: int, weights: object = None) -> torch.Tensor:
    """The ``n_bins - 1`` inner equal-population edges of ``values`` (weighted quantiles when
    ``weights`` are given), float32; fit once on the training sample, then keep them."""
    v = _vector("values", values).double()
    if len(v) == 0:
        raise DatrigError("cannot fit bin edges on no events")
    if n_bins < 1:
        raise DatrigError(f"n_bins must be at least 1, got {n_bins}")
    levels = np.linspace(0, 1, n_bins + 1)[1:-1]
    if weights is None:
        return torch.from_numpy(np.quantile(v.detach().numpy(), levels).astype(np.float32))
    w = _weights(weights, v).detach().numpy()
    return torch.from_numpy(weighted_quantile(v.detach().numpy(), levels, w).astype(np.float32))


def weighted_quantile(values: np.ndarray, levels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Quantiles of ``values`` at ``levels`` with (signed) event weights, as the metrics
    define them (:func:`datrig.metrics.classifier.weighted_quantiles`: tied values enter
    together, the first value whose cumulative weight reaches the level)."""
    qs = weighted_quantiles(values, list(np.atleast_1d(levels)), weights)
    return np.asarray(qs, dtype=np.asarray(values).dtype)


@dataclass(frozen=True)
class FlatnessBins:
    """The cells of :func:`flatness_loss`: condition edges (e.g. pT), and per condition bin
    the protected-variable edges (e.g. isolation), so every cell holds ~the same population
    whatever the condition dependence of the protected variable."""

    condition_edges: torch.Tensor  # (n_condition_bins - 1,)
    protected_edges: torch.Tensor  # (n_condition_bins, n_protected_bins - 1)

    @property
    def n_condition_bins(self) -> int:
        return len(self.condition_edges) + 1

    @property
    def n_protected_bins(self) -> int:
        return self.protected_edges.shape[1] + 1

    def cells(self, condition: torch.Tensor, protected: torch.Tensor) -> torch.Tensor:
        """The cell of every event, ``condition_bin * n_protected_bins + protected_bin``."""
        c = bin_index(condition, self.condition_edges)
        return c * self.n_protected_bins + bin_index(protected, self.protected_edges[c])


def fit_flatness_bins(
    condition: object,
    protected: object,
    n_condition_bins: int = 3,
    n_protected_bins: int = 5,
    weights: object = None,
) -> FlatnessBins:
    """Equal-population condition bins, and protected bins equal-population within each."""
    c = _vector("condition", condition).double()
    p = _vector("protected", protected, len(c)).double()
    c_edges = fit_edges(c, n_condition_bins, weights)
    c_bin = bin_index(c, c_edges.double())
    w = None if weights is None else _vector("weights", weights, len(c)).double()
    rows = []
    for b in range(n_condition_bins):
        sel = c_bin == b
        if not bool(sel.any()):  # an empty condition bin stays empty: any edges do
            sel = torch.ones_like(sel)
        rows.append(fit_edges(p[sel], n_protected_bins, None if w is None else w[sel]))
    return FlatnessBins(c_edges, torch.stack(rows))


def fit_working_point(score: object, efficiency: float, weights: object = None) -> float:
    """The score threshold that keeps ``efficiency`` of the events given (pass the signal's
    scores for a signal-efficiency working point): ``score >= threshold`` passes them."""
    if not 0.0 < efficiency < 1.0:
        raise DatrigError(f"efficiency must be in (0, 1), got {efficiency}")
    s = _vector("score", score).double().detach().numpy()
    if len(s) == 0:
        raise DatrigError("cannot fit a working point on no events")
    w = np.ones_like(s) if weights is None else _weights(weights, torch.from_numpy(s)).numpy()
    return float(weighted_quantile(s, np.array([1.0 - efficiency]), w)[0])


# --- distance correlation ----------------------------------------------------------------------


def _double_centred(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    dist = (x[:, None] - x[None, :]).abs()
    row_mean = (dist * w[None, :]).mean(dim=1)
    return dist - row_mean[None, :] - row_mean[:, None] + (row_mean * w).mean()


def distance_correlation_sq(
    x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None, eps: float = 1e-12
) -> torch.Tensor:
    """Weighted dCor^2 (V-statistic, weights normalised to mean 1, as in the DisCo paper) of
    1-d samples, differentiable in both; unchecked (see :func:`disco_loss`). It is O(B^2) in
    memory: 2048 events take ~16 MB per distance matrix in float32."""
    x, y = x.reshape(-1), y.reshape(-1)
    w = torch.ones_like(x) if weights is None else weights.reshape(-1).to(x.dtype)
    w = w * (len(w) / w.sum())
    a = _double_centred(x, w)
    b = _double_centred(y, w)

    def wmean2(m: torch.Tensor) -> torch.Tensor:
        return ((m * w[None, :]).mean(dim=1) * w).mean()

    return wmean2(a * b) / torch.sqrt(wmean2(a * a) * wmean2(b * b) + eps)


def disco_loss(score: object, protected: object, weights: object = None) -> torch.Tensor:
    """Squared distance correlation of ``score`` and ``protected`` over the events given
    (select the background yourself when only its independence matters)."""
    s, p, w = _events(score, protected, weights)
    return distance_correlation_sq(s, p, w)


def conditional_disco_loss(
    score: object,
    protected: object,
    condition: object,
    edges: object,
    weights: object = None,
    *,
    max_events: int | None = None,
    min_events: int = MIN_BIN_EVENTS,
) -> torch.Tensor:
    """dCor^2(score, protected) within bins of ``condition`` (inner ``edges``), averaged with
    the bins' summed weights: sum_b W_b dCor^2_b / sum_b W_b. Bins with fewer than
    ``min_events`` events, or a weight sum <= 0, are skipped; ``max_events`` caps the O(n^2)
    cost per bin (first events of the bin: pass shuffled batches). Raises if no bin is usable.
    """
    s, p, w = _events(score, protected, weights)
    c = _vector("condition", condition, len(s))
    e = _edges(edges).to(c.dtype if c.is_floating_point() else torch.float32)
    terms = conditional_disco_terms(s, p, w, bin_index(c, e), len(e) + 1, max_events, min_events)
    if terms is None:
        raise DatrigError(
            f"no bin of the condition holds {min_events} events with a positive weight sum; "
            "use larger batches or fewer bins"
        )
    values, populations = terms
    return (values * populations).sum() / populations.sum()


def conditional_disco_terms(
    s: torch.Tensor,
    p: torch.Tensor,
    w: torch.Tensor,
    bins: torch.Tensor,
    n_bins: int,
    max_events: int | None,
    min_events: int,
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(dCor^2_b, W_b) of every usable bin, or None; the trainer's per-batch core."""
    values, populations = [], []
    for b in range(n_bins):
        idx = torch.nonzero(bins == b).reshape(-1)
        if len(idx) < min_events:
            continue
        population = w[idx].sum()
        if not float(population.detach()) > 0:
            continue
        populations.append(population)
        idx = idx[:max_events] if max_events else idx
        values.append(distance_correlation_sq(s[idx], p[idx], w[idx]))
    if not values:
        return None
    return torch.stack(values), torch.stack(populations).to(s.dtype)


# --- flatness at working points -------------------------------------------------------------


def flatness_deviations(
    passed: torch.Tensor,
    cells: torch.Tensor,
    w: torch.Tensor,
    bins: FlatnessBins,
    min_events: int,
    diff: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(d_ck, W_c * ok_c): per cell c and cut k, the deviation of the cell's (soft) pass
    fraction from its condition bin's, in logit (``diff="logit"``) or efficiency units, and
    the cell's weight where it holds ``min_events`` events (else 0)."""
    n_cells, k = bins.n_condition_bins * bins.n_protected_bins, passed.shape[1]
    w_cell = w.new_zeros(n_cells).index_add(0, cells, w)
    p_cell = w.new_zeros(n_cells, k).index_add(0, cells, w[:, None] * passed)
    w_bin = w_cell.reshape(bins.n_condition_bins, -1).sum(dim=1)
    p_bin = p_cell.reshape(bins.n_condition_bins, bins.n_protected_bins, k).sum(dim=1)
    eff_cell = p_cell / w_cell.clamp_min(1e-12)[:, None]
    eff_bin = (p_bin / w_bin.clamp_min(1e-12)[:, None]).repeat_interleave(bins.n_protected_bins, 0)
    ok = (torch.bincount(cells, minlength=n_cells) >= min_events) & (w_cell > 0)
    if diff == "logit":
        d = torch.logit(eff_cell.clamp(EFF_EPS, 1 - EFF_EPS)) - torch.logit(
            eff_bin.clamp(EFF_EPS, 1 - EFF_EPS)
        )
    else:
        d = eff_cell - eff_bin
    return d, (w_cell * ok)[:, None]


def flatness_loss(
    score: object,
    protected: object,
    condition: object,
    edges: FlatnessBins,
    working_point: float | Sequence[float] | torch.Tensor,
    weights: object = None,
    *,
    tau: float = 0.02,
    diff: str = "logit",
    cut_space: str = "score",
    min_events: int = MIN_BIN_EVENTS,
) -> torch.Tensor:
    """The pass fraction of each working point is the same in every (condition, protected)
    cell as in its condition bin: sum_k sum_c W_c d_ck^2 / (K sum_c W_c), with d_ck the cell's
    deviation in logit (default: scale-free, the log of the ABCD odds ratio) or efficiency
    units (``diff="eff"``). ``working_point``: score threshold(s) (see
    :func:`fit_working_point`); the cut is soft, sigmoid((s - t) / tau), so it has a gradient;
    ``cut_space="logit"`` cuts on logit(score) for scores in (0, 1). ``edges``: from
    :func:`fit_flatness_bins`. Cells with fewer than ``min_events`` events are skipped."""
    if not isinstance(edges, FlatnessBins):
        raise DatrigError(
            "edges must be the FlatnessBins of datrig.da.fit_flatness_bins(condition, "
            f"protected) (condition and protected bins), got {type(edges).__name__}"
        )
    if diff not in ("logit", "eff") or cut_space not in ("score", "logit"):
        raise DatrigError(f"diff must be 'logit' or 'eff' and cut_space 'score' or 'logit', "
                          f"got {diff!r}, {cut_space!r}")  # fmt: skip
    if working_point is None:
        raise DatrigError("working_point is required: a score threshold, see fit_working_point")
    if not tau > 0:
        raise DatrigError(f"tau must be > 0, got {tau}")
    s, p, w = _events(score, protected, weights)
    c = _vector("condition", condition, len(s)).to(s.dtype)
    cuts = _vector("working_point", torch.as_tensor(working_point).reshape(-1)).to(s.dtype)
    if cut_space == "logit":
        s = torch.logit(s, eps=LOGIT_EPS)
    passed = torch.sigmoid((s[:, None] - cuts[None, :]) / tau)
    d, w_ok = flatness_deviations(passed, edges.cells(c, p), w, edges, min_events, diff)
    if not bool((w_ok > 0).any()):
        raise DatrigError(
            f"no (condition, protected) cell holds {min_events} events; use larger batches "
            "or fewer bins"
        )
    return (w_ok * d.pow(2)).sum() / (passed.shape[1] * w_ok.sum())


# --- kernel MMD -------------------------------------------------------------------------------


def mmd_sq(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Biased MMD^2 between samples ``a`` (n, d) and ``b`` (m, d) with a multi-bandwidth RBF
    kernel whose bandwidths scale with the (detached) mean squared distance; unchecked."""
    joint = torch.cat([a, b])
    sq = joint.pow(2).sum(dim=1)
    d2 = (sq[:, None] + sq[None, :] - 2 * joint @ joint.T).clamp_min(0)
    scale = d2.detach().mean().clamp_min(1e-12)
    kernel = sum(torch.exp(-d2 / (bw * scale)) for bw in MMD_BANDWIDTHS)
    n = len(a)
    return kernel[:n, :n].mean() + kernel[n:, n:].mean() - 2 * kernel[:n, n:].mean()


def mmd_loss(
    a: torch.Tensor, b: torch.Tensor, weights_a: object = None, weights_b: object = None
) -> torch.Tensor:
    """Kernel MMD^2 between two samples of features, e.g. the latents of simulated and real
    events (domain invariance); rows are events. Without weights this is the trainer's
    estimate (bandwidths from the mean squared distance of all rows); with weights (signed,
    each sample's summing to > 0) every mean is weighted, the bandwidths' included, so integer
    weights equal repeated rows and a +w/-w pair of identical rows changes nothing."""
    for name, x in (("a", a), ("b", b)):
        if not isinstance(x, torch.Tensor) or x.dim() not in (1, 2) or len(x) < 2:
            raise DatrigError(f"{name} must be a tensor of at least 2 events (rows)")
    a2, b2 = a.reshape(len(a), -1), b.reshape(len(b), -1)
    if a2.shape[1] != b2.shape[1]:
        raise DatrigError(f"a and b have {a2.shape[1]} and {b2.shape[1]} features: must match")
    if weights_a is None and weights_b is None:
        return mmd_sq(a2, b2)
    wa, wb = _weights(weights_a, a2[:, 0]), _weights(weights_b, b2[:, 0])
    wa, wb = wa / wa.sum(), wb / wb.sum()
    joint = torch.cat([a2, b2])
    sq = joint.pow(2).sum(dim=1)
    d2 = (sq[:, None] + sq[None, :] - 2 * joint @ joint.T).clamp_min(0)
    u = torch.cat([wa, wb]) / 2  # the bandwidth follows the equal mixture of both samples
    scale = (u[:, None] * d2.detach() * u[None, :]).sum().clamp_min(1e-12)
    kernel = sum(torch.exp(-d2 / (bw * scale)) for bw in MMD_BANDWIDTHS)
    n = len(a2)

    def mean(k: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return (u[:, None] * k * v[None, :]).sum()

    return (
        mean(kernel[:n, :n], wa, wa)
        + mean(kernel[n:, n:], wb, wb)
        - 2 * mean(kernel[:n, n:], wa, wb)
    )
