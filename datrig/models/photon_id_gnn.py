"""photon_id_gnn: photon ID from the calorimeter cells, for the trigger where shower shapes are
not yet computed.

The graph is the calorimeter window itself: the 108 cells every shower shape is computed from
(presampler, the 40-strip row, the 7x7 middle window, back and hadronic 3x3), each at a fixed
place relative to the hottest middle cell (``window`` cell builder,
:mod:`datrig.data.features`). Its neighbourhoods are fixed, so the message passing is one
dense layer over the window: every cell is its own input (its energy over the window's EM
energy, plus log E_em), and the network is the Deep Sets of :mod:`datrig.models.deepsets` with
one node (the averaging "pooling" is then the identity). In firmware every product is unrolled
anyway, so the weight sharing of a strip-row convolution would save no LUTs; the learned bit
widths and the weights they round to zero (free in distributed arithmetic) do.

Measured (float, 240k simulated candidates, same training for both): a 109 -> 64 -> 32 network
on the window reaches R80 25 where the shower-shape MLP (13 inputs) reaches 21; on the window
with 32 -> 16, R80 23; a Deep Sets over all 108 cells as a *set* (per-cell 32 -> 32 on energy
fraction, position, layer; mean pooling) about 11, and over the 16 most energetic cells of the
former 60-cell view 8.5: the positions of the strips relative to each other (Eratio, DeltaE,
fside, ws3) are what a set-pooled network loses.

Design (firmware budget 100k LUT, 8 clocks at 200 MHz, II 1; firmware_configs/photon_id_gnn.yml):
109 -> 64 (the window layer, which holds ~90 % of the multiplications) -> 16 -> 1 with learned
bit widths under the EBOPs term (``--bits auto``).
"""

from __future__ import annotations

from datrig.models.deepsets import build_deepsets
from datrig.models.spec import ModelSpec

PHOTON_ID_GNN = ModelSpec(
    name="photon_id_gnn",
    kind="photons",
    inputs="cells",
    task="classification",
    target="label",
    protected="iso_calo",
    extra_protected=("iso_track",),
    condition="pt",
    penalty_subset="fakes",
    penalised="score",
    output_kind="logit",
    family="photon_id",
    build=build_deepsets,
    hidden=(64,),
    default_batch_size=1024,
    default_epochs=40,
    default_n_train=300_000,
    default_lr=2e-3,
    default_lr_schedule="cosine",
    default_bits="auto",
    default_resource_lam=0.03,
    cell_builder="window",
    extra={"head": (16,)},
)
