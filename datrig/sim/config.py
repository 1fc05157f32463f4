"""Typed generator configuration, including every sim -> data mismodelling knob.

The whole config is stored as JSON in each output file, so a file says exactly how it was
made. Loading from YAML/JSON is strict: an unknown key is an error naming the dotted key.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datrig.errors import DatrigError, short

# Bump whenever the physics code changes: cached default data (datrig.data.default) is
# regenerated when the version or the config stored in a file differs.
GENERATOR_VERSION = "toycalo-4"  # 4: per-domain fragmentation


@dataclass(frozen=True)
class DomainKnobs:
    """Per-domain detector/beam conditions; ``data`` differs from ``sim`` only through these."""

    middle_width_scale: float = 1.0  # lateral shower width in the middle layer (x nominal)
    strip_width_scale: float = 1.0  # lateral width in the strips (x nominal)
    had_leak_scale: float = 1.0  # hadronic leakage of EM showers and hadron deposits (x nominal)
    material_scale: float = 1.0  # upstream material in X0 (x nominal)
    mu_mean: float = 35.0  # mean pile-up interactions per crossing
    mu_sd: float = 10.0  # spread of the pile-up distribution
    # Jet fragmentation (x photons.z_alpha). Below 1: softer fragmentation, i.e. more hadronic
    # activity around a fake's leading meson, hence *both* wider/leakier showers and more
    # isolation energy: a stronger ID-isolation correlation among fakes than the simulation
    # has. This is what makes a simulated ABCD factor R mis-correct a non-decorrelated ID.
    fragmentation_alpha_scale: float = 1.0


@dataclass(frozen=True)
class DetectorConfig:
    """Nominal detector response (before the domain knobs)."""

    material_x0_central: float = 1.8  # upstream material at eta = 0 [X0]
    material_x0_slope: float = 2.0  # extra material per unit |eta| [X0]
    tracker_fraction: float = 0.2  # fraction of upstream material inside the tracker (conversions)
    sampling_term: float = 0.10  # stochastic sampling fluctuation [sqrt(GeV)]
    constant_term: float = 0.007  # relative calibration non-uniformity
    critical_energy: float = 0.011  # for the Gamma longitudinal profile [GeV]
    noise_ps: float = 0.05  # cell noise, electronic [GeV]
    noise_strips: float = 0.008
    noise_middle: float = 0.025
    noise_back: float = 0.02
    noise_had: float = 0.06
    pileup_noise_per_sqrt_mu: float = 0.25  # multiplies the electronic noise by 1 + k*sqrt(mu/35)
    had_leak_fraction: float = 0.004  # EM energy deposited in the hadronic layer (punch/leak)
    # Core Gaussian sigma [eta]. In the strips (early shower, ~0.6 strip pitch) a single photon
    # has ws3 ~ 0.6 as in ATLAS, so a pi0 -> gamma gamma pair a few strips apart shows up.
    width_core_strips: float = 0.0018
    width_core_middle: float = 0.0105
    width_core_back: float = 0.02
    width_jitter: float = 0.10  # shower-to-shower lateral width fluctuation (log-normal sigma)
    width_tail_factor: float = 3.0  # tail sigma = factor * core sigma
    tail_fraction: float = 0.14
    conversion_phi_spread: float = 0.35  # e+e- separation in phi: spread / pT [rad GeV]


@dataclass(frozen=True)
class PhotonSampleConfig:
    """Photon-candidate sample: kinematics and the jet-fake model."""

    prompt_fraction: float = 0.5  # fraction of label-1 candidates
    pt_min: float = 20.0  # [GeV]
    pt_max: float = 250.0  # [GeV]
    pt_power: float = 3.0  # dN/dpT ~ pT^-power
    eta_max: float = 2.37
    crack: tuple[float, float] = (1.37, 1.52)  # excluded |eta| range
    # Leading meson is an eta (else a pi0): eta/pi0 ~ 0.5 at high pT in jets; its wide
    # gamma gamma (or 3 pi0) pattern is resolved in the strips.
    eta_meson_fraction: float = 0.3
    z_alpha: float = 1.6  # fragmentation z ~ z_min + (1 - z_min) * Beta(alpha, beta)
    z_beta: float = 1.2
    z_min: float = 0.12
    # Fraction of the other hadrons' energy inside the cluster ~ Beta (mean ~5 %): most of the
    # rest of the jet lands in the isolation cone, not in the 3x7 core.
    hadron_core_alpha: float = 2.0
    hadron_core_beta: float = 40.0
    hadron_em_fraction: float = 0.35  # fraction of a hadron deposit in the EM layers
    hadron_width: float = 0.035  # lateral sigma of hadron deposits [eta]
    charged_fraction: float = 0.62  # of hadron energy, carried by tracks
    iso_cone_fraction: float = 0.7  # of hadron energy outside the cluster, inside the cone
    ue_iso_mean: float = 0.8  # underlying-event contribution to iso_calo [GeV]
    pileup_iso_sigma: float = 0.25  # iso_calo fluctuation per sqrt(mu) [GeV]
    pileup_track_rate: float = 0.01  # pile-up tracks in the cone per mu
    pileup_track_pt: float = 1.3  # their mean pT [GeV]


@dataclass(frozen=True)
class ProcessConfig:
    """One diphoton process: its photon-pair kinematics and its event activity.

    The pair kinematics are scale-free (pT_gg and the decay angle do not depend on m_gg), so
    the raw photon pT's carry m_gg information and pT/m_gg does not.
    """

    ptgg_over_m: float = 0.4  # mean pT_gg / m_gg (Gamma distributed)
    ptgg_shape: float = 1.5  # Gamma shape of pT_gg / m_gg
    rapidity_sd: float = 1.2  # sigma of the diphoton rapidity
    cos_theta_power: float = 1.0  # |cos theta*| density ~ |cos|^k: 0 isotropic (spin 0)
    top_pair_fraction: float = 0.0  # events with a (decaying) top pair
    extra_jet_ratio: float = 0.45  # additional QCD jets: P(n) ~ ratio^n (Berends scaling)
    extra_jet_pt: float = 18.0  # mean pT of an additional jet above the threshold [GeV]
    extra_heavy_flavour: float = 0.04  # fraction of additional jets that are b jets


@dataclass(frozen=True)
class ActivityDetectorConfig:
    """Object reconstruction shared by all diphoton processes (jets, b-tagging, leptons, MET)."""

    jet_pt_min: float = 25.0  # jet threshold [GeV]
    top_jet_acceptance: float = 0.8  # probability that a top-decay quark gives a jet
    top_jet_pt: float = 45.0  # mean pT of a top-decay jet above the threshold [GeV]
    w_leptonic: float = 0.25  # W -> e/mu (+ tau -> e/mu) nu branching ratio
    lepton_efficiency: float = 0.8  # per lepton from a W
    fake_lepton_rate: float = 0.01  # fake or non-prompt leptons per event
    neutrino_pt: float = 40.0  # mean neutrino pT from a W [GeV]
    b_tag_efficiency: float = 0.7
    mistag_rate: float = 0.02  # light-jet b-tag probability
    met_soft: float = 8.0  # soft-term MET resolution per component [GeV]
    met_per_sqrt_ht: float = 0.5  # extra MET resolution per component [sqrt(GeV)]


@dataclass(frozen=True)
class DiphotonConfig:
    """Diphoton events: ttH-like H -> gamma gamma signal over a two-component background.

    Fractions are of *accepted* events. The background is continuum gamma-gamma + jets
    (little activity) plus tt+gamma-gamma-like events (ttH-like activity, no resonance); both
    have the same smoothly falling m_gg, so the activity does not depend on m_gg.
    """

    signal_fraction: float = 0.5
    ttgg_fraction: float = 0.45  # of the background: tt+gamma-gamma-like (rest: gamma-gamma+jets)
    m_higgs: float = 125.0  # [GeV]
    width_higgs: float = 0.004  # natural width, negligible vs resolution [GeV]
    m_min: float = 105.0  # [GeV]
    m_max: float = 160.0  # [GeV]
    bkg_slope: float = 0.035  # background m_gg ~ exp(-slope * m) [1/GeV]
    lead_cut: float = 0.35  # pT1/m_gg > lead_cut (scaled, as in ATLAS)
    sublead_cut: float = 0.25
    signal: ProcessConfig = field(
        default_factory=lambda: ProcessConfig(
            ptgg_over_m=0.6,
            ptgg_shape=2.0,
            rapidity_sd=0.9,
            cos_theta_power=0.0,
            top_pair_fraction=1.0,
            extra_jet_ratio=0.3,
            extra_jet_pt=20.0,
        )
    )
    continuum: ProcessConfig = field(default_factory=ProcessConfig)
    ttgg: ProcessConfig = field(
        default_factory=lambda: ProcessConfig(
            ptgg_over_m=0.45,
            ptgg_shape=1.8,
            rapidity_sd=1.1,
            cos_theta_power=1.0,
            top_pair_fraction=1.0,
            extra_jet_ratio=0.3,
            extra_jet_pt=20.0,
        )
    )
    activity: ActivityDetectorConfig = field(default_factory=ActivityDetectorConfig)

    def processes(self) -> dict[str, ProcessConfig]:
        return {"signal": self.signal, "continuum": self.continuum, "ttgg": self.ttgg}

    def process_fractions(self) -> dict[str, float]:
        """Expected fraction of accepted events from each process (sums to 1)."""
        bkg = 1.0 - self.signal_fraction
        return {
            "signal": self.signal_fraction,
            "continuum": bkg * (1.0 - self.ttgg_fraction),
            "ttgg": bkg * self.ttgg_fraction,
        }


@dataclass(frozen=True)
class ResonanceConfig:
    """Two-photon decays of a narrow resonance: the in-situ energy-scale sample.

    Z-like by default (mass and Breit-Wigner width of the Z, as the ATLAS and CMS electron and
    photon energy scales are set with Z -> ee); ``width`` 0.004 and ``mass`` 125 give an
    H -> gamma gamma peak instead. Each photon is simulated as a prompt photon candidate of the
    photon sample (the same detector response, shower shapes and layer energies), with one
    pile-up value per event. Events are kept when both photons are in the photon sample's
    acceptance (|eta| < eta_max outside the crack, true pT in [pt_min, pt_max]), so the
    regression sees no photon outside the range it was trained on.
    """

    mass: float = 91.1876  # pole mass [GeV]
    width: float = 2.4952  # Breit-Wigner full width [GeV]
    mass_window: float = 10.0  # true masses within mass +- mass_window [GeV]
    pt_over_m: float = 0.3  # mean pT / m of the resonance (Gamma distributed)
    pt_shape: float = 1.5  # Gamma shape of pT / m
    rapidity_sd: float = 1.0  # sigma of the resonance rapidity
    cos_theta_power: float = 0.0  # |cos theta*| density ~ |cos|^k: 0 isotropic (spin 0)


# Sections that do not change the photon and diphoton samples: left out of the config those
# files store, so adding one never changes their bytes (and the runs trained on them).
RESONANCE_ONLY = ("resonance",)


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything ``datrig simulate`` needs besides N and the seed."""

    chunk_rows: int = 20_000  # rows generated and written per chunk (bounds memory)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    photons: PhotonSampleConfig = field(default_factory=PhotonSampleConfig)
    diphoton: DiphotonConfig = field(default_factory=DiphotonConfig)
    resonance: ResonanceConfig = field(default_factory=ResonanceConfig)
    sim: DomainKnobs = field(default_factory=DomainKnobs)
    data: DomainKnobs = field(
        default_factory=lambda: DomainKnobs(
            middle_width_scale=1.05,
            strip_width_scale=1.05,
            had_leak_scale=1.25,
            material_scale=1.06,
            mu_mean=40.0,
            mu_sd=13.0,
            fragmentation_alpha_scale=0.85,
        )
    )

    def knobs(self, domain: str) -> DomainKnobs:
        return {"sim": self.sim, "data": self.data}[domain]

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def stored_config(self, kind: str) -> dict[str, Any]:
        """The config a file of ``kind`` records: all of it for the resonance sample; for the
        photon and diphoton samples everything but the resonance section, which they never
        read (their files stay byte-identical to those of earlier versions)."""
        config = self.to_dict()
        if kind != "resonance":
            for key in RESONANCE_ONLY:
                config.pop(key)
        return config


