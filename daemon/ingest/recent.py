"""Webhook bodies parsed lately, by their bytes: Alertmanager re-sends a group's body unchanged at every
group_interval and repeat_interval, and in a storm of re-sends parsing is most of what answering costs.

Parsing is a pure function of the body and the limits, so an identical body under the same limits is answered
from here without validating it again; what the engine then does with its alerts is unchanged (the dedup fast
path still checks each one). Only bodies that changed nothing are kept (the ingest handler puts them): a re-send
is sent again as it is, while in a storm of new or changed alerts every body comes once and keeping each would
only churn memory and the garbage collector (measured: changed re-sends cost 15% more CPU when every body was
kept). The limits they parsed under are part of the key (a reload that tightens them parses again), and the
bytes held are bounded: forgetting one only costs its next parse.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

from daemon.config.settings import LimitsConfig

T = TypeVar("T")

DEFAULT_BYTES = 8 * 1024 * 1024  # a few hundred Alertmanager groups of twenty alerts


class RecentBodies(Generic[T]):
    def __init__(self, max_bytes: int = DEFAULT_BYTES) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._parsed: OrderedDict[bytes, tuple[LimitsConfig, T]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._parsed)

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def get(self, raw: bytes, bounds: LimitsConfig) -> T | None:
        found = self._parsed.get(raw)
        if found is None:
            return None
        if found[0] != bounds:
            self._drop(raw)
            return None
        self._parsed.move_to_end(raw)
        return found[1]

    def put(self, raw: bytes, bounds: LimitsConfig, parsed: T) -> None:
        if len(raw) > self._max_bytes // 8:
            return  # a huge body is rare, and would push out many ordinary ones
        if raw in self._parsed:
            self._drop(raw)
        self._parsed[raw] = (bounds, parsed)
        self._bytes += len(raw)
        while self._bytes > self._max_bytes:
            oldest = next(iter(self._parsed))
            self._drop(oldest)

    def _drop(self, raw: bytes) -> None:
        del self._parsed[raw]
        self._bytes -= len(raw)
