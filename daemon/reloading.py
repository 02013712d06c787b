"""Reload (SIGHUP, ``POST /-/reload``): the configuration file is read and checked as ``tocsin check-config`` does;
a bad one is refused and the running one stays; a good one is put in force between two decisions, the open
incidents are brought in line with it (a batch at a time), and the answer says what changed."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import signal
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from daemon.config.check import check
from daemon.config.loader import ConfigError, load_settings
from daemon.config.settings import Settings
from daemon.engine.events import ConfigReloaded
from daemon.generations import Generations
from daemon.services import Services
from daemon.store.base import IncidentFilter, StoreUnavailable
from notifiers.channels import ChannelError
from notifiers.render import TemplateProblem

log = structlog.get_logger("tocsin")
# Open incidents per decision: a reload with thousands open is many small commits, not one huge one.
BATCH = 100
# What a running process cannot change: a reload keeps the running value and warns.
RESTART_KEYS = ("listen", "store", "workers", "drain_timeout", "log_level", "log_format")
# How long ``POST /-/reload`` waits for every worker's report (each reads and checks the files itself).
WORKERS_WITHIN = 30.0
WATCH = 1.0  # seconds between a worker's looks at the reload generation
FAILED = "the reload failed: see tocsin's log, then reload again"


# A URL in a problem: Apprise quotes one it cannot parse whole (a bot token in its path, a password before
# its host), and so does the check of an unusable store URL.
URL = re.compile(r"\b([a-z][a-z0-9+.-]*)://([^\s'\"]*)", re.IGNORECASE)
# Where a URL is only a path on this machine, or the placeholder of a hint, it stays whole.
PLAIN = ("sqlite", "file")
PLACEHOLDERS = ("host", "host:port")


def redact(problem: str) -> str:
    """``problem`` with every URL cut to its scheme: the answer to ``/-/reload`` goes to whoever holds an API
    token, and the log line to wherever logs go; neither may carry the channels' or the store's secrets."""

    def cut(match: re.Match[str]) -> str:
        scheme, rest = match.group(1), match.group(2)
        if scheme.lower() in PLAIN or rest.split("/")[0] in PLACEHOLDERS:
            return match.group(0)
        return f"{scheme}://…"

    return URL.sub(cut, problem)


class ReloadRefused(Exception):
    """The new configuration is not valid: nothing of it was put in force."""

    def __init__(self, problems: list[str]) -> None:
        problems = [redact(p) for p in problems]
        super().__init__("; ".join(problems))
        self.problems = problems


class ReloadIncomplete(Exception):
    """The new configuration is in force, but the open incidents could not all be brought in line with it."""


@dataclass(frozen=True, slots=True)
class Outcome:
    changed: list[str]  # top-level keys whose value changed (and that were put in force)
    restart_needed: list[str]  # keys changed in the file that only a restart applies
    incidents: int  # open incidents looked at

    def json(self) -> dict[str, Any]:
        return {
            "status": "reloaded",
            "changed": self.changed,
            "restart_needed": self.restart_needed,
            "open_incidents": self.incidents,
        }


def keep_running(old: Settings, new: Settings) -> tuple[Settings, list[str]]:
    """``new`` with what needs a restart kept as it runs, and the keys so kept."""
    kept = {key: getattr(old, key) for key in RESTART_KEYS if getattr(old, key) != getattr(new, key)}
    if old.tls.enabled != new.tls.enabled:
        kept["tls"] = old.tls  # turning TLS on or off changes the listening socket
    if (old.channels is None) != (new.channels is None):
        kept["channels"] = old.channels  # the notifier runs only if channels were set at start-up
    named = []  # nested values sized at start-up: the rest of their section reloads
    if old.notify.per_channel != new.notify.per_channel:
        kept["notify"] = new.notify.model_copy(update={"per_channel": old.notify.per_channel})
        named.append("notify.per_channel")
    if old.metrics.max_services != new.metrics.max_services:
        kept["metrics"] = new.metrics.model_copy(update={"max_services": old.metrics.max_services})
        named.append("metrics.max_services")
    whole = [key for key in kept if key not in ("notify", "metrics")]
    return new.model_copy(update=kept), sorted(whole + named)


def changed_keys(old: Settings, new: Settings) -> list[str]:
    return [key for key in type(new).model_fields if getattr(old, key) != getattr(new, key)]


def file_digests(settings: Settings) -> dict[str, str]:
    """A digest of the files each setting names: a file edited at the same path leaves the settings equal, yet
    the reload puts it in force, and the answer must say so."""
    named: dict[str, list[Path]] = {
        "channels": [Path(settings.channels)] if settings.channels else [],
        "templates": sorted(Path(settings.templates).glob("*")) if settings.templates else [],
        "tls": [Path(settings.tls.cert_file), Path(settings.tls.key_file)] if settings.tls.enabled else [],
    }
    digests = {}
    for key, paths in named.items():
        digest = hashlib.sha256()
        for path in paths:
            digest.update(str(path).encode() + b"\0")
            try:
                digest.update(path.read_bytes() if path.is_file() else b"")
            except OSError:
                digest.update(b"\0unreadable")
        digests[key] = digest.hexdigest()
    return digests


class Reloader:
    """One per process. Reloads are serialised: a SIGHUP during a reload runs after it, on the newest files."""

    def __init__(self, services: Services, path: str | None, environ: Mapping[str, str] | None = None) -> None:
        self.services = services
        self.path = path
        self.environ = environ
        # The listening socket's context (HTTPS): a reload loads the new certificate into it.
        self.ssl_context: ssl.SSLContext | None = None
        self.generations = Generations.of_worker(services.settings.workers)
        self._parent = os.getppid()  # with workers: the process that forwards SIGHUP to every worker
        self._files = file_digests(services.settings)  # as read at start-up, moments ago
        # The highest generation this worker has reloaded for (0: the configuration the parent read).
        self.seen = 0
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._waiting = False  # a SIGHUP's reload waits for its turn

    # -- what SIGHUP and the route call -----------------------------------------------------------------

    def on_sighup(self) -> None:
        if self._stopping or self._waiting:
            return  # stopping; or a reload waits its turn, and it will read the newest files
        self._waiting = True
        task = asyncio.get_running_loop().create_task(self._signalled())
        self._tasks.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            self._waiting = False  # it may have been cancelled before its turn came: the next SIGHUP reloads

    def stop(self) -> None:
        """SIGTERM: no reload starts from now on (one under way finishes, within the drain)."""
        self._stopping = True  # the watch ends at its next look; a reload it began finishes, as any other

    def watch(self) -> None:
        """With several workers, also look at the generation every WATCH seconds: a SIGHUP that reached this
        worker before it could handle it (while it started) is then a reload late, not a reload lost."""
        if self.generations is not None:
            task = asyncio.get_running_loop().create_task(self._watch())
            self._tasks.add(task)

    async def _watch(self) -> None:
        assert self.generations is not None
        while not self._stopping:
            await asyncio.sleep(WATCH)
            if self.generations.current() > self.seen and not self._lock.locked():
                await self._signalled()

    async def _signalled(self) -> None:
        if self._stopping:
            return  # signalled while stopping, or queued behind a reload when SIGTERM came
        with contextlib.suppress(ReloadRefused, ReloadIncomplete):  # logged, and reported to the workers
            await self.reload(signalled=True)

    async def everywhere(self) -> dict[str, Any]:
        """``POST /-/reload``: this process's outcome, once every worker runs the new configuration. Raises
        ReloadRefused or ReloadIncomplete as ``reload`` does, for this worker or any other."""
        if self.generations is None:
            return (await self.reload()).json()
        if os.getppid() != self._parent:
            raise ReloadIncomplete("the parent process is gone: restart tocsin")  # never signal whoever adopted us
        target = self.generations.current() + 1
        os.kill(self._parent, signal.SIGHUP)  # the parent raises the generation and signals every worker
        try:
            async with asyncio.timeout(WORKERS_WITHIN):
                reports = await self.generations.wait_for(target)
        except TimeoutError:
            raise ReloadIncomplete(f"not every worker reported its reload within {WORKERS_WITHIN:.0f}s") from None
        mine = next((r for r in reports if r["pid"] == os.getpid()), reports[0])
        for report in sorted(reports, key=lambda r: r["pid"] != os.getpid()):
            outcome = report["outcome"]
            if outcome.get("refused"):
                raise ReloadRefused(list(outcome["refused"]))
            if outcome.get("incomplete"):
                raise ReloadIncomplete(str(outcome["incomplete"]))
        result: dict[str, Any] = mine["outcome"]
        return result

    async def reload(self, signalled: bool = False) -> Outcome:
        async with self._lock:
            if signalled:
                self._waiting = False  # from now on, a SIGHUP may find files newer than those read here
            generation = self.generations.current() if self.generations is not None else 0
            report: dict[str, Any] = {"incomplete": FAILED}  # unless it ends as it should
            try:
                outcome = await self._reload()
            except ReloadRefused as exc:
                report = {"refused": exc.problems}
                raise
            except ReloadIncomplete as exc:
                report = {"incomplete": str(exc)}
                raise
            except Exception:
                # Unforeseen (a bug): the metric's alert must fire, and the caller and the other workers hear of
                # it as of a reload that may be in force for some parts and not others.
                self.services.metrics.reload_successful.set(0)
                log.exception("reload_failed", config=self.path)
                report = {"incomplete": FAILED}
                raise ReloadIncomplete(FAILED) from None
            else:
                report = outcome.json()
                return outcome
            finally:
                if self.generations is not None:
                    self.seen = max(self.seen, generation)
                    with contextlib.suppress(OSError):  # the parent and its folder gone: nobody waits for it
                        self.generations.report(generation, report)

    # -- the reload itself ------------------------------------------------------------------------------

    async def _reload(self) -> Outcome:
        services = self.services
        old, previous_secret = services.settings, services.link_secret
        try:
            new, files = await asyncio.to_thread(self._read)
            new, restart = keep_running(old, new)
            edited = {key for key, digest in files.items() if digest != self._files.get(key)}
            differs = {*changed_keys(old, new), *edited} - {*restart}
            changed = [key for key in type(new).model_fields if key in differs]
            try:
                services.reload(new)
            except (ChannelError, TemplateProblem) as exc:  # changed since they were checked
                raise ReloadRefused(getattr(exc, "problems", None) or [str(exc)]) from None
            try:
                self._load_certificate(old, new)
            except ReloadRefused:
                services.reload(old)
                raise
        except ReloadRefused as exc:
            services.metrics.reload_successful.set(0)
            log.error(
                "reload_refused",
                config=self.path,
                problems=exc.problems,
                message="the configuration was not reloaded: the running one stays in force",
            )
            raise
        self._files = files  # in force, even if the open incidents cannot all follow yet
        for key in restart:
            log.warning(
                "reload_needs_restart",
                key=key,
                message=f"{key} changed in the configuration: it takes effect at the next restart",
            )
        if services.link_secret != previous_secret:
            log.warning(
                "link_secret_changed",
                message="acknowledge links already sent, board sessions and calendar addresses made with the "
                "previous link_secret no longer work",
            )
        removed = sorted({b.name for b in old.heartbeats} - {b.name for b in new.heartbeats})
        try:
            incidents = await self._bring_in_line(removed)
        except StoreUnavailable as exc:
            services.metrics.reload_successful.set(0)
            log.error(
                "reload_incomplete",
                error=str(exc),
                message="the new configuration is in force, but the open incidents could not all follow it: "
                "reload again once the store is back",
            )
            raise ReloadIncomplete(
                "the new configuration is in force, but the store is unavailable: open incidents may still follow "
                "the previous one; reload again once the store is back"
            ) from None
        services.metrics.reload_successful.set(1)
        services.metrics.reload_success_time.set(services.clock.now().timestamp())
        log.info("config_reloaded", config=self.path, changed=changed, open_incidents=incidents)
        return Outcome(changed, restart, incidents)

    def _read(self) -> tuple[Settings, dict[str, str]]:
        """The file as ``tocsin check-config`` reads and checks it, and the digests of the files it names (in a
        thread: it reads files, Apprise's too)."""
        if self.path is None:
            raise ReloadRefused(["tocsin was not started from a configuration file: there is nothing to reload"])
        try:
            settings = load_settings(self.path, self.environ)
        except ConfigError as exc:
            raise ReloadRefused(exc.problems) from None
        report = check(settings)
        if report.problems:
            raise ReloadRefused(report.problems)
        for warning in report.warnings:
            log.warning("config_warning", message=warning)  # as at start-up
        return settings, file_digests(settings)

    def _load_certificate(self, old: Settings, new: Settings) -> None:
        """New connections get the new certificate; those open keep theirs. The files were checked in a context
        of their own first; if they changed since and fail here, the old ones go back in."""
        if self.ssl_context is None or not new.tls.enabled:
            return
        try:
            self.ssl_context.load_cert_chain(new.tls.cert_file, new.tls.key_file)
        except (ssl.SSLError, OSError) as exc:
            try:
                self.ssl_context.load_cert_chain(old.tls.cert_file, old.tls.key_file)
            except (ssl.SSLError, OSError):
                log.exception("certificate_not_restored", cert_file=old.tls.cert_file)
            raise ReloadRefused([f"tls: {new.tls.cert_file} and {new.tls.key_file} cannot be loaded: {exc}"]) from None

    async def _bring_in_line(self, removed_heartbeats: list[str]) -> int:
        """Every open incident follows the new configuration, BATCH to a decision; the removed heartbeats go with
        a first decision of their own, taken before the first list is read: SQLite commits in the order decisions
        were submitted, so once it is stored every decision begun under the old configuration is stored too, and
        the list sees the incidents they declared. Returns how many incidents were looked at."""
        store, pipeline = self.services.store, self.services.pipeline
        await pipeline.submit(ConfigReloaded((), tuple(removed_heartbeats)))
        cursor: str | None = None
        seen = 0
        while True:
            page = await store.list_incidents(IncidentFilter(state="open"), BATCH, cursor)
            ids = tuple(i.id for i in page.items)
            if ids:
                await pipeline.submit(ConfigReloaded(ids, ()))
            seen += len(ids)
            if page.next_cursor is None:
                return seen
            cursor = page.next_cursor
