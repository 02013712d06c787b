"""Send one notification through Apprise: each channel (tag) in parallel, per-URL outcomes back."""

from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import dataclass
from datetime import timedelta

import apprise
import structlog

from daemon.domain import Notification
from notifiers.channels import Channels

NOTIFY_TYPES = {
    "escalation": apprise.NotifyType.FAILURE,
    "reminder": apprise.NotifyType.WARNING,
    "resolved": apprise.NotifyType.SUCCESS,
    "mitigated": apprise.NotifyType.SUCCESS,
}


@dataclass(frozen=True, slots=True)
class UrlOutcome:
    url: str  # Apprise's privacy form: no credentials
    outcome: str  # sent, failed, timeout


@dataclass(frozen=True, slots=True)
class ChannelOutcome:
    channel: str
    outcome: str  # sent (every URL), failed, timeout, no_match (the tag names no URL)
    urls: tuple[UrlOutcome, ...]


def make_asset(retries: int, retry_wait: timedelta) -> apprise.AppriseAsset:
    # Apprise owns per-service retry and backoff; tocsin configures it and does not re-implement it.
    return apprise.AppriseAsset(
        default_service_retry=retries,
        default_service_wait=retry_wait.total_seconds(),
        storage_mode="memory",
    )


def size_send_threads(threads: int) -> None:
    """Apprise runs every plugin's blocking send in one process-wide thread pool, sized by default to the CPU count
    (6 threads on 2 cores): a few hanging sends would hold every thread, and per-channel limits would mean nothing.
    Give it a thread for every send the channels' limits allow. Apprise 2.x creates the pool lazily in
    ``apprise.apprise.get_shared_executor``; a pool already made is kept if it is big enough."""
    import apprise.apprise as core

    pool = core._shared_executor
    if pool is not None and pool._max_workers >= threads:
        return
    with core._shared_executor_lock:
        core._shared_executor = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="apprise-send")
    if pool is not None:
        pool.shutdown(wait=False)


class AppriseSender:
    def __init__(self, channels: Channels, asset: apprise.AppriseAsset, timeout: timedelta) -> None:
        self.channels = channels
        self._apprise = apprise.Apprise(asset=asset)
        for service in channels.services:
            self._apprise.add(service)
        self._timeout = timeout.total_seconds()

    async def send_one(self, notification: Notification, channel: str) -> ChannelOutcome:
        """One channel (Apprise tag) of a notification, bounded by the timeout."""
        if not self.channels.has(channel):
            return ChannelOutcome(channel, "no_match", ())
        try:
            # Apprise's own log lines (from its threads, which copy the caller's context) name what they are about.
            with structlog.contextvars.bound_contextvars(incident=notification.incident_id, channel=channel):
                result = await self._apprise.async_notify(
                    body=notification.body,
                    title=notification.title,
                    notify_type=NOTIFY_TYPES.get(notification.reason.value, apprise.NotifyType.INFO),
                    tag=channel,
                    timeout=self._timeout,
                )
        except Exception:
            return ChannelOutcome(channel, "failed", ())
        urls = tuple(
            UrlOutcome(
                # Apprise's privacy form hides credentials; its query string only repeats Apprise's options.
                r.url.split("?", 1)[0],
                "sent"
                if r.status == apprise.AppriseResultStatus.SUCCESS
                else "timeout"
                if r.status == apprise.AppriseResultStatus.TIMEOUT
                else "failed",
            )
            for r in result.results
        )
        if result.status == apprise.AppriseResultStatus.NOMATCH:
            outcome = "no_match"
        elif urls and all(u.outcome == "sent" for u in urls):
            outcome = "sent"
        elif any(u.outcome == "timeout" for u in urls) and not any(u.outcome == "failed" for u in urls):
            outcome = "timeout"
        else:
            outcome = "failed"
        return ChannelOutcome(channel, outcome, urls)

    async def send(self, notification: Notification) -> list[ChannelOutcome]:
        """Every channel at once, so a hanging channel delays no other beyond the timeout."""
        return list(await asyncio.gather(*(self.send_one(notification, ch) for ch in notification.channels)))
