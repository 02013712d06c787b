"""Incident severities: SEV1 is the most severe, SEV4 the least."""

from __future__ import annotations

from enum import Enum


class Severity(Enum):
    """Ordered so that ``a > b`` reads "a is more severe than b"."""

    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"

    def __init__(self, value: str) -> None:
        # A plain attribute: every alert of a storm is compared a few times (functools.total_ordering and the
        # enum's value property took 6% of a decision).
        self._rank = int(value[3])

    @property
    def rank(self) -> int:
        """1 for SEV1 … 4 for SEV4."""
        return self._rank

    # A higher rank number is a milder severity.
    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self._rank > other._rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self._rank >= other._rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self._rank < other._rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self._rank <= other._rank

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: str) -> Severity:
        try:
            return cls(value.strip().upper())
        except ValueError:
            raise ValueError(f"unknown severity {value!r} (expected SEV1, SEV2, SEV3 or SEV4)") from None
