"""Incident severities: SEV1 is the most severe, SEV4 the least."""

from __future__ import annotations

from enum import Enum
from functools import total_ordering


@total_ordering
class Severity(Enum):
    """Ordered so that ``a > b`` reads "a is more severe than b"."""

    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"

    @property
    def rank(self) -> int:
        """1 for SEV1 … 4 for SEV4."""
        return int(self.value[3])

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        # A higher rank number is a milder severity.
        return self.rank > other.rank

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: str) -> Severity:
        try:
            return cls(value.strip().upper())
        except ValueError:
            raise ValueError(f"unknown severity {value!r} (expected SEV1, SEV2, SEV3 or SEV4)") from None
