"""Process-wide runtime settings, applied explicitly by the CLI (never at import)."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

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


# Set when an HDF5 file failed mid-write (a full disk): libhdf5 then crashes at interpreter
# exit while flushing that file, so the CLI leaves with os._exit after its one error line.
_HDF5_BROKEN: list[str] = []


def hdf5_broken() -> bool:
    return bool(_HDF5_BROKEN)


@contextlib.contextmanager
def hdf5_writing(dest: str | os.PathLike[str]) -> Iterator[None]:
    """Turn an HDF5 write failure into one DatrigError line naming ``dest`` (and remember
    it, see :data:`_HDF5_BROKEN`): a full disk, a missing filter, a vanished folder."""
    from pathlib import Path

    from datrig.errors import DatrigError

    parts = Path(dest).parts
    staged = [i for i, part in enumerate(parts) if part.startswith(".datrig-tmp-")]
    where = f"{Path(dest).name} in {Path(*parts[: staged[0]])}" if staged else str(dest)
    try:
        yield
    except (OSError, RuntimeError) as exc:
        text = " ".join(str(exc).split())
        _HDF5_BROKEN.append(str(dest))
        if "errno = 28" in text or "No space left" in text or getattr(exc, "errno", 0) == 28:
            raise DatrigError(
                f"the disk is full (no space left on device) while writing {where}; nothing "
                "was kept: free some space or choose another --out"
            ) from None
        if "filter" in text.lower():
            raise DatrigError(
                f"writing {where} needs an HDF5 filter this installation lacks ({text[:200]}); "
                "reinstall h5py"
            ) from None
        raise DatrigError(f"writing {where} failed ({text[:300]})") from None
