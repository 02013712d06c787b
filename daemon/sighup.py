"""SIGHUP while tocsin starts, before its event loop handles it: held, then a reload once serving. Its default
action would end tocsin (and systemd counts that as a clean exit, so it would not restart it); ignoring it would
lose a reload of a file changed after tocsin read it."""

from __future__ import annotations

import signal
from types import FrameType

_held = False


def hold() -> None:
    """From now on until the event loop takes SIGHUP over, a SIGHUP is remembered."""
    signal.signal(signal.SIGHUP, _remember)


def _remember(_signum: int, _frame: FrameType | None) -> None:
    global _held
    _held = True


def take() -> bool:
    """Whether a SIGHUP came while it was held (and forget it)."""
    global _held
    held, _held = _held, False
    return held
