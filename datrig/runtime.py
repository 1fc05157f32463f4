"""Process-wide runtime settings, applied explicitly by the CLI (never at import)."""

from __future__ import annotations

import os
import random

import numpy as np

# Small models on a 2-core machine run ~10x faster with one intra-op thread than with two.
DEFAULT_TORCH_THREADS = 1


def configure_torch(threads: int | None = None) -> None:
    """Set torch's intra-op threads (``DATRIG_THREADS`` overrides the default of 1)."""
    import torch

    n = threads or int(os.environ.get("DATRIG_THREADS", DEFAULT_TORCH_THREADS))
    torch.set_num_threads(max(1, n))


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python, numpy and torch (deterministic algorithms on) and return a numpy Generator."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))  # noqa: NPY002 - third-party code still draws from it
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    return np.random.default_rng(seed)