def _build(cls: type, values: Any, prefix: str, base: Any = None) -> Any:
    """``base`` (default: ``cls()``) with ``values`` applied; nested dataclasses recurse, so a
    partial ``data:`` section keeps the *data* defaults, not the sim ones."""
    base = cls() if base is None else base
    if not isinstance(values, dict):
        raise DatrigError(f"config key {prefix.rstrip('.') or '<root>'} must be a mapping")
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise DatrigError(
                f"unknown config key {prefix}{short(key)}; known keys here: {', '.join(known)}"
            )
        default = getattr(base, key)
        if dataclasses.is_dataclass(default):
            kwargs[key] = _build(type(default), value, f"{prefix}{key}.", default)
        elif isinstance(default, tuple):
            if not isinstance(value, list | tuple) or len(value) != len(default):
                raise DatrigError(f"config key {prefix}{key} must be a list of {len(default)}")
            kwargs[key] = tuple(_number(v, f"{prefix}{key}") for v in value)
        elif isinstance(default, int) and not isinstance(default, bool):
            if not isinstance(value, int) or isinstance(value, bool):
                raise DatrigError(
                    f"config key {prefix}{key} must be an integer, got {short(value)}"
                )
            kwargs[key] = value
        elif isinstance(default, float):
            kwargs[key] = _number(value, f"{prefix}{key}")
        else:
            kwargs[key] = value
    return dataclasses.replace(base, **kwargs)


