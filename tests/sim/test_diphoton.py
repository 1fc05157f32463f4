"""The diphoton toy is a realistic signal/background problem (issue 2 item 4, issue 5).

Real statistics on the session toy (40k events per domain, trained on the first half, tested
on the second): a classifier on all features separates moderately (not trivially), the raw
momenta sculpt the background m_gg and the scaled ones do not. Run with -s to see the
measured numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from datrig.data.reader import read_columns
from datrig.sim.activity import ACTIVITY_FIELDS
from datrig.sim.config import GeneratorConfig

RAW = ("pt1", "pt2", "pt_gg")
SCALED = ("pt1_over_mgg", "pt2_over_mgg", "pt_gg_over_mgg")
ETAS = ("eta1", "eta2")
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "raw": RAW,
    "scaled": SCALED,
    "all": (*RAW, *ETAS, *ACTIVITY_FIELDS),  # what the diphoton model sees
    "scaled_all": (*SCALED, *ETAS, *ACTIVITY_FIELDS),
}
MGG_BINS = np.linspace(105.0, 160.0, 12)  # GeV
TEST_EVENTS_PER_DOMAIN = 100_000  # the default data's test split


def _jsd(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2) of two histograms."""
    p = p / p.sum()
    q = q / q.sum()
    m = 0.5 * (p + q)

    def kl(a, b):
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / b[nz])))

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def _pass_fail_jsd(m_bkg: np.ndarray, passed: np.ndarray) -> float:
    hp = np.histogram(m_bkg[passed], MGG_BINS)[0].astype(float)
    hf = np.histogram(m_bkg[~passed], MGG_BINS)[0].astype(float)
    return _jsd(hp, hf)


def _jsd_floor(m_bkg: np.ndarray, pass_fraction: float, seed: int = 0) -> float:
    """JSD of random (unsculpted) pass/fail splits: mean + 3 sd over 20 trials."""
    rng = np.random.default_rng(seed)
    trials = [_pass_fail_jsd(m_bkg, rng.random(len(m_bkg)) < pass_fraction) for _ in range(20)]
    return float(np.mean(trials) + 3 * np.std(trials))


class Cut:
    """A classifier cut at 50 % signal efficiency on the test half, with its background."""

    def __init__(self, score: np.ndarray, label: np.ndarray, m_gg: np.ndarray):
        sig, bkg = label == 1, label == 0
        self.auc = float(roc_auc_score(label, score))
        threshold = np.median(score[sig])
        self.passed = score[bkg] > threshold
        self.m_bkg = m_gg[bkg]
        self.pass_fraction = float(self.passed.mean())
        self.rejection = 1.0 / max(self.pass_fraction, 1e-12)
        self.jsd = _pass_fail_jsd(self.m_bkg, self.passed)
        self.floor = _jsd_floor(self.m_bkg, self.pass_fraction)


@pytest.fixture(scope="module")
def cuts(toy_dir) -> dict[str, Cut]:
    names = sorted({f for feats in FEATURE_SETS.values() for f in feats} | {"m_gg", "label"})
    cols = read_columns(toy_dir / "diphoton_sim.h5", names)
    y = cols["label"].astype(int)
    train = np.arange(len(y)) < len(y) // 2
    out = {}
    for name, feats in FEATURE_SETS.items():
        x = np.stack([cols[f].astype(np.float64) for f in feats], axis=1)
        clf = HistGradientBoostingClassifier(max_iter=120, learning_rate=0.1, random_state=0)
        clf.fit(x[train], y[train])
        score = clf.predict_proba(x[~train])[:, 1]
        out[name] = Cut(score, y[~train], cols["m_gg"][~train].astype(np.float64))
    for name, c in out.items():
        print(
            f"diphoton {name:>10}: AUC {c.auc:.3f}, rejection@50% {c.rejection:6.1f}, "
            f"bkg JSD pass/fail {c.jsd:.2e} (floor {c.floor:.2e}, ratio {c.jsd / c.floor:.1f}), "
            f"bkg passing {c.passed.sum()} of {c.passed.size}"
        )
    return out


def test_separation_is_moderate(cuts):
    """All features: clearly better than activity-blind, far from trivial (issue 5 needs a few
    thousand background events passing the cut at 100k test events to measure a JSD)."""
    c = cuts["all"]
    bkg_fraction = 1.0 - GeneratorConfig().diphoton.signal_fraction
    expected_pass = c.pass_fraction * bkg_fraction * TEST_EVENTS_PER_DOMAIN
    print(
        f"expected background passing at {TEST_EVENTS_PER_DOMAIN} test events: {expected_pass:.0f}"
    )
    assert 0.75 <= c.auc <= 0.95, f"AUC {c.auc:.3f} outside [0.75, 0.95]"
    assert 3.0 <= c.rejection <= 60.0, f"rejection {c.rejection:.1f} outside [3, 60]"
    assert expected_pass > 800


def test_activity_adds_separation(cuts):
    """The ttH-like activity matters (so a decorrelated model keeps separation without m_gg)."""
    assert cuts["all"].auc > cuts["raw"].auc + 0.05
    assert cuts["scaled_all"].auc > cuts["scaled"].auc + 0.05


