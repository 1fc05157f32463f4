"""ATLAS-like barrel calorimeter geometry: layer granularity and the cell windows we keep.

All windows are centred on the hottest middle-layer cell. ``n_eta x n_phi`` cells are
simulated per layer (enough for the shower shapes); the central ``keep_eta x keep_phi`` of
them go into the compact ``cells`` array stored for the GNN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Layer:
    name: str
    index: int  # the ``layer`` cell feature
    d_eta: float  # cell size in eta
    d_phi: float  # cell size in phi [rad]
    n_eta: int  # simulated window
    n_phi: int
    keep_eta: int  # stored window (centred)
    keep_phi: int

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell edges relative to the window centre (eta, phi)."""
        e = (np.arange(self.n_eta + 1) - self.n_eta / 2) * self.d_eta
        p = (np.arange(self.n_phi + 1) - self.n_phi / 2) * self.d_phi
        return e, p

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        e, p = self.edges()
        return 0.5 * (e[1:] + e[:-1]), 0.5 * (p[1:] + p[:-1])

    def kept(self) -> tuple[slice, slice]:
        e0 = (self.n_eta - self.keep_eta) // 2
        p0 = (self.n_phi - self.keep_phi) // 2
        return slice(e0, e0 + self.keep_eta), slice(p0, p0 + self.keep_phi)

    @property
    def n_kept(self) -> int:
        return self.keep_eta * self.keep_phi


PRESAMPLER = Layer("presampler", 0, 0.025, 0.1, 1, 1, 1, 1)
STRIPS = Layer("strips", 1, 0.003125, 0.1, 40, 1, 16, 1)
MIDDLE = Layer("middle", 2, 0.025, 0.0245, 7, 7, 5, 5)
BACK = Layer("back", 3, 0.05, 0.0245, 3, 3, 3, 3)
HADRONIC = Layer("hadronic", 4, 0.1, 0.1, 3, 3, 3, 3)

LAYERS: tuple[Layer, ...] = (PRESAMPLER, STRIPS, MIDDLE, BACK, HADRONIC)
N_CELLS = sum(layer.n_kept for layer in LAYERS)  # 60

# Calorimeter depth after the upstream material [X0] at eta = 0: PS slab, strips, middle, back.
PS_DEPTH_X0 = 0.4
STRIPS_DEPTH_X0 = 4.3
MIDDLE_DEPTH_X0 = 16.0
BACK_DEPTH_X0 = 2.0


def layer_depths(abs_eta: np.ndarray) -> np.ndarray:
    """Cumulative depth [X0] of the ends of PS, strips, middle, back (n, 4).

    Path lengths grow like 1/sin(theta) = cosh(eta); the back layer absorbs part of it.
    """
    c = np.cosh(abs_eta)
    ps = np.full_like(abs_eta, PS_DEPTH_X0)
    strips = ps + STRIPS_DEPTH_X0 * np.sqrt(c)
    middle = strips + MIDDLE_DEPTH_X0 * np.sqrt(c)
    back = middle + BACK_DEPTH_X0 * c
    return np.stack([ps, strips, middle, back], axis=1)


def kept_cell_layout() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(d_eta, d_phi, layer) of the stored cells relative to the window centre, each (N_CELLS,)."""
    de, dp, ly = [], [], []
    for layer in LAYERS:
        ce, cp = layer.centres()
        se, sp = layer.kept()
        ge, gp = np.meshgrid(ce[se], cp[sp], indexing="ij")
        de.append(ge.ravel())
        dp.append(gp.ravel())
        ly.append(np.full(ge.size, layer.index, dtype=np.float64))
    return np.concatenate(de), np.concatenate(dp), np.concatenate(ly)
