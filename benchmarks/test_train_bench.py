"""Time per QAT epoch of photon_id (4000 sim events, batch 1024) with each penalty, and each
penalty's cost relative to none (in the summary of `make bench`)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.results import compare, median_seconds, size
from datrig.da.registry import PENALTIES

N_TRAIN = size(4000, 500)

# the penalties that train photon_id (peak trains energy regressions only)
PHOTON_ID_PENALTIES = [
    name
    for name, cls in PENALTIES.items()
    if cls.applies_to("pt", compensated=True, output_kind="logit")
]

for _da in PHOTON_ID_PENALTIES:
    if _da != "none":
        compare(f"QAT epoch time, {_da} / none", f"qat_epoch.{_da}", "qat_epoch.none")


@pytest.fixture(scope="module")
def bench_data(tmp_path_factory):
    from datrig.runtime import configure_torch
    from datrig.sim.simulate import simulate

    configure_torch(1)
    out = tmp_path_factory.mktemp("train_bench")
    simulate(out, size(7000, 1200), 10, seed=11, progress=False)
    return out


@pytest.mark.parametrize("da", PHOTON_ID_PENALTIES)
def test_qat_epoch(benchmark, bench_data, da):
    """One epoch over N_TRAIN sim (+N_TRAIN unlabeled data for frt) photon candidates."""
    from datrig.train.config import TrainConfig
    from datrig.train.loop import Trainer

    options = {"warmup_epochs": 0} if da == "adversarial" else {}
    cfg = TrainConfig(
        model="photon_id", da=da, lam=1.0, epochs=1, batch_size=1024, n_train=N_TRAIN,
        data_dir=str(bench_data), penalty_options=options,
    )  # fmt: skip
    trainer = Trainer(cfg, bench_data / "unused", progress=False)
    state = trainer.prepare()
    rounds = {"epoch": 0}

    def one_epoch():
        trainer.train_epoch(rounds["epoch"], *state)
        rounds["epoch"] += 1

    benchmark.pedantic(one_epoch, rounds=5, warmup_rounds=1)
    assert np.isfinite(trainer.curves["train_task"][-1])
    median_seconds(benchmark, f"qat_epoch.{da}", "s/epoch")


compare("forward + EBOPs of a step, recorded / fresh", "ebops_step.recorded", "ebops_step.fresh")


@pytest.mark.parametrize("source", ["fresh", "recorded"])
def test_forward_and_ebops_of_a_step(benchmark, source):
    """A learned-bit photon_id-sized MLP's forward pass plus its resource term, with the bit
    widths and quantized weights asked of Brevitas again (fresh) or read from the forward
    pass itself (datrig.quant.cost.QuantRecorder, what training does)."""
    import torch

    from datrig.models.mlp import QuantMLP
    from datrig.quant.config import QuantConfig
    from datrig.quant.cost import QuantRecorder, ebops

    torch.manual_seed(1)
    model = QuantMLP(16, (32, 16), QuantConfig(learned_bits=True)).train()
    x = torch.randn(size(1024, 128), 16)
    recorder = QuantRecorder(model) if source == "recorded" else None

    def step():
        model(x)
        seen = recorder.take() if recorder is not None else None
        return ebops(model, 1, seen)

    cost = benchmark.pedantic(step, rounds=30, warmup_rounds=2)
    assert float(cost) > 0
    median_seconds(benchmark, f"ebops_step.{source}", "s/step")
