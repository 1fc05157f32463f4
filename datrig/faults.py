"""Named points between the steps of a long command, where tests interrupt it on purpose.

Integrity tests send SIGTERM or SIGKILL to a real ``datrig`` process at each stage boundary
(e.g. after the C-simulation compiled, just before a project is swapped into place) and then
check that the previous artefact survived and nothing incomplete looks complete. A process
started with ``DATRIG_PAUSE_AT=<name>`` announces ``datrig-paused-at <name>`` on stderr when it
reaches that point and waits there, so the test's signal lands exactly between two steps.
Without the variable a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import sys
import time

ENV = "DATRIG_PAUSE_AT"
# Also announce in this file, for processes whose stderr nobody reads (Ray workers); the line
# carries the process id. With a file, only the first process to reach the point pauses.
ANNOUNCE_ENV = "DATRIG_PAUSE_FILE"
MAX_PAUSE_S = 120.0  # a forgotten variable must not hang a run forever


def pause_point(name: str) -> None:
    """Pause here if ``DATRIG_PAUSE_AT`` names this point (see module docstring)."""
    if os.environ.get(ENV) != name:
        return
    announce = os.environ.get(ANNOUNCE_ENV)
    if announce:
        try:
            with open(announce, "x") as fh:  # exclusive create: the first process only
                fh.write(f"{name} {os.getpid()}\n")
        except FileExistsError:
            return
    print(f"datrig-paused-at {name}", file=sys.stderr, flush=True)
    deadline = time.monotonic() + MAX_PAUSE_S
    while time.monotonic() < deadline:
        time.sleep(0.05)