def _number(value: Any, key: str) -> float:
    """A finite number (YAML's ``.nan`` and ``.inf`` are numbers too, and meaningless here)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise DatrigError(f"config key {key} must be a number, got {short(value)}")
    if not math.isfinite(value):
        raise DatrigError(f"config key {key} must be a finite number, got {short(value)}")
    return float(value)


def config_from_dict(values: dict[str, Any]) -> GeneratorConfig:
    """Build a config from a (partial) nested dict; missing keys keep their defaults."""
    cfg = _build(GeneratorConfig, values, "")
    validate_config(cfg)
    return cfg


def load_config(path: str | Path | None) -> GeneratorConfig:
    """Read a YAML or JSON generator config; None gives the defaults."""
    if path is None:
        return GeneratorConfig()
    path = Path(path)
    if path.suffix == ".json":
        try:
            values = json.loads(path.read_text())
        except OSError as exc:
            raise DatrigError(f"cannot read config {path}: {exc.strerror}") from None
        except (ValueError, RecursionError) as exc:
            raise DatrigError(f"config {path} is not valid JSON: {exc}".splitlines()[0]) from None
    else:
        from datrig.yamlio import load_yaml

        if not path.is_file():
            raise DatrigError(f"cannot read config {path}: no such file")
        values = load_yaml(path)
    if values is not None and not isinstance(values, dict):
        raise DatrigError(f"config {path} is not a mapping of generator settings")
    return config_from_dict(values or {})


def validate_config(cfg: GeneratorConfig) -> None:
    """Reject physically meaningless values with the key's name."""
    if cfg.chunk_rows < 1:
        raise DatrigError("config key chunk_rows must be >= 1")
    _validate_detector(cfg.detector)
    p = cfg.photons
    if not 0.0 <= p.prompt_fraction <= 1.0:
        raise DatrigError("config key photons.prompt_fraction must be in [0, 1]")
    if not 0.0 < p.pt_min < p.pt_max:
        raise DatrigError("config keys photons.pt_min/pt_max need 0 < pt_min < pt_max")
    if not 0.0 < p.z_min < 1.0:
        raise DatrigError("config key photons.z_min must be in (0, 1)")
    d = cfg.diphoton
    if not d.m_min < d.m_higgs < d.m_max:
        raise DatrigError("config keys diphoton.m_min < m_higgs < m_max are violated")
    _validate_diphoton(d)
    _validate_resonance(cfg.resonance)
    for name in ("sim", "data"):
        k = cfg.knobs(name)
        for key in ("middle_width_scale", "strip_width_scale", "had_leak_scale", "material_scale"):
            if getattr(k, key) <= 0:
                raise DatrigError(f"config key {name}.{key} must be > 0")
        if k.mu_mean <= 0 or k.mu_sd <= 0:
            raise DatrigError(f"config keys {name}.mu_mean/mu_sd must be > 0")
        if k.fragmentation_alpha_scale <= 0:
            raise DatrigError(f"config key {name}.fragmentation_alpha_scale must be > 0")


