"""The compensated photon ID: two branches in one masked MLP, kept apart exactly."""

from __future__ import annotations

import pytest
import torch

from datrig.errors import DatrigError
from datrig.models.compensated import Branches, CompensatedMLP, build_id_mlp
from datrig.quant.config import QuantConfig

N_INPUTS = 6  # inputs 0-3: shower shapes; 4: log pT (both branches); 5: isolation
BRANCHES = Branches(
    score_inputs=(0, 1, 2, 3, 4),
    compensation_inputs=(4, 5),
    score_hidden=(8, 4),
    compensation_hidden=(4, 2),
)


def _model(branches: Branches = BRANCHES) -> CompensatedMLP:
    torch.manual_seed(0)
    return CompensatedMLP(N_INPUTS, branches, QuantConfig())


def _train_a_step(model: CompensatedMLP) -> None:
    """One Adam step with a gradient on every weight (masked entries included)."""
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    terms = model.forward_terms(torch.randn(64, N_INPUTS))
    loss = terms.task.sum() + terms.output.sum()
    if terms.compensation is not None:
        loss = loss + terms.compensation.pow(2).sum()
    loss.backward()
    opt.step()
    model.after_optimizer_step()


def test_score_branch_never_sees_isolation_and_compensation_never_sees_shapes():
    model = _model()
    _train_a_step(model)
    model.eval()
    x = torch.randn(256, N_INPUTS)
    other_iso, other_shapes = x.clone(), x.clone()
    other_iso[:, 5] = torch.randn(256) * 3
    other_shapes[:, :4] = torch.randn(256, 4) * 3
    with torch.no_grad():
        base = model.forward_terms(x)
        iso = model.forward_terms(other_iso)
        shapes = model.forward_terms(other_shapes)
    changed = int((base.task != iso.task).sum())
    assert changed == 0, f"{changed} of 256 score values move with isolation"
    changed = int((base.compensation != shapes.compensation).sum())
    assert changed == 0, f"{changed} of 256 compensation values move with the shower shapes"
    assert int((base.compensation != iso.compensation).sum()) > 0  # it does read isolation


def test_output_is_score_minus_compensation_through_the_output_quantizer():
    model = _model()
    _train_a_step(model)
    model.eval()
    with torch.no_grad():
        t = model.forward_terms(torch.randn(512, N_INPUTS))
    quant = QuantConfig()
    lsb = 2.0 ** (5 - (quant.output_bits - 1))  # output_max 32 -> 2**5 over 15 fraction bits
    inside = (t.task - t.compensation).abs() < quant.output_max - lsb
    diff = (t.output - (t.task - t.compensation))[inside].abs().max().item()
    assert diff <= lsb / 2, f"output differs from s - c by {diff} (LSB {lsb})"


def test_masked_weights_stay_exact_zeros_after_training_steps():
    model = _model()
    for _ in range(3):
        _train_a_step(model)
    model.check_masks()
    fc1 = model.fc1.weight.detach()
    assert int((fc1[:8, 5] != 0).sum()) == 0  # score units never read isolation
    assert int((fc1[8:, :4] != 0).sum()) == 0  # compensation units never read the shapes


def test_compensation_parameters_cover_only_the_compensation_branch():
    model = _model()
    masks = {id(p): m for p, m in model.compensation_parameters()}
    fc1 = masks[id(model.fc1.weight)]
    assert fc1[:8].sum() == 0 and fc1[8:, 4:].sum() == 4 * 2
    assert masks[id(model.fc_out.weight)].tolist() == [[0.0] * 4 + [1.0] * 2]
    assert id(model.fc_out.bias) not in masks  # the output bias belongs to the score


def test_blind_model_without_compensation_ignores_the_protected_input():
    blind = Branches((0, 1, 2, 3, 4), (4, 5), (8, 4), ())
    model = _model(blind)
    _train_a_step(model)
    model.eval()
    x = torch.randn(128, N_INPUTS)
    y = x.clone()
    y[:, 5] += 10.0
    with torch.no_grad():
        assert torch.equal(model(x), model(y))
        assert model.forward_terms(x).compensation is None


def test_build_from_config_round_trip():
    cfg = {
        "n_inputs": N_INPUTS,
        "hidden": [8, 4],
        "quant": QuantConfig().to_dict(),
        "compensation": {"hidden": [4, 2], "inputs": [4, 5], "score_inputs": [0, 1, 2, 3, 4]},
    }
    model = build_id_mlp(cfg)
    assert isinstance(model, CompensatedMLP) and model.fc1.weight.shape == (12, N_INPUTS)
    plain = build_id_mlp({**cfg, "compensation": None})
    assert not isinstance(plain, CompensatedMLP)


def test_mismatched_branch_depths_are_refused():
    with pytest.raises(DatrigError, match="one width per hidden layer"):
        Branches((0,), (1,), (8, 4), (4,))


def _comp_activity(model: CompensatedMLP, x: torch.Tensor) -> list[torch.Tensor]:
    """Fraction of ``x`` on which each compensation unit of each hidden layer is on."""
    out, z = [], model.input_quant(x)
    for i, n_score in enumerate(model.branches.score_hidden, start=1):
        z = getattr(model, f"relu{i}")(getattr(model, f"fc{i}")(z))
        out.append((z.value[:, n_score:] > 0).double().mean(0))
    return out


def test_dead_compensation_units_are_revived_without_moving_the_compensation():
    model = _model()
    model.eval()
    x = torch.randn(2048, N_INPUTS)
    with torch.no_grad():  # kill one unit of each compensation layer: no weights, bias < 0
        for layer, unit, nxt in ((model.fc1, 8 + 1, model.fc2), (model.fc2, 4 + 0, model.fc_out)):
            layer.weight[unit] = 0.0
            layer.bias[unit] = -0.1
            nxt.weight[:, unit] = 0.0  # a dead unit's outgoing weights never mattered
        before = model.forward_terms(x)
    dead = [int((a == 0).sum()) for a in _comp_activity(model, x)]
    assert dead == [1, 1], f"the test needs one dead unit per layer, has {dead}"

    assert model.revive_dead_compensation(x) == 2
    with torch.no_grad():
        after = model.forward_terms(x)
    still_dead = [int((a == 0).sum()) for a in _comp_activity(model, x)]
    assert still_dead == [0, 0], f"dead compensation units left after the revival: {still_dead}"
    moved = int((after.output != before.output).sum())
    assert moved == 0, f"the revival moved {moved} of 2048 outputs (its outgoing weights are 0)"
    model.check_masks()  # the mirrored rows stay inside the compensation block
    assert model.revive_dead_compensation(x) == 0  # nothing left to revive
