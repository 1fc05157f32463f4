"""Upfront memory bounds: a size asked for (``--events``, ``--hidden``, a scan grid, a shape
declared in a file) is checked against the memory it implies *before* anything is allocated,
so a typo or a crafted file gives one line naming the limit, never a MemoryError traceback or
a machine swapping to death.
"""

from __future__ import annotations

import os

from datrig.errors import DatrigError

# Never plan to use more than this fraction of the memory available now.
MEMORY_FRACTION = 0.5
# Absolute caps that hold on any machine (a shape or count beyond them is a mistake).
MAX_EVENTS = 200_000_000
MAX_ELEMENTS = 2_000_000_000  # elements of one array declared in a file
MAX_HIDDEN = 4096  # units of one hidden layer of a trigger network


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable``), else a conservative 4 GiB."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 4 << 30


def memory_limit() -> int:
    """Bytes one datrig step may plan to hold: ``DATRIG_MEMORY_LIMIT`` (bytes) if set, else
    half of the memory available now."""
    env = os.environ.get("DATRIG_MEMORY_LIMIT")
    if env:
        try:
            return max(1, int(float(env)))
        except ValueError:
            raise DatrigError(f"DATRIG_MEMORY_LIMIT={env!r} is not a number of bytes") from None
    return int(available_memory() * MEMORY_FRACTION)


def human_bytes(n: float) -> str:
    """A size for a message: never "0.0 GB" (GiB, MiB or KiB as fits)."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20)):
        if n >= size / 8:
            return f"{n / size:,.2f} {unit}"
    return f"{n / 1024:,.1f} KiB"


def ensure_fits(n_bytes: float, what: str, remedy: str) -> None:
    """Raise unless ``n_bytes`` fits in :func:`memory_limit`; ``what`` and ``remedy`` make the
    line (e.g. "10^9 events of 14 inputs", "lower --events")."""
    limit = memory_limit()
    if n_bytes > limit:
        raise DatrigError(
            f"{what} needs about {human_bytes(n_bytes)} of memory; the limit here is "
            f"{human_bytes(limit)} "
            f"(half the available memory, or DATRIG_MEMORY_LIMIT): {remedy}"
        )


def check_events(n: int | None, bytes_per_event: float, what: str = "--events") -> None:
    """An event count against :data:`MAX_EVENTS` and the memory it implies."""
    if n is None:
        return
    if n > MAX_EVENTS:
        raise DatrigError(f"{what} {n:,} is beyond datrig's limit of {MAX_EVENTS:,} events per "
                          "call: split the input")  # fmt: skip
    ensure_fits(n * bytes_per_event, f"{what} {n:,}", f"lower {what}")


def check_shape(shape: object, source: str, what: str = "array") -> tuple[int, ...]:
    """A shape declared in a file: non-negative integers whose product stays below
    :data:`MAX_ELEMENTS`; returned as a tuple."""
    if not isinstance(shape, (list, tuple)) or len(shape) > 8:
        raise DatrigError(f"{source}: {what} shape is not a list of at most 8 sizes; the file is "
                          "damaged or crafted")  # fmt: skip
    dims = []
    total = 1
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, int) or d < 0:
            raise DatrigError(f"{source}: {what} shape has a size that is not a non-negative "
                              "integer; the file is damaged or crafted")  # fmt: skip
        total *= max(d, 1)
        if total > MAX_ELEMENTS:
            raise DatrigError(f"{source}: {what} shape declares more than {MAX_ELEMENTS:,} "
                              "elements; the file is damaged or crafted")  # fmt: skip
        dims.append(d)
    return tuple(dims)
