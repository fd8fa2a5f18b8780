"""Errors that archstat reports to its users.

Every user-facing error renders as one line:
``FILE:LINE:COL: PATH: message (did you mean 'x'?)``. The CLI's single error
boundary (``archstat.cli``) prints it to stderr and exits with ``exit_code``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ArchstatError", "ArgumentError", "ArgumentTypeError", "ArgumentValueError", "CheckFailed", "ConfigError",
           "Loc", "OutputError", "RuntimeFailure", "ShapeError", "UnknownNameError", "UsageError", "did_you_mean",
           "one_line"]


@dataclass(frozen=True)
class Loc:
    """A position in a config file; line and column are 1-based."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


def one_line(text: str) -> str:
    """Control characters (a newline in a key the user wrote, an escape sequence in a name) shown
    escaped: an error is one line and cannot drive the terminal (``report/sanitize.py``)."""
    from archstat.text import clean

    return clean(text)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to ``name``, or None when nothing is close."""
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return matches[0] if matches else None


class ArchstatError(Exception):
    """Base class: a problem archstat reports in one line (exit code 2 by default)."""

    exit_code = 2

    def __init__(self, message: str, *, loc: Loc | None = None, path: str | None = None,
                 hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.path = path
        self.hint = hint

    def format(self) -> str:
        parts = []
        if self.loc is not None:
            parts.append(str(self.loc))
        if self.path:
            parts.append(self.path)
        parts.append(self.message + (f" ({self.hint})" if self.hint else ""))
        return one_line(": ".join(parts))

    def __str__(self) -> str:
        return self.format()


class ConfigError(ArchstatError):
    """A config (or a value given for it) is malformed."""


class UnknownNameError(ConfigError):
    """A name that is not known; suggests the closest known one."""

    def __init__(self, kind: str, name: str, candidates: Iterable[str], *, hint_extra: str = "", **kw):
        candidates = list(candidates)
        guess = did_you_mean(name, candidates)
        super().__init__(f"unknown {kind} '{name}'" + ("" if guess else hint_extra),
                         hint=f"did you mean '{guess}'?" if guess else None, **kw)
        self.name = name
        self.candidates = candidates


class ShapeError(ConfigError):
    """An op cannot take the shape that reaches it."""


class UsageError(ArchstatError):
    """A command-line option is malformed."""


class ArgumentError(UsageError):
    """An argument of a Python API call is wrong; ``path`` names the function and the argument."""


class ArgumentTypeError(ArgumentError, TypeError):
    """An argument of the wrong type (``archstat.load('vgg16', [1, 2])``)."""


class ArgumentValueError(ArgumentError, ValueError):
    """An argument of the right type and a wrong value (``archstat.build(..., device='nonsense')``)."""


class RuntimeFailure(ArchstatError):
    """The environment cannot do what was asked (no torch, no CUDA, out of memory)."""

    exit_code = 1


class OutputError(RuntimeFailure):
    """The output could not be written whole: a full disk, a file over its size limit, a closed stdout."""


class CheckFailed(ArchstatError):
    """A check found a mismatch."""

    exit_code = 3
