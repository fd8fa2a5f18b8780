"""The base of archstat's vocabularies: a ``str`` enum whose members are their values.

A member compares, hashes, prints and serialises (``json``) as its value, so ``Runtime.EAGER ==
"eager"``, ``{"eager": 1}[Runtime.EAGER]`` and ``f"{Runtime.EAGER}"`` all read as the word a user
types. (``enum.StrEnum`` does most of this from Python 3.11; archstat supports 3.10.)
"""

from __future__ import annotations

from enum import Enum

__all__ = ["StrEnum"]


class StrEnum(str, Enum):
    """A closed vocabulary of words: each member is the string it stands for."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return str(self.value).__format__(spec)

    def __hash__(self) -> int:            # Enum hashes a member by its name; a word hashes as the word
        return hash(str(self.value))

    def __eq__(self, other: object) -> bool:
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return str.__ne__(self, other)

    def __reduce_ex__(self, protocol):     # pickled (parallel fit workers) as its class and value
        return self.__class__, (str(self.value),)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        """Every member's word, in declaration order (for help texts and errors)."""
        return tuple(str(m.value) for m in cls)
