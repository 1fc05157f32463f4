"""A photon ID that compensates its own isolation dependence: output = s(x) - c(pT, iso).

A designed decorrelation (DDT) thresholds a strong classifier score ``s`` per (pT, isolation)
cell so that fakes pass at the same rate everywhere; then the ABCD factor is 1 whatever the
score ``s`` learned, and ``s`` keeps all its rejection in the isolated region where the photons
are. This network learns that threshold map: a *score branch* ``s`` that never sees the
protected variable (isolation), and a *compensation branch* ``c`` of the conditioning and
protected variables (pT, isolation), trained to be the conditional quantile of ``s`` among fakes
(:mod:`datrig.da.ddt`). The firmware computes ``s - c``.

Both branches live in one dense quantized MLP whose weights are block-masked: hidden layer k
has ``hidden[k]`` score units (reading the score inputs) and ``compensation[k]`` compensation
units (reading the compensation inputs), the blocks never mix, and the output layer sums both.
For export it is an ordinary MLP (the masked weights are exact zeros, which cost nothing in
distributed-arithmetic firmware), so the QONNX -> hls4ml flow and the emulator are unchanged.

Without compensation units (``compensation_hidden == ()``, every penalty but ``ddt``) the same
class is a plain MLP that is *blind* to the protected input: the photon ID's inputs include
isolation for the compensation, and a score that read it would simply cut on isolation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from datrig.errors import DatrigError
from datrig.models import threshold_table as tt
from datrig.models.latent import ModelTerms, plain_tensor
from datrig.models.mlp import QuantMLP
from datrig.quant.config import QuantConfig


@dataclass(frozen=True)
class Branches:
    """Which inputs and hidden units belong to the score and to the compensation branch."""

    score_inputs: tuple[int, ...]
    compensation_inputs: tuple[int, ...]
    score_hidden: tuple[int, ...]
    compensation_hidden: tuple[int, ...]

    @property
    def compensated(self) -> bool:
        return bool(self.compensation_hidden)

    def __post_init__(self) -> None:
        if not self.compensated:
            return
        if len(self.score_hidden) != len(self.compensation_hidden):
            raise DatrigError(
                f"the compensation branch needs one width per hidden layer of the score branch "
                f"({len(self.score_hidden)}), got {list(self.compensation_hidden)}"
            )
        if min(self.compensation_hidden) < 1 or not self.compensation_inputs:
            raise DatrigError("the compensation branch needs inputs and positive widths")

    @property
    def widths(self) -> tuple[int, ...]:
        """Hidden widths of the combined network."""
        if not self.compensated:
            return self.score_hidden
        return tuple(
            s + c for s, c in zip(self.score_hidden, self.compensation_hidden, strict=True)
        )

    def masks(self, n_inputs: int) -> list[torch.Tensor]:
        """0/1 weight masks (out, in) of every linear layer, the output layer last."""
        masks = []
        rows_in = [list(self.score_inputs), list(self.compensation_inputs)]
        n_in = n_inputs
        comp = self.compensation_hidden or (0,) * len(self.score_hidden)
        for hs, hc in zip(self.score_hidden, comp, strict=True):
            m = torch.zeros(hs + hc, n_in)
            m[:hs, rows_in[0]] = 1.0
            m[hs:, rows_in[1]] = 1.0
            masks.append(m)
            rows_in = [list(range(hs)), list(range(hs, hs + hc))]
            n_in = hs + hc
        masks.append(torch.ones(1, n_in))
        return masks


class CompensatedMLP(QuantMLP):
    """``QuantMLP`` of widths ``score + compensation`` per layer with block-masked weights.

    ``forward`` is the deployed output ``s - c``; :meth:`forward_terms` also gives ``s`` (what
    the task loss trains), ``c`` (what the DDT penalty fits) and the score branch's latent.
    """

    def __init__(
        self,
        n_inputs: int,
        branches: Branches,
        quant: QuantConfig,
        output_init: float = 0.0,
        threshold_table: bool = False,
    ) -> None:
        widths = branches.widths
        super().__init__(n_inputs, widths, quant, output_init)
        self.branches = branches
        # the closed-form compensation (datrig.models.threshold_table): c = T[cell], no units
        self.has_table = bool(threshold_table)
        if self.has_table:
            if branches.compensated:
                raise DatrigError("a threshold table replaces the compensation units: not both")
            tt.register_table(self)
        linears = [getattr(self, f"fc{i}") for i in range(1, len(widths) + 1)] + [self.fc_out]
        n_score = branches.score_hidden[-1]
        self.register_buffer("score_units", torch.arange(widths[-1]) < n_score, persistent=False)
        for layer, mask in zip(linears, branches.masks(n_inputs), strict=True):
            layer.register_buffer("datrig_mask", mask, persistent=False)
        # a plain tuple, not submodules: walking self.modules() after every optimizer step
        # (Brevitas nests dozens per layer) was 7 % of a photon_id training step
        self._masked_layers = tuple(linears)
        self.after_optimizer_step()

    @torch.no_grad()
    def after_optimizer_step(self) -> None:
        """Keep the masked weights at exactly zero (Adam moves every entry it has a gradient
        for; a gradient hook would not survive Brevitas re-creating parameters on load)."""
        for module in self._masked_layers:
            module.weight.mul_(module.datrig_mask)

    def forward_terms(self, x: torch.Tensor) -> ModelTerms:
        """Output ``s - c`` (through the output quantizer), and ``s``, ``c`` before it; with a
        threshold table, ``c`` is the table's threshold and the output ``s - c`` exactly."""
        if self.has_table:
            terms = super().forward_terms(x)
            if not tt.is_fitted(self):  # every training step: no lookup to pay for
                threshold = torch.zeros_like(terms.task)
            else:
                xq = plain_tensor(self.input_quant(x))
                cond, prot = self.branches.compensation_inputs
                threshold = tt.lookup(self, xq, cond, prot).to(terms.task.dtype)
            return ModelTerms(
                terms.task - threshold, terms.task, threshold, terms.latent, terms.score_latent
            )
        if not self.branches.compensated:
            return super().forward_terms(x)
        z = self.encode(x)
        latent = plain_tensor(z)
        output = self.head(z).reshape(-1)
        keep = self.score_units.to(latent.dtype)
        score = self.fc_out(latent * keep).reshape(-1)  # includes the bias
        compensation = score - self.fc_out(latent).reshape(-1)  # = -(compensation units' sum)
        return ModelTerms(output, score, compensation, latent, latent[:, self.score_units])

    def compensation_parameters(self) -> list[tuple[torch.nn.Parameter, torch.Tensor]]:
        """(parameter, 0/1 mask of its compensation-branch entries): what a refit of ``c``
        alone may change. The output bias belongs to the score (``s`` includes it)."""
        out = []
        start = 0
        for i, n_score in enumerate(self.branches.score_hidden, start=1):
            layer = getattr(self, f"fc{i}")
            rows = torch.arange(layer.weight.shape[0]) >= n_score
            out.append((layer.weight, layer.datrig_mask * rows[:, None]))
            out.append((layer.bias, rows.to(layer.bias.dtype)))
            start = n_score
        cols = (torch.arange(self.fc_out.weight.shape[1]) >= start).to(self.fc_out.weight.dtype)
        out.append((self.fc_out.weight, cols[None, :].expand_as(self.fc_out.weight).clone()))
        return out

    @torch.no_grad()
    def revive_dead_compensation(self, x: torch.Tensor) -> int:
        """Give every compensation unit that is off on all of ``x`` the mirrored weights of a
        live one; returns how many were revived.

        A ReLU unit that the pinball loss pushed below zero everywhere never gets a gradient
        again. When the survivors all have output weights of one sign, ``c`` can only move
        one way: measured (photon_id, seed 57) 3 of 4 last-layer units dead, ``c`` in
        [0, 2.3] where the fakes' quantile needs -6 at high isolation, R 1.5-1.7 instead of 1.
        The mirror (row and bias negated) of the live unit whose activity is nearest 1/2 is
        on where that unit is off, which is where the branch has nothing; its outgoing
        weights start at zero, so ``c`` does not move (unless a zeroed weight set its layer's
        power-of-two scale) until the refit trains them. Deterministic:
        no random numbers.
        """
        revived = 0
        z = x
        modules = dict(self.named_children())
        z = modules["input_quant"](z)
        n_layers = len(self.branches.score_hidden)
        for i, n_score in enumerate(self.branches.score_hidden, start=1):
            fc, relu = modules[f"fc{i}"], modules[f"relu{i}"]
            nxt = modules[f"fc{i + 1}"] if i < n_layers else self.fc_out
            active = (plain_tensor(relu(fc(z))) > 0).double().mean(0)
            units = range(n_score, fc.weight.shape[0])
            live = [j for j in units if 0 < active[j] < 1]
            dead = [j for j in units if active[j] == 0]
            if dead and live:
                source = min(live, key=lambda j: (abs(float(active[j]) - 0.5), j))
                for j in dead:
                    fc.weight[j] = -fc.weight[source]
                    fc.bias[j] = -fc.bias[source]
                    nxt.weight[:, j] = 0.0
                revived += len(dead)
            z = relu(fc(z))
        return revived

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        if self.has_table:
            tt.resize_from_state(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def check_masks(self) -> None:
        """The masked weights are still exact zeros (an optimizer with weight decay, or a
        hand-edited state dict, would break the branch structure silently)."""
        for name, module in self.named_modules():
            mask = getattr(module, "datrig_mask", None)
            if mask is not None and torch.any(module.weight.detach()[mask == 0] != 0):
                raise DatrigError(
                    f"layer {name} has non-zero weights outside its branch block; the model is "
                    "no longer a score minus a compensation"
                )


def branches_from_config(cfg: dict[str, Any]) -> Branches:
    comp = cfg["compensation"]
    return Branches(
        score_inputs=tuple(comp["score_inputs"]),
        compensation_inputs=tuple(comp["inputs"]),
        score_hidden=tuple(cfg["hidden"]),
        compensation_hidden=tuple(comp["hidden"]),
    )


def build_id_mlp(cfg: dict[str, Any]) -> QuantMLP:
    """The photon-ID MLP of a checkpoint's ``model_config``: branched (blind to the protected
    input, with or without compensation units) when the config has a ``compensation`` entry,
    else a plain :class:`QuantMLP`."""
    quant = QuantConfig.from_dict(cfg["quant"])
    init = cfg.get("output_init", 0.0)
    if cfg.get("compensation") is None:
        return QuantMLP(cfg["n_inputs"], tuple(cfg["hidden"]), quant, output_init=init)
    table = bool(cfg["compensation"].get("table", False))
    return CompensatedMLP(
        cfg["n_inputs"], branches_from_config(cfg), quant, output_init=init, threshold_table=table
    )
