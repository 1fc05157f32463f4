"""Working-point flatness: the fake efficiency of score cuts must not depend on isolation at
fixed pT (in the spirit of hep_ml's BinFlatnessLossFunction and uBoost).

The ABCD / sideband estimate only needs the pass fraction of fakes at the chosen ID cut to be
the same in the isolated and non-isolated regions of each pT bin; this penalty asks exactly
that, for several cuts at once, instead of full independence (DisCo). For thresholds t_k
(default: the batch's quantiles of the penalised score at ``levels``, detached, so the cuts
follow the score as it trains), the soft pass indicator p_ik = sigmoid((s_i - t_k) / tau)
gives, with event weights w_i, the efficiency of every (pT bin b, isolation bin j) cell c and
of every pT bin,

    eff_ck = sum_{i in c} w_i p_ik / W_c,   eff_bk = sum_{i in b} w_i p_ik / W_b,

and the penalty is the population-weighted mean over thresholds and cells

    P = sum_k sum_c W_c (eff_ck - eff_b(c)k)^2 / (K sum_c W_c)

over the cells with at least ``min_events`` events (smaller ones are skipped; their pT bin's
efficiency still counts them). Isolation edges are equal-population *within* each pT bin (fitted
on the training fakes, pT edges as in :mod:`datrig.da.disco_pt`), so every cell has ~the same
population whatever the pT dependence of the isolation.

``tau`` (default 0.02, in score units): p_ik goes from 0.12 to 0.88 within t_k +- 2 tau. Smaller
is closer to the hard cut but gives gradient only to the few events next to each cut; larger
blurs the cuts (the isolation dependence of a steep score region is averaged over).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from datrig.da.base import Penalty, PenaltyInputs
from datrig.da.disco_pt import bin_of, quantile_edges, required


class FlatnessPenalty(Penalty):
    name = "flat"
    needs_condition = True
    # PROVISIONAL, not measured yet (to be tuned by a lam scan): efficiency differences of a few
    # % give P ~ 1e-3, so lam ~ 20 makes them cost ~ a few % of the photon_id task loss
    default_lam: ClassVar[dict[str, float]] = {"photon_id": 20.0, "photon_id_gnn": 4.0}
    generic_lam = 5.0

    def __init__(
        self,
        n_pt_bins: int = 4,
        n_iso_bins: int = 5,
        levels: Sequence[float] = (0.5, 0.7, 0.8, 0.9, 0.95),
        thresholds: Sequence[float] | None = None,
        tau: float = 0.02,
        min_events: int = 8,
        cut_space: str = "score",
        diff: str = "eff",
        window: float | None = None,
        ema: float | None = None,
        integral: float = 0.0,
        warmup_epochs: int = 0,
        ramp_epochs: int = 0,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.cut_space, self.diff = cut_space, diff
        self.warmup_epochs, self.ramp_epochs = warmup_epochs, ramp_epochs
        self.strength = 1.0
        self.window = window
        self.ema = ema
        self.integral = integral
        n_k = len(levels) if thresholds is None else len(thresholds)
        self.register_buffer("ema_d", torch.zeros(n_pt_bins * n_iso_bins, n_k, dtype=torch.float64))
        self.register_buffer("ema_seen", torch.zeros(n_pt_bins * n_iso_bins, n_k, dtype=torch.bool))
        self.register_buffer("mult", torch.zeros(n_pt_bins * n_iso_bins, n_k, dtype=torch.float64))
        self.n_pt_bins, self.n_iso_bins = n_pt_bins, n_iso_bins
        self.levels = torch.tensor(levels, dtype=torch.float64)
        self.thresholds = None if thresholds is None else torch.tensor(thresholds)
        self.tau, self.min_events = tau, min_events
        self.register_buffer("pt_edges", torch.zeros(n_pt_bins - 1))
        self.register_buffer("iso_edges", torch.zeros(n_pt_bins, n_iso_bins - 1))

    def setup(
        self,
        protected_train: np.ndarray,
        n_latent: int,
        n_inputs: int,
        condition_train: np.ndarray | None = None,
    ) -> None:
        pt_edges = quantile_edges(required(self, condition_train), self.n_pt_bins)
        pt_bin = bin_of(torch.from_numpy(condition_train), torch.from_numpy(pt_edges)).numpy()
        rows = []
        for b in range(self.n_pt_bins):
            iso = protected_train[pt_bin == b]  # an empty pT bin stays empty: any edges do
            rows.append(quantile_edges(iso if len(iso) else protected_train, self.n_iso_bins))
        self.pt_edges = torch.from_numpy(pt_edges)
        self.iso_edges = torch.from_numpy(np.stack(rows))

    def on_epoch_start(self, epoch: int) -> None:
        if epoch < self.warmup_epochs:
            self.strength = 0.0
        elif self.ramp_epochs > 0:
            self.strength = min(1.0, (epoch - self.warmup_epochs + 1) / self.ramp_epochs)
        else:
            self.strength = 1.0

    def cut_values(self, score: torch.Tensor) -> torch.Tensor:
        """The thresholds t_k: fixed ones if given, else the batch's score quantiles."""
        if self.thresholds is not None:
            return self.thresholds.to(score.dtype)
        return torch.quantile(score.detach(), self.levels.to(score.dtype))

    def forward(self, batch: PenaltyInputs) -> torch.Tensor:
        s = batch.outputs.reshape(-1)
        if self.cut_space == "logit":
            s = torch.logit(s, eps=1e-6)
        if len(s) < 2:
            return s.new_zeros(())
        w = batch.weights.reshape(-1).to(s.dtype)
        pt_bin = bin_of(required(self, batch.condition), self.pt_edges)
        cell = pt_bin * self.n_iso_bins + bin_of(batch.protected, self.iso_edges[pt_bin])
        if self.window is not None and self.thresholds is None:
            lv = self.levels.to(s.dtype)
            q = torch.quantile(
                s.detach(),
                torch.cat([lv, (lv - self.window).clamp(0, 1), (lv + self.window).clamp(0, 1)]),
            )
            cuts, lo, hi = q.reshape(3, -1)
            tau = ((hi - lo) / 4).clamp_min(1e-3)
            passed = torch.sigmoid((s[:, None] - cuts[None, :]) / tau[None, :])
        else:
            passed = torch.sigmoid((s[:, None] - self.cut_values(s)[None, :]) / self.tau)  # (n, K)
        n_cells, k = self.n_pt_bins * self.n_iso_bins, passed.shape[1]
        w_cell = s.new_zeros(n_cells).index_add(0, cell, w)
        p_cell = s.new_zeros(n_cells, k).index_add(0, cell, w[:, None] * passed)
        w_pt = w_cell.reshape(self.n_pt_bins, -1).sum(dim=1)
        p_pt = p_cell.reshape(self.n_pt_bins, self.n_iso_bins, k).sum(dim=1)
        eff_cell = p_cell / w_cell.clamp_min(1e-12)[:, None]
        eff_pt = (p_pt / w_pt.clamp_min(1e-12)[:, None]).repeat_interleave(self.n_iso_bins, 0)
        ok = torch.bincount(cell, minlength=n_cells) >= self.min_events
        if not ok.any():
            return s.new_zeros(())
        if self.diff == "logit":
            e_c, e_b = eff_cell.clamp(1e-4, 1 - 1e-4), eff_pt.clamp(1e-4, 1 - 1e-4)
            d = torch.logit(e_c) - torch.logit(e_b)
        elif self.diff == "log":
            d = eff_cell.clamp_min(1e-4).log() - eff_pt.clamp_min(1e-4).log()
        else:
            d = eff_cell - eff_pt
        wc = w_cell * ok
        norm = k * wc.sum()
        if self.ema is None:
            value = (wc[:, None] * d.pow(2)).sum() / norm
            return self.strength * value + (1 - self.strength) * value.detach()
        with torch.no_grad():
            upd = ok[:, None] & torch.ones_like(d, dtype=torch.bool)
            first = upd & ~self.ema_seen
            dd = d.to(self.ema_d.dtype)
            self.ema_d = torch.where(
                first, dd, torch.where(upd, self.ema * self.ema_d + (1 - self.ema) * dd, self.ema_d)
            )
            self.ema_seen = self.ema_seen | upd
            if self.integral and self.strength > 0:
                self.mult = self.mult + self.integral * self.strength * self.ema_d * upd
            dbar = self.ema_d.to(d.dtype)
            coef = 2 * dbar + self.mult.to(d.dtype)
        value = (wc[:, None] * dbar.pow(2)).sum() / norm
        surrogate = (wc[:, None] * coef * (d - d.detach())).sum() / norm
        return value + self.strength * surrogate
