"""SIGTERM as an exception, and a record that it arrived.

Batch systems and CI time-outs send SIGTERM. The CLI turns it into :class:`Terminated` so
``finally`` blocks remove temporary outputs. Third-party code (torch's exporter, for one) may
catch that exception and carry on, so the signal is also *recorded*: every artefact swap asks
:func:`check_terminated` as its very last step, and the CLI exits 143 whenever a SIGTERM
arrived, whatever the command returned. A terminated command never swaps in an artefact.
"""

from __future__ import annotations

_RECEIVED: list[int] = []


class Terminated(BaseException):
    """SIGTERM, raised in the main thread (a BaseException: ``except Exception`` passes it)."""


def on_sigterm(signum: int, frame: object) -> None:
    """The SIGTERM handler the CLI installs."""
    _RECEIVED.append(signum)
    raise Terminated


def terminated() -> bool:
    return bool(_RECEIVED)


def check_terminated() -> None:
    """Raise :class:`Terminated` if a SIGTERM arrived, even one that something swallowed."""
    if _RECEIVED:
        raise Terminated


def reset() -> None:
    """Forget earlier signals (for a CLI ``main`` called twice in one process, as tests do)."""
    _RECEIVED.clear()
