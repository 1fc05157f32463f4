from __future__ import annotations

import pytest
import torch

from datrig.da.base import Penalty, PenaltyInputs
from datrig.da.registry import PENALTIES, make_penalty
from datrig.errors import DatrigError


def test_registry_names():
    assert set(PENALTIES) == {
        "none", "disco", "adversarial", "frt", "disco_pt", "flat", "ddt", "peak",
    }  # fmt: skip


def test_unknown_penalty_lists_valid_names():
    with pytest.raises(DatrigError, match="disco"):
        make_penalty("dsco")


def test_none_is_zero():
    batch = PenaltyInputs(*(torch.ones(4) for _ in range(3)), torch.ones(4, 2), torch.ones(4, 2),
                          torch.zeros(4))  # fmt: skip
    assert float(make_penalty("none")(batch)) == 0.0


class MeanShiftPenalty(Penalty):
    """A new penalty as a user would add it: one class (its own file) + one registry line.
    Squared covariance between score and protected variable, a crude decorrelation."""

    name = "meanshift"
    generic_lam = 2.0

    def forward(self, batch: PenaltyInputs) -> torch.Tensor:
        s, p = batch.outputs, batch.protected.float()
        return ((s - s.mean()) * (p - p.mean())).mean() ** 2


def test_lam_defaults_come_from_the_penalty():
    from datrig.da.registry import penalty_class

    assert penalty_class("disco").lam_for("photon_id") == 3.0
    assert penalty_class("disco").lam_for("some_new_model") == 1.0  # generic default
    assert MeanShiftPenalty.lam_for("photon_id") == 2.0

    class NoDefault(MeanShiftPenalty):
        generic_lam = None

    with pytest.raises(DatrigError, match="no default strength for model 'photon_id'; pass --lam"):
        NoDefault.lam_for("photon_id")


def test_a_new_penalty_is_trained_and_validated_without_touching_other_files(
    tmp_path, monkeypatch, capsys
):
    """Registering the class is all it takes: `datrig validate` trains the missing run of
    every registered penalty, the new one included, and compares them (issue 10)."""
    import dataclasses
    import json

    from datrig.cli import main
    from datrig.models import registry
    from datrig.sim.simulate import simulate

    monkeypatch.setitem(PENALTIES, "meanshift", MeanShiftPenalty)
    quick = dataclasses.replace(
        registry.MODELS["photon_id"], default_epochs=3, default_updates=None
    )
    monkeypatch.setitem(registry.MODELS, "photon_id", quick)  # the mechanics, not the physics
    simulate(tmp_path / "data", 1500, 100, seed=4, progress=False)
    monkeypatch.chdir(tmp_path)
    argv = ["validate", "--model", "photon_id", "--data", str(tmp_path / "data"),
            "--no-firmware", "--seed", "2", "--seeds", "1", "--peers"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    metrics = json.loads((tmp_path / "reports/photon_id/metrics.json").read_text())["photon_id"]
    trained = {name for name, cls in PENALTIES.items() if cls.output_kinds is None}  # not peak
    assert set(metrics) == {*trained, "baseline", "plane"}
    config = json.loads((tmp_path / "runs/photon_id/meanshift/config.json").read_text())
    assert config["da"] == "meanshift" and config["lam"] == 2.0
    assert "meanshift" in (tmp_path / "reports/photon_id/report.md").read_text()
    # a second validate reuses every run (cached, seeded) instead of training again
    stamp = (tmp_path / "runs/photon_id/meanshift/checkpoint.pt").stat().st_mtime_ns
    assert main(argv) == 0
    assert (tmp_path / "runs/photon_id/meanshift/checkpoint.pt").stat().st_mtime_ns == stamp
