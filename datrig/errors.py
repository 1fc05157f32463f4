"""One exception type for every user-facing failure.

The CLI catches :class:`DatrigError` and prints its message as a single line with a non-zero
exit code, so every message must say what was wrong *and* what to do about it.
"""

from __future__ import annotations


class DatrigError(Exception):
    """A failure caused by input, configuration or environment, explained for the user."""


class SchemaError(DatrigError):
    """An input file or config does not match the expected schema."""


class ToolMissingError(DatrigError):
    """An external tool (g++, Vivado, iverilog, ...) needed for a step is not available."""


class VerificationError(DatrigError):
    """Two implementations that must agree bit for bit do not."""


def short(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters: error messages never print unbounded data."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + " ...'"
