"""Channels: the tags of an Apprise configuration file, each naming a set of Apprise URLs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import apprise
from apprise.config.base import ConfigBase

APPRISE_LOGGER = "apprise"


class ChannelError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class Channels:
    path: str
    services: list[Any] = field(default_factory=list)
    tags: dict[str, list[str]] = field(default_factory=dict)  # tag -> privacy-safe URLs

    def has(self, channel: str) -> bool:
        # Apprise lowercases tags and matches them without regard to case.
        return channel.lower() in self.tags


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _captured() -> Iterator[_Collect]:
    """Apprise reports unparsable URLs only as log records; collect them to fail the check."""
    logger = logging.getLogger(APPRISE_LOGGER)
    handler = _Collect()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def load_channels(path: str, asset: apprise.AppriseAsset | None = None) -> Channels:
    """Parse the Apprise file; ChannelError names every URL or entry Apprise could not use."""
    try:
        content = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ChannelError([f"channels: cannot read {path}: {exc.strerror or exc}"]) from None
    with _captured() as problems:
        services, _includes = ConfigBase.config_parse(content, asset=asset or apprise.AppriseAsset())
    if problems.messages:
        # Apprise's own messages already hide credentials (secure_logging).
        raise ChannelError([f"channels ({path}): {m}" for m in problems.messages])
    if not services and content.strip():
        raise ChannelError([f"channels ({path}): no Apprise URL could be loaded"])
    loaded: list[Any] = list(services)
    channels = Channels(path, loaded)
    for service in loaded:
        for tag in service.tags:
            channels.tags.setdefault(str(tag).lower(), []).append(service.url(privacy=True))
    return channels