@pytest.mark.parametrize("raw, scaled", [("raw", "scaled"), ("all", "scaled_all")])
def test_mass_sculpting(cuts, raw, scaled):
    """(issue 2, item 4) The raw photon pT's and pT_gg sculpt the background m_gg at 50 %
    signal efficiency, with or without the activity; pT/m_gg much less."""
    r, s = cuts[raw], cuts[scaled]
    for c in (r, s):
        assert c.passed.sum() > 100 and (~c.passed).sum() > 100, "degenerate cut"
    assert r.jsd > (5.0 if raw == "raw" else 3.0) * r.floor, (
        f"{raw}: JSD {r.jsd:.2e} not clearly above the floor {r.floor:.2e}"
    )
    assert s.jsd < 0.3 * r.jsd, f"{scaled}: JSD {s.jsd:.2e} vs {raw} {r.jsd:.2e}"


def test_background_activity_does_not_know_m_gg(toy_dir):
    """Activity carries no m_gg information in the background: a classifier cannot tell low
    from high m_gg background events by their activity (AUC ~ 0.5, sigma ~ 0.004 with both
    domains' files, whose activity is simulated alike)."""
    names = [*ACTIVITY_FIELDS, "m_gg", "label"]
    parts = [read_columns(toy_dir / f"diphoton_{d}.h5", names) for d in ("sim", "data")]
    cols = {k: np.concatenate([p[k] for p in parts]) for k in names}
    bkg = cols["label"] == 0
    x = np.stack([cols[f][bkg].astype(np.float64) for f in ACTIVITY_FIELDS], axis=1)
    high = (cols["m_gg"][bkg] > np.median(cols["m_gg"][bkg])).astype(int)
    train = np.arange(len(high)) < len(high) // 2
    clf = HistGradientBoostingClassifier(max_iter=50, random_state=0).fit(x[train], high[train])
    auc = roc_auc_score(high[~train], clf.predict_proba(x[~train])[:, 1])
    print(f"background activity -> (m_gg > median) AUC {auc:.3f}")
    assert abs(auc - 0.5) < 0.025


@pytest.fixture(scope="module")
def mixture():
    """20k sim events with their (unstored) process truth, generated directly."""
    from datrig.sim.diphoton import diphoton_chunk_with_process

    return diphoton_chunk_with_process(np.random.default_rng(5), 20_000, GeneratorConfig(), "sim")


def test_process_fractions_follow_the_config(mixture):
    from datrig.sim.diphoton import PROCESSES

    rows, process = mixture
    fractions = GeneratorConfig().diphoton.process_fractions()
    assert tuple(fractions) == PROCESSES
    for index, name in enumerate(PROCESSES):
        got = np.mean(process == index)
        sigma = np.sqrt(fractions[name] * (1 - fractions[name]) / len(process))
        assert abs(got - fractions[name]) < 4 * sigma, f"{name}: {got:.4f} vs {fractions[name]}"
    np.testing.assert_array_equal(rows["label"], (process == 0).astype(np.int8))


def test_background_components_share_the_falling_m_gg(mixture):
    """tt+gamma-gamma is non-resonant: same m_gg shape as the continuum, falling over 105-160."""
    from scipy.stats import ks_2samp

    rows, process = mixture
    continuum, ttgg = rows["m_gg"][process == 1], rows["m_gg"][process == 2]
    p_value = ks_2samp(continuum, ttgg).pvalue
    assert p_value > 1e-3, f"continuum and ttgg m_gg differ (KS p = {p_value:.1e})"
    counts = np.histogram(np.concatenate([continuum, ttgg]), np.linspace(105, 160, 6))[0]
    assert np.all(np.diff(counts) < 0), f"background m_gg not falling: {counts}"


def _activity_auc(rows, a: np.ndarray, b: np.ndarray) -> float:
    x = np.stack([rows[f].astype(np.float64) for f in ACTIVITY_FIELDS], axis=1)
    sel = a | b
    x, y = x[sel], a[sel].astype(int)
    train = np.arange(len(y)) < len(y) // 2
    clf = HistGradientBoostingClassifier(max_iter=50, random_state=0).fit(x[train], y[train])
    return float(roc_auc_score(y[~train], clf.predict_proba(x[~train])[:, 1]))


def test_ttgg_has_signal_like_activity_continuum_does_not(mixture):
    rows, process = mixture
    signal = process == 0
    auc_ttgg = _activity_auc(rows, signal, process == 2)
    auc_continuum = _activity_auc(rows, signal, process == 1)
    print(f"activity AUC: signal vs ttgg {auc_ttgg:.3f}, signal vs continuum {auc_continuum:.3f}")
    assert abs(auc_ttgg - 0.5) < 0.04
    assert auc_continuum > 0.9


def test_same_seed_same_events():
    from datrig.sim.diphoton import diphoton_chunk

    cfg = GeneratorConfig()
    a = diphoton_chunk(np.random.default_rng(3), 2000, cfg, "data")
    b = diphoton_chunk(np.random.default_rng(3), 2000, cfg, "data")
    c = diphoton_chunk(np.random.default_rng(4), 2000, cfg, "data")
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a["m_gg"], c["m_gg"])
    assert np.all(a["domain"] == 1) and a.shape == (2000,)


def test_unreachable_acceptance_is_a_clear_error():
    """A config whose events can never pass the pT/m_gg cuts fails instead of looping."""
    from datrig.errors import DatrigError
    from datrig.sim.config import config_from_dict
    from datrig.sim.diphoton import diphoton_chunk

    cfg = config_from_dict({"diphoton": {"lead_cut": 5.0}})
    with pytest.raises(DatrigError, match="passes the acceptance"):
        diphoton_chunk(np.random.default_rng(0), 10, cfg, "sim")