def _validate_detector(det: DetectorConfig) -> None:
    """Noise and material >= 0, widths, energy-scale terms and the tail factor > 0, fractions
    in [0, 1]: anything else gives shower shapes outside their physical range."""
    values = dataclasses.asdict(det)
    for key, value in values.items():
        if key.startswith("noise_") or key in (
            "material_x0_central",
            "material_x0_slope",
            "constant_term",
            "pileup_noise_per_sqrt_mu",
            "width_jitter",
            "conversion_phi_spread",
        ):
            ok, want = value >= 0.0, ">= 0"
        elif key in ("tracker_fraction", "had_leak_fraction", "tail_fraction"):
            ok, want = 0.0 <= value <= 1.0, "in [0, 1]"
        else:  # widths, sampling term, critical energy, tail factor
            ok, want = value > 0.0, "> 0"
        if not ok:
            raise DatrigError(f"config key detector.{key} must be {want}, got {value}")


def _validate_diphoton(d: DiphotonConfig) -> None:
    """Fractions and probabilities in [0, 1], scales > 0, with the dotted key in the message."""
    unit = [("signal_fraction", d.signal_fraction), ("ttgg_fraction", d.ttgg_fraction)]
    positive = [("bkg_slope", d.bkg_slope)]
    for name, proc in d.processes().items():
        unit += [
            (f"{name}.top_pair_fraction", proc.top_pair_fraction),
            (f"{name}.extra_heavy_flavour", proc.extra_heavy_flavour),
        ]
        positive += [
            (f"{name}.ptgg_over_m", proc.ptgg_over_m),
            (f"{name}.ptgg_shape", proc.ptgg_shape),
            (f"{name}.rapidity_sd", proc.rapidity_sd),
            (f"{name}.extra_jet_pt", proc.extra_jet_pt),
        ]
        if not 0.0 <= proc.extra_jet_ratio < 1.0:
            raise DatrigError(f"config key diphoton.{name}.extra_jet_ratio must be in [0, 1)")
        if proc.cos_theta_power < 0.0:
            raise DatrigError(f"config key diphoton.{name}.cos_theta_power must be >= 0")
    a = d.activity
    for key in (
        "top_jet_acceptance",
        "w_leptonic",
        "lepton_efficiency",
        "fake_lepton_rate",
        "b_tag_efficiency",
        "mistag_rate",
    ):
        unit.append((f"activity.{key}", getattr(a, key)))
    for key in ("jet_pt_min", "top_jet_pt", "neutrino_pt", "met_soft"):
        positive.append((f"activity.{key}", getattr(a, key)))
    for key, value in unit:
        if not 0.0 <= value <= 1.0:
            raise DatrigError(f"config key diphoton.{key} must be in [0, 1], got {value}")
    for key, value in positive:
        if not value > 0.0:
            raise DatrigError(f"config key diphoton.{key} must be > 0, got {value}")
    if d.activity.met_per_sqrt_ht < 0.0:
        raise DatrigError("config key diphoton.activity.met_per_sqrt_ht must be >= 0")


def _validate_resonance(r: ResonanceConfig) -> None:
    """A positive mass, a window inside (0, 2 mass), widths and spreads >= 0 or > 0."""
    if not r.mass > 0.0:
        raise DatrigError(f"config key resonance.mass must be > 0, got {r.mass}")
    if not 0.0 < r.mass_window < r.mass:
        raise DatrigError(
            f"config key resonance.mass_window must be in (0, mass), got {r.mass_window}"
        )
    for key in ("width", "cos_theta_power"):
        if getattr(r, key) < 0.0:
            raise DatrigError(f"config key resonance.{key} must be >= 0, got {getattr(r, key)}")
    for key in ("pt_over_m", "pt_shape", "rapidity_sd"):
        if not getattr(r, key) > 0.0:
            raise DatrigError(f"config key resonance.{key} must be > 0, got {getattr(r, key)}")
