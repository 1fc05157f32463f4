"""Acceptance of issue 3 on the default data (slow: trains each model to the default epochs).

Run with ``pytest -m slow tests/train/test_train_acceptance.py``; runs go to a temporary folder.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_data():
    from datrig.sim.default import ensure_default_data

    return ensure_default_data(progress=False)


@pytest.fixture(scope="module")
def run(default_data, tmp_path_factory):
    from datrig.train.loop import train
    from datrig.train.runs import resolve_config

    cache: dict[tuple[str, str], dict] = {}

    def get(model: str, da: str) -> dict:
        if (model, da) not in cache:
            cfg = resolve_config(model, da, default_data, seed=1)
            out = tmp_path_factory.mktemp(f"{model}_{da}")
            cache[model, da] = train(cfg, out, progress=False)
        return cache[model, da]

    return get


@pytest.mark.xfail(
    reason="criterion 1 of issue 3 is beyond the independence bound of the toy (see "
    "test_criterion_1_is_beyond_the_independence_bound): DisCo lam=3 gives dCor 0.160 -> 0.066 "
    "(2.4x) at -12% rejection@80%, lam 10-30 give 4.3-4.8x at -36..-49%",
    strict=True,  # if a toy or training change ever meets it, this fails: drop the xfail then
)
def test_photon_id_disco_decorrelates_isolation(run):
    none, disco = (
        run("photon_id", "none")["quant"]["sim"],
        run("photon_id", "disco")["quant"]["sim"],
    )
    assert disco["dcor_sigmoid_iso_calo_bkg"] * 5 <= none["dcor_sigmoid_iso_calo_bkg"]
    assert disco["rejection_at_80"] >= 0.9 * none["rejection_at_80"]


def test_criterion_1_is_beyond_the_independence_bound(run, default_data):
    """Why the test above fails: a score independent of iso_calo among fakes passes the same
    fake fraction in every isolation decile; in the most isolated ones even the best
    classifier of the same inputs (gradient boosting on 250k events per fold, ~0.5 below its
    large-sample limit) keeps far less than 90 % of the unconstrained network's rejection."""
    from datrig.data.reader import read_columns
    from datrig.validate.decorrelation_bound import independent_rejection_bound
    from datrig.validate.report import BOUND_FEATURES, bound_features

    none = run("photon_id", "none")["quant"]["sim"]
    sim = read_columns(default_data / "photons_sim.h5", [*BOUND_FEATURES, "label", "iso_calo"])
    features = bound_features(sim)
    bound = independent_rejection_bound(
        features, sim["label"], sim["iso_calo"], efficiency=0.8, n_slices=10, seed=1
    )
    print(f"independence bound {bound.rejection:.2f}, per decile {bound.rejection_per_slice}")
    assert bound.rejection < 0.75 * none["rejection_at_80"]


def test_photon_id_adversarial_decorrelates_isolation(run):
    none = run("photon_id", "none")["quant"]["sim"]
    adv = run("photon_id", "adversarial")["quant"]["sim"]
    assert adv["dcor_sigmoid_iso_calo_bkg"] < 0.7 * none["dcor_sigmoid_iso_calo_bkg"]


def test_photon_energy_da_reduces_domain_shift(run):
    none = run("photon_energy", "none")["summary"]["median_response_data_minus_sim_quant"]
    disco_run = run("photon_energy", "disco")
    disco = disco_run["summary"]["median_response_data_minus_sim_quant"]
    assert abs(disco) < abs(none)
    iqr_none = run("photon_energy", "none")["quant"]["sim"]["iqr_half"]
    assert disco_run["quant"]["sim"]["iqr_half"] < 1.2 * iqr_none


def test_diphoton_disco_sculpts_less(run):
    none, disco = run("diphoton", "none")["quant"]["sim"], run("diphoton", "disco")["quant"]["sim"]
    assert disco["jsd_mgg_50"] < 0.5 * none["jsd_mgg_50"]


@pytest.mark.parametrize("model", ["photon_id", "diphoton", "photon_id_gnn"])
def test_quantized_close_to_float(run, model):
    summary = run(model, "none")["summary"]
    assert abs(summary["auc_quant_minus_float_sim"]) < 0.01
