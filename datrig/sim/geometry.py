"""ATLAS-like barrel calorimeter geometry: layer granularity and the cell windows.

All windows are centred on the hottest middle-layer cell. ``n_eta x n_phi`` cells are
simulated per layer: exactly the cells the shower shapes are computed from
(:mod:`datrig.sim.shapes`: the 40-strip row of Eratio/DeltaE/wstot, the 7x7 middle window of
Reta, the back and hadronic 3x3), and every one of them is stored in the ``cells`` array
(:func:`cell_layout` gives its fixed order), so a cell-level network sees what the shower
shapes see.
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
    n_eta: int  # simulated (and stored) window
    n_phi: int

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell edges relative to the window centre (eta, phi)."""
        e = (np.arange(self.n_eta + 1) - self.n_eta / 2) * self.d_eta
        p = (np.arange(self.n_phi + 1) - self.n_phi / 2) * self.d_phi
        return e, p

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        e, p = self.edges()
        return 0.5 * (e[1:] + e[:-1]), 0.5 * (p[1:] + p[:-1])

    @property
    def n_cells(self) -> int:
        return self.n_eta * self.n_phi


PRESAMPLER = Layer("presampler", 0, 0.025, 0.1, 1, 1)
STRIPS = Layer("strips", 1, 0.003125, 0.1, 40, 1)
MIDDLE = Layer("middle", 2, 0.025, 0.0245, 7, 7)
BACK = Layer("back", 3, 0.05, 0.0245, 3, 3)
HADRONIC = Layer("hadronic", 4, 0.1, 0.1, 3, 3)

LAYERS: tuple[Layer, ...] = (PRESAMPLER, STRIPS, MIDDLE, BACK, HADRONIC)
N_CELLS = sum(layer.n_cells for layer in LAYERS)  # 108 = 1 + 40 + 49 + 9 + 9

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


def cell_layout() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(d_eta, d_phi, layer) of the stored cells relative to the window centre, each (N_CELLS,).

    Order: layer by layer (:data:`LAYERS`), within a layer eta-major (``i_eta * n_phi + i_phi``).
    """
    de, dp, ly = [], [], []
    for layer in LAYERS:
        ce, cp = layer.centres()
        ge, gp = np.meshgrid(ce, cp, indexing="ij")
        de.append(ge.ravel())
        dp.append(gp.ravel())
        ly.append(np.full(ge.size, layer.index, dtype=np.float64))
    return np.concatenate(de), np.concatenate(dp), np.concatenate(ly)
