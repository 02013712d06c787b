"""The outbox worker: claim only what there is room for, hold it while it waits or is sent, send each incident's
entries in the order decided, and record what became of each.

A notification is in the outbox before anything is sent (written with its decision), so a crash loses none. It is
sent a second time only if tocsin dies between sending it and recording it, or if the store stays unreachable
for longer than what is left of the lease once the send ended (the lease is renewed every third of its length
while the entry is held here, and the record is retried every second at most until it sticks).
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from datetime import datetime, timedelta

import structlog

from daemon.clock import Clock
from daemon.domain import Notification
from daemon.effects import aside
from daemon.effects.backoff import until_stored
from daemon.effects.lanes import Lanes
from daemon.effects.send import Sending
from daemon.engine.state import Decision
from daemon.metrics import Metrics
from daemon.store.base import Delivery, Store, StoreUnavailable
from notifiers.sender import AppriseSender

log = structlog.get_logger("tocsin.notifier")
# Look again at least this often: another replica may have queued a notification, or died holding one.
IDLE = timedelta(seconds=1)
# Entries held here at most (claimed, waiting for their channel or their incident's earlier entries, or being
# sent): a claim takes no more than the room left, so what waits here is never claimed by this replica again.
LOCAL_QUEUE = 128
PER_CHANNEL = 8  # sends under way at once per channel (notify.per_channel)
RELEASE_WITHIN = 2.0  # seconds stop() spends giving back what was claimed and not started


class OutboxWorker:
    def __init__(
        self,
        store: Store,
        sender: AppriseSender,
        clock: Clock,
        metrics: Metrics,
        lease: timedelta,
        per_channel: int = PER_CHANNEL,
        capacity: int = LOCAL_QUEUE,
    ) -> None:
        # Renewed while held; long enough that a send ending just before a store outage is recorded in time.
        self.lease = lease
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self.capacity = capacity
        self.lanes = Lanes(per_channel)
        self._held: dict[str, Notification] = {}
        self._started: set[str] = set()
        self._chains: dict[str, asyncio.Task[None]] = {}  # incident -> its latest chain of sends
        self._token = secrets.token_hex(8)  # kept until a claim answers (see the queue contract)
        self._next_hold: datetime | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._sending = Sending(store, sender, self.lanes, clock, metrics, lease, lambda: self._stopping)

    def use_sender(self, sender: AppriseSender, lease: timedelta) -> None:
        """A reload's channels: sends that start from now on use them (those under way finish as they began), with
        the lease their timeout needs (a longer ``notify.timeout`` must not outlast the claim of what it sends)."""
        self._sending.sender = sender
        self.lease = self._sending.lease = lease

    def on_decision(self, decision: Decision) -> None:
        if decision.notifications:
            self._wake.set()

    @property
    def wake(self) -> asyncio.Event:
        """Set when there is new work: a decision queued notifications, or a send ended and made room."""
        return self._wake

    @property
    def held(self) -> int:
        return len(self._held)

    async def run_pending(self) -> int:
        """Claim what is due, as much as there is room for, and start sending it; returns how many were claimed.
        Different incidents go out in parallel, each incident's entries in order."""
        room = self.capacity - len(self._held)
        if room <= 0 or self._stopping:
            return 0  # back-pressure: what is held already is sent first
        now = self.clock.now()
        claimed = await self.store.claim_notifications(now, room, self.lease, self._token)
        self._token = secrets.token_hex(8)
        aside.report(claimed.set_aside, self.metrics)
        chains: dict[str, list[Notification]] = {}
        for n in claimed.items:
            mine = self._held.get(n.key)
            if mine is not None:
                # Held here, its lease lapsed unseen and this replica took it again: go on with the new claim.
                mine.claim = n.claim
                continue
            self._held[n.key] = n
            chains.setdefault(n.incident_id, []).append(n)
        if self._held and self._next_hold is None:
            self._next_hold = now + self.lease / 3
        for incident_id, chain in chains.items():
            task = asyncio.create_task(self._chain(chain, self._chains.get(incident_id)), name=f"notify:{incident_id}")
            self._chains[incident_id] = task
            task.add_done_callback(functools.partial(self._chain_done, incident_id))
        return sum(len(chain) for chain in chains.values())

    def _chain_done(self, incident_id: str, task: asyncio.Task[None]) -> None:
        if self._chains.get(incident_id) is task:
            del self._chains[incident_id]

    async def _chain(self, chain: list[Notification], after: asyncio.Task[None] | None) -> None:
        """One incident's entries, one after the other (a page before its resolution)."""
        if after is not None:
            await asyncio.wait([after])
        for n in chain:
            if self._stopping:
                return  # not started: stop() gives it back
            self._started.add(n.key)
            try:
                delivery = await self._sending.deliver(n)
            except StoreUnavailable:
                self._started.discard(n.key)  # stopping with the store away: never started
                return
            except Exception:
                log.exception("notification_failed", key=n.key)
                delivery = None
            try:
                if delivery is not None:
                    await self._record(delivery)
            finally:
                self._held.pop(n.key, None)
                self._started.discard(n.key)
        self._wake.set()

    async def _record(self, delivery: Delivery) -> None:
        """Record until it sticks (held meanwhile): a record that fails must not send the page again."""
        await until_stored(lambda: self.store.record_delivery(delivery), lambda: False, "record", key=delivery.key)

    async def hold(self) -> None:
        """Renew the lease of everything held here, every third of the lease."""
        now = self.clock.now()
        if not self._held:
            self._next_hold = None
            return
        if self._next_hold is not None and now < self._next_hold:
            return
        held = {key: n.claim for key, n in self._held.items()}
        kept = await self.store.hold_notifications(held, now + self.lease)
        lost = [key for key in held if key not in kept and key in self._held]
        if lost:
            # Their lease ran out before this renewal (the store was away): whoever claims them sends them.
            log.warning("claims_lapsed", count=len(lost))
        self._next_hold = now + self.lease / 3

    async def step(self) -> None:
        """One pass of the loop: renew leases, claim and start what there is room for, sleep until woken."""
        self._wake.clear()
        await self.hold()
        await self.run_pending()
        until = self.clock.now() + IDLE
        if self._next_hold is not None:
            until = min(until, self._next_hold)
        await self.clock.sleep_until(until, self._wake)

    async def drain(self) -> None:
        """Send what is pending now and wait for every send to be recorded (tests)."""
        while True:
            await self.run_pending()
            running = [t for t in self._chains.values() if not t.done()]
            if not running:
                return
            await asyncio.gather(*running, return_exceptions=True)

    async def stop(self, grace: float = 10.0) -> None:
        """Take no new work; let sends under way finish and be recorded within ``grace`` seconds; give back what
        was claimed and not started. Returns within about ``grace + 1 + RELEASE_WITHIN`` seconds."""
        self._stopping = True
        chains = [t for t in self._chains.values() if not t.done()]
        if chains:
            _, pending = await asyncio.wait(chains, timeout=grace)
            for task in pending:
                # Past the grace: what is still unrecorded is sent again after the restart (DESIGN's one exception).
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        unstarted = {key: n.claim for key, n in self._held.items() if key not in self._started}
        if unstarted:
            try:
                async with asyncio.timeout(RELEASE_WITHIN):
                    await self.store.release_notifications(unstarted, self.clock.now())
            except (StoreUnavailable, TimeoutError):
                log.warning("claims_not_released", count=len(unstarted))
            self._held.clear()
