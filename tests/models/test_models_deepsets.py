from __future__ import annotations

import pytest
import torch

from datrig.errors import DatrigError
from datrig.models.deepsets import QuantDeepSets, averaging_matrix, build_deepsets
from datrig.quant.config import QuantConfig


def _model(n_cells: int = 32) -> QuantDeepSets:
    torch.manual_seed(0)
    return QuantDeepSets(4, n_cells, (16, 16), QuantConfig()).eval()


def test_pool_weight_is_exactly_one_over_n_after_quantization():
    model = _model()
    quant_weight = model.pool.quant_weight().value.detach()
    torch.testing.assert_close(quant_weight, averaging_matrix(16, 32), rtol=0, atol=0)
    assert not model.pool.weight.requires_grad


def test_permutation_invariant_bit_exact():
    model = _model()
    x = torch.randn(50, 4, 32)
    perm = torch.randperm(32)
    with torch.no_grad():
        a, b = model(x), model(x[:, :, perm])
    differ = int((a != b).sum())
    assert differ == 0, f"{differ} of {a.numel()} outputs change under a cell permutation"


def test_latent_is_the_mean_of_node_features():
    model = _model(8)
    x = torch.randn(5, 4, 8)
    with torch.no_grad():
        out, latent = model.forward_with_latent(x)
        torch.testing.assert_close(out, model(x).reshape(-1))
    assert latent.shape == (5, 16)


def test_non_power_of_two_cells_rejected():
    with pytest.raises(DatrigError, match="power-of-two"):
        QuantDeepSets(4, 24, (8,), QuantConfig())


def test_head_after_pooling_and_latent_is_its_last_relu():
    torch.manual_seed(0)
    model = QuantDeepSets(10, 16, (8,), QuantConfig(), head_widths=(12, 6)).eval()
    names = [n for n, _ in model.named_children()]
    assert names[names.index("pool_quant") + 1 :] == [
        "head1",
        "head_relu1",
        "head2",
        "head_relu2",
        "fc_out",
        "output_quant",
    ]
    x = torch.randn(20, 10, 16)
    with torch.no_grad():
        out, latent = model.forward_with_latent(x)
        torch.testing.assert_close(out, model(x).reshape(-1))
        permuted = model(x[:, :, torch.randperm(16)]).reshape(-1)
    assert latent.shape == (20, 6)
    assert int((out != permuted).sum()) == 0
    quant_weight = model.pool.quant_weight().value.detach()
    torch.testing.assert_close(quant_weight, averaging_matrix(8, 16), rtol=0, atol=0)


def test_checkpoint_config_without_head_builds_the_old_network():
    cfg = {"n_inputs": 4, "n_cells": 8, "hidden": [16, 16], "quant": QuantConfig().to_dict()}
    model = build_deepsets(cfg)
    assert not any(n.startswith("head") for n, _ in model.named_children())
    with_head = build_deepsets({**cfg, "head": [8], "output_init": 0.5})
    assert with_head.head1.out_features == 8
    assert float(with_head.fc_out.bias.detach()) == 0.5


def test_shipped_gnn_reads_the_whole_cell_window_as_one_node():
    from datrig.data.features import CELL_BUILDERS, N_WINDOW_CELLS
    from datrig.models.registry import get_model_spec

    spec = get_model_spec("photon_id_gnn")
    assert spec.cell_builder == "window" and CELL_BUILDERS["window"].window
    assert len(spec.feature_names) == N_WINDOW_CELLS + 1 == 109
    assert spec.transforms == ["identity"] * len(spec.feature_names)
    model = build_deepsets(
        {
            "n_inputs": len(spec.feature_names),
            "n_cells": 1,
            "hidden": list(spec.hidden),
            "head": list(spec.extra["head"]),
            "quant": QuantConfig().to_dict(),
        }
    ).eval()
    assert model.head1.in_features == spec.hidden[-1]
    # with one node the averaging "pooling" is the identity, exactly
    eye = torch.eye(spec.hidden[-1])
    torch.testing.assert_close(model.pool.quant_weight().value.detach(), eye, rtol=0, atol=0)


def test_learned_bits_reach_every_quantizer_of_a_deep_sets_network():
    """``--bits auto`` trains the activation widths of the per-node, pooling and head ReLUs
    too, as in the MLPs (not only the weight widths)."""
    from brevitas.nn import QuantReLU

    model = QuantDeepSets(11, 16, (8,), QuantConfig(learned_bits=True), head_widths=(8,))
    relus = [n for n, m in model.named_children() if isinstance(m, QuantReLU)]
    learned = {n.split(".")[0] for n, _ in model.named_parameters() if "bit_width_offset" in n}
    assert relus == ["node_relu1", "pool_quant", "head_relu1"]
    assert set(relus) | {"node1", "head1", "fc_out"} <= learned, learned
