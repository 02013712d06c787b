"""The bench's parts: throughput and latency of a target (tocsin on SQLite, tocsin on Redis, Alertmanager),
declare -> first page latency under background load, and memory and restart time with a large state."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from tests.bench import workload
from tests.bench.loadgen import OnceResult, WrkResult, run_wrk, send_once
from tests.bench.procs import (
    Alertmanager,
    Finished,
    Redis,
    Server,
    Tocsin,
    cpu_probe_ms,
    machine_busy_seconds,
    run_measured,
    self_cpu_seconds,
)
from tests.bench.report import say, summarize
from tests.sinks import HttpSink
from tests.support import AM_TOKEN, write_config

TOCSIN_HEADERS = {"Authorization": f"Bearer {AM_TOKEN}"}
PAGE_CHANNEL = "/oncall-primary"  # level 0 of policy page-hard, which SEV1 routes to in deploy/tocsin.yml


@dataclass
class Options:
    distinct: int
    services: int
    resends: int
    batch: int
    changing: bool
    connections: int
    duration: int
    runs: int
    rate: float  # alerts/s offered for the fixed-load latency
    warmup: int
    threads: int
    pages: int
    page_interval: float
    page_load: float  # alerts/s of background duplicates while paging
    state_services: int
    state_per_service: int
    board_incidents: int = 10_000
    max_passes: int = 50  # the storm: fresh-store passes per measured run, at most


@dataclass
class Prepared:
    """One workload rendered for one kind of target, built once."""

    bodies: workload.Bodies
    first: workload.Bodies  # the D alerts once: sent before measuring
    script: Path  # wrk Lua
    lines: Path  # one body per line, for the open-loop generator
    path: str
    headers: dict[str, str]


def prepare(opts: Options, target: str, directory: Path) -> Prepared:
    load = workload.Workload(opts.distinct, opts.services, opts.resends, opts.batch, changing=opts.changing)
    bodies = workload.build(load.batches(), target)
    first = workload.build(load.first_pass(), target)
    path = workload.TOCSIN_PATH if target == "tocsin" else workload.ALERTMANAGER_PATH
    headers = {"Content-Type": "application/json", **(TOCSIN_HEADERS if target == "tocsin" else {})}
    script = directory / f"{target}.lua"
    script.write_text(workload.wrk_script(bodies, path, headers, opts.threads))
    lines = bodies.write_lines(directory / f"{target}-bodies.jsonl")
    return Prepared(bodies, first, script, lines, path, headers)


# -- sink -------------------------------------------------------------------------------------------------------


@dataclass
class PageSink(HttpSink):
    """tests/sinks.py's HttpSink, noting when the first page for each bench page service arrived."""

    arrivals: dict[str, float] = field(default_factory=dict)

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        response = await super()._handle(request)
        if request.path == PAGE_CHANNEL and self.received[PAGE_CHANNEL]:
            title = str(self.received[PAGE_CHANNEL][-1].get("title", ""))
            match = re.search(r" on (page-[\w-]+)", title)
            if match:
                self.arrivals.setdefault(match.group(1), arrived)
        return response


# -- targets ----------------------------------------------------------------------------------------------------


class Target:
    """What is measured: its processes (whose CPU counts), its URL, and how to tear it down."""

    name = ""
    url = ""

    def servers(self) -> list[Server]:
        raise NotImplementedError

    async def start(self) -> float:
        raise NotImplementedError

    def cpu(self) -> dict[str, float]:
        return {s.name: s.cpu() for s in self.servers()}

    def peak_mb(self) -> dict[str, float]:
        return {s.name: s.peak_mb() for s in self.servers()}

    def rss_mb(self) -> dict[str, float]:
        return {s.name: s.rss_mb() for s in self.servers()}

    def check_alive(self) -> None:
        for s in self.servers():
            if not s.alive():
                raise RuntimeError(f"{s.name} died during the run:\n{s.tail()}")

    def log_summary(self) -> list[str]:
        return []

    def stop(self) -> None:
        for s in reversed(self.servers()):
            s.stop()


class TocsinTarget(Target):
    """A fresh tocsin on ``store`` ("sqlite" or "redis": a dedicated redis-server, AOF everysec) in ``directory``."""

    def __init__(self, store: str, directory: Path, sink: str | None) -> None:
        self.name = store
        self.dir = directory
        self.redis = Redis(directory) if store == "redis" else None
        self.sink = sink
        self.tocsin: Tocsin | None = None

    def servers(self) -> list[Server]:
        return [s for s in (self.redis, self.tocsin) if s is not None]

    async def start(self) -> float:
        if self.redis is not None:
            self.redis.start()
            store = f"{self.redis.url}?prefix=bench"
        else:
            store = f"sqlite:///{self.dir / 'tocsin.db'}"
        config = write_config(self.dir, {"store": store}, sink=self.sink)
        if self.sink is None:
            # No channels, so nothing pages: no policies, no routes (each incident notes "nobody is paged"), no
            # status-update reminders, no people (their contacts are channels) nor the schedules naming them. The
            # rest of deploy/tocsin.yml (severity rules, raises) stays.
            data = yaml.safe_load(config.read_text())
            data.update(channels=None, policies={}, routes=[], status_updates={}, people={}, schedules={})
            config.write_text(yaml.safe_dump(data, sort_keys=False))
        self.tocsin = Tocsin(config, self.dir / "tocsin.log")
        self.url = self.tocsin.url
        self.tocsin.start()
        return await self.tocsin.wait_ready()

    async def restart(self) -> tuple[float, float]:
        """SIGTERM (drain) and start again on the same store: (seconds to stop, seconds from spawn to ready)."""
        assert self.tocsin is not None
        started = time.monotonic()
        self.tocsin.stop()
        stopped = time.monotonic() - started
        self.tocsin.start()
        return stopped, await self.tocsin.wait_ready()

    def log_summary(self) -> list[str]:
        return self.tocsin.log_summary() if self.tocsin is not None else []


class AlertmanagerTarget(Target):
    name = "alertmanager"

    def __init__(self, directory: Path) -> None:
        self.am = Alertmanager(directory)
        self.url = self.am.url

    def servers(self) -> list[Server]:
        return [self.am]

    async def start(self) -> float:
        started = time.monotonic()
        self.am.start()
        await self.am.wait_ready()
        return time.monotonic() - started

    def log_summary(self) -> list[str]:
        lines = [line for line in self.am.tail(100_000).splitlines() if line.strip()]
        return [f"{len(lines)} log lines, last: {lines[-1][:200]}"] if lines else []


# -- throughput and latency -------------------------------------------------------------------------------------


@dataclass
class ThroughputRun:
    target: str
    probe_ms: float  # cpu_probe_ms() just before the run
    ready_s: float
    first_pass: OnceResult
    first_pass_alerts: int
    wrk: WrkResult
    alerts_per_request: float
    cpu: dict[str, float]  # server CPU-seconds during the measured wrk run, per process
    other_cpu: float  # CPU-seconds used on the machine by neither the servers, nor the client, nor the bench
    fixed: dict[str, Any]  # the open-loop generator's JSON
    fixed_client: Finished
    fixed_cpu: dict[str, float]
    fixed_other_cpu: float
    peak_mb: dict[str, float]
    rss_after_wrk: dict[str, float]
    rss_after_fixed: dict[str, float]
    log: list[str]

    @property
    def alerts_s(self) -> float:
        return self.wrk.accepted_rps * self.alerts_per_request

    @property
    def server_cpu(self) -> float:
        return sum(self.cpu.values())

    @property
    def cpu_per_1k(self) -> float:
        accepted = (self.wrk.requests - self.wrk.non2xx) * self.alerts_per_request
        return self.server_cpu / accepted * 1000 if accepted else float("nan")

    @property
    def fixed_cpu_per_1k(self) -> float:
        accepted = self.fixed.get("ok", 0) * self.alerts_per_request
        return sum(self.fixed_cpu.values()) / accepted * 1000 if accepted else float("nan")

    @property
    def first_pass_rate(self) -> float:
        e = self.first_pass.elapsed
        return self.first_pass_alerts / e if e else float("nan")

    @property
    def non2xx(self) -> int:
        return self.wrk.non2xx + int(self.fixed.get("non2xx", 0)) + self.first_pass.non2xx


def _delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before.get(k, 0.0) for k in after}


class Meter:
    """CPU over a measured window: the target's processes, and what the rest of the machine did meanwhile (another
    benchmark or build on the same two cores makes every figure of the window doubtful; the report shows it)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.cpu = target.cpu()
        self.busy = machine_busy_seconds()
        self.own = self_cpu_seconds()

    def stop(self, client_cpu: float) -> tuple[dict[str, float], float]:
        """(the target's CPU-seconds per process, CPU-seconds of everything else on the machine)."""
        cpu = _delta(self.target.cpu(), self.cpu)
        busy = machine_busy_seconds() - self.busy
        own = self_cpu_seconds() - self.own
        return cpu, max(0.0, busy - sum(cpu.values()) - client_cpu - own)


async def open_loop(
    url: str, prepared: Prepared, rate_rps: float, duration: float, connections: int, out: Path
) -> tuple[dict[str, Any], Finished]:
    """The open-loop generator in a subprocess (its CPU is its own): JSON result and the finished process."""
    args = [
        sys.executable,
        "-m",
        "tests.bench.loadgen",
        "--url",
        url,
        "--bodies",
        str(prepared.lines),
        "--rate",
        f"{rate_rps:.3f}",
        "--duration",
        str(duration),
        "--connections",
        str(connections),
    ]
    for name, value in prepared.headers.items():
        if name != "Content-Type":
            args += ["--header", f"{name}: {value}"]
    done = await run_measured(args, out)
    lines = [line for line in done.output.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the open-loop generator exited {done.returncode}:\n{done.output[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result, done


async def throughput_run(opts: Options, target: Target, prepared: Prepared, run_dir: Path) -> ThroughputRun:
    probe = cpu_probe_ms()
    ready = await target.start()
    url = target.url + prepared.path
    try:
        first = await send_once(url, prepared.first.bodies, prepared.headers, opts.connections)
        if opts.warmup > 0:
            await run_wrk(url, prepared.script, opts.connections, opts.warmup, run_dir / "wrk-warmup.txt", opts.threads)
        target.check_alive()
        meter = Meter(target)
        wrk = await run_wrk(url, prepared.script, opts.connections, opts.duration, run_dir / "wrk.txt", opts.threads)
        cpu, other = meter.stop(wrk.cpu)
        target.check_alive()
        rss_after_wrk = target.rss_mb()
        meter = Meter(target)
        rate_rps = opts.rate / prepared.bodies.alerts_per_request
        fixed, client = await open_loop(
            url, prepared, rate_rps, opts.duration, max(opts.connections, 64), run_dir / "openloop.txt"
        )
        fixed_cpu, fixed_other = meter.stop(client.cpu)
        target.check_alive()
        return ThroughputRun(
            target=target.name,
            probe_ms=probe,
            ready_s=ready,
            first_pass=first,
            first_pass_alerts=sum(prepared.first.alerts),
            wrk=wrk,
            alerts_per_request=prepared.bodies.alerts_per_request,
            cpu=cpu,
            other_cpu=other,
            fixed=fixed,
            fixed_client=client,
            fixed_cpu=fixed_cpu,
            fixed_other_cpu=fixed_other,
            peak_mb=target.peak_mb(),
            rss_after_wrk=rss_after_wrk,
            rss_after_fixed=target.rss_mb(),
            log=target.log_summary(),
        )
    finally:
        target.stop()


def busy_warning(other: float, seconds: float) -> str:
    share = other / seconds if seconds else 0.0
    return f" ({share:.0%} of a core: NOT A QUIET MACHINE, figures doubtful)" if share > 0.1 else ""


def describe_run(n: int, r: ThroughputRun, connections: int, duration: int) -> None:
    cpu = " + ".join(f"{k} {v:.1f}" for k, v in r.cpu.items())
    fixed = r.fixed
    lat = fixed["latency_ms"]
    peak = ", ".join(f"{k} {v:.0f}" for k, v in r.peak_mb.items())
    rss = ", ".join(f"{k} {r.rss_after_wrk[k]:.0f} -> {r.rss_after_fixed[k]:.0f}" for k in r.rss_after_fixed)
    errors = {k: v for k, v in r.wrk.socket_errors.items() if v}
    say(
        f"  {r.target} run {n}: CPU probe {r.probe_ms:.0f} ms; ready {r.ready_s:.2f} s; "
        f"first pass {r.first_pass_alerts:,} new alerts at "
        f"{r.first_pass_rate:,.0f}/s (non-2xx {r.first_pass.non2xx}, errors {r.first_pass.errors})"
    )
    say(
        f"    wrk C={connections} {duration} s: {r.wrk.requests:,} requests, {r.wrk.rps:,.0f} req/s, "
        f"{r.alerts_s:,.0f} alerts/s accepted, "
        f"non-2xx {r.wrk.non2xx}, socket errors {errors or 0}; ack p50 {r.wrk.latency_ms['p50']:.1f} "
        f"p90 {r.wrk.latency_ms['p90']:.1f} p99 {r.wrk.latency_ms['p99']:.1f} max {r.wrk.latency_ms['max']:.1f} ms"
    )
    say(
        f"    server CPU {r.server_cpu:.1f} s ({cpu}) = {r.cpu_per_1k:.4f} s per 1,000 alerts; "
        f"wrk's own CPU {r.wrk.cpu:.1f} s ({r.wrk.cpu / r.wrk.duration * 100:.0f}% of one core); "
        f"other processes {r.other_cpu:.1f} s{busy_warning(r.other_cpu, r.wrk.duration)}"
    )
    say(
        f"    fixed load {fixed['offered_rps']:.0f} req/s: {fixed['ok']:,}/{fixed['scheduled']:,} ok, "
        f"non-2xx {fixed['non2xx']}, errors {fixed['errors'] or 0}; latency p50 {lat['p50']:.1f} "
        f"p90 {lat['p90']:.1f} p99 {lat['p99']:.1f} max {lat['max']:.1f} ms; server CPU "
        f"{sum(r.fixed_cpu.values()):.1f} s = {r.fixed_cpu_per_1k:.4f} s per 1,000 alerts; generator CPU "
        f"{r.fixed_client.cpu:.1f} s, send lag p99 {fixed['send_lag_ms']['p99']:.1f} ms; other processes "
        f"{r.fixed_other_cpu:.1f} s{busy_warning(r.fixed_other_cpu, fixed['elapsed'])}"
    )
    say(f"    peak RSS MB: {peak}; RSS MB after wrk -> after fixed load: {rss}")
    for line in r.log[:8]:
        say(f"    log: {line}")


# -- declare -> first page ------------------------------------------------------------------------------------


@dataclass
class PageRun:
    store: str
    latencies_ms: list[float]
    sent: int
    missing: int
    ack_ms: list[float]
    page_non2xx: int
    background: dict[str, Any]
    background_client: Finished
    log: list[str]


def page_body(service: str) -> bytes:
    alert = workload.Alert(
        {
            "alertname": "BenchPage",
            "service": service,
            "instance": f"{service}-1",
            "severity": "critical",
            "env": "prod",
        },
        {"summary": f"bench page for {service}"},
    )
    return workload.tocsin_body([alert], datetime.now(UTC))


async def page_run(opts: Options, store: str, n: int, run_dir: Path, sink: PageSink, prepared: Prepared) -> PageRun:
    target = TocsinTarget(store, run_dir, sink.address)
    await target.start()
    url = target.url + prepared.path
    try:
        await send_once(url, prepared.first.bodies, prepared.headers, opts.connections)  # background = duplicates
        lead, tail = 1.0, 3.0
        span = lead + opts.pages * opts.page_interval + tail
        background = asyncio.create_task(
            open_loop(
                url,
                prepared,
                opts.page_load / prepared.bodies.alerts_per_request,
                span,
                64,
                run_dir / "background.txt",
            )
        )
        await asyncio.sleep(lead)
        services = [f"page-{store}-r{n}-{i:04d}" for i in range(opts.pages)]
        sent: dict[str, float] = {}
        acks: list[float] = []
        failures = 0
        headers = {"Content-Type": "application/json", **TOCSIN_HEADERS}

        async def page(session: aiohttp.ClientSession, service: str, at: float) -> None:
            nonlocal failures
            body = page_body(service)
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            sent[service] = time.monotonic()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                acks.append((time.monotonic() - sent[service]) * 1000)
                if not 200 <= response.status < 300:
                    failures += 1

        start = time.monotonic()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            await asyncio.gather(*(page(session, s, start + i * opts.page_interval) for i, s in enumerate(services)))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(s in sink.arrivals for s in services):
            await asyncio.sleep(0.05)
        result, client = await background
        latencies = [(sink.arrivals[s] - sent[s]) * 1000 for s in services if s in sink.arrivals]
        return PageRun(
            store=store,
            latencies_ms=latencies,
            sent=len(services),
            missing=len(services) - len(latencies),
            ack_ms=acks,
            page_non2xx=failures,
            background=result,
            background_client=client,
            log=target.log_summary(),
        )
    finally:
        target.stop()


def describe_page_run(n: int, r: PageRun) -> None:
    lat = summarize(r.latencies_ms)
    ack = summarize(r.ack_ms)
    bg = r.background
    say(
        f"  page {r.store} run {n}: {r.sent - r.missing}/{r.sent} pages arrived; declare -> page p50 "
        f"{lat['p50']:.1f} p90 {lat['p90']:.1f} p99 {lat['p99']:.1f} max {lat['max']:.1f} ms; their ack p50 "
        f"{ack['p50']:.1f} p99 {ack['p99']:.1f} ms, non-2xx {r.page_non2xx}"
    )
    say(
        f"    background {bg['offered_rps']:.0f} req/s of duplicates: {bg['ok']:,}/{bg['scheduled']:,} ok, "
        f"non-2xx {bg['non2xx']}, errors {bg['errors'] or 0}, ack p50 {bg['latency_ms']['p50']:.1f} p99 "
        f"{bg['latency_ms']['p99']:.1f} ms; generator CPU {r.background_client.cpu:.1f} s"
    )
    for line in r.log[:8]:
        say(f"    log: {line}")


# -- state: RSS and restart ---------------------------------------------------------------------------------------


@dataclass
class StateResult:
    store: str
    alerts: int
    services: int
    load: OnceResult
    open_incidents: float
    rss_loaded: dict[str, float]
    peak_loaded: dict[str, float]
    stop_s: list[float]
    ready_s: list[float]
    rss_restarted: dict[str, float]
    log: list[str]


async def open_incidents(url: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        text = await response.text()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("tocsin_open_incidents{"))


async def state_run(opts: Options, store: str, run_dir: Path) -> StateResult:
    load = workload.Workload(
        opts.state_services * opts.state_per_service,
        opts.state_services,
        1,
        opts.batch,
        prefix="state",
        severity="warning",  # SEV3: each service declares one incident, routed to page-soft; no channels
    )
    bodies = workload.build(load.batches(), "tocsin")
    target = TocsinTarget(store, run_dir, None)
    await target.start()
    try:
        url = target.url + workload.TOCSIN_PATH
        loaded = await send_once(url, bodies.bodies, TOCSIN_HEADERS, opts.connections, timeout=120)
        target.check_alive()
        incidents = await open_incidents(target.url)
        rss, peak = target.rss_mb(), target.peak_mb()
        stops, readies = [], []
        for _ in range(max(1, opts.runs)):
            stopped, ready = await target.restart()
            stops.append(stopped)
            readies.append(ready)
        restarted = target.rss_mb()
        if await open_incidents(target.url) != incidents:
            raise RuntimeError("open incidents changed across the restart")
        return StateResult(
            store=store,
            alerts=sum(bodies.alerts),
            services=opts.state_services,
            load=loaded,
            open_incidents=incidents,
            rss_loaded=rss,
            peak_loaded=peak,
            stop_s=stops,
            ready_s=readies,
            rss_restarted=restarted,
            log=target.log_summary(),
        )
    finally:
        target.stop()


def describe_state(r: StateResult) -> None:
    rate = r.alerts / r.load.elapsed if r.load.elapsed else float("nan")
    say(
        f"  state {r.store}: loaded {r.alerts:,} new alerts over {r.services:,} services in {r.load.elapsed:.1f} s "
        f"({rate:,.0f} alerts/s; non-2xx {r.load.non2xx}, errors {r.load.errors}"
        + (f", first: {r.load.first_failure}" if r.load.first_failure else "")
        + f"); open incidents {r.open_incidents:,.0f}"
        + (f" (EXPECTED {r.services:,}, one per service)" if r.open_incidents != r.services else "")
    )
    say(
        "    RSS MB with that state: "
        + ", ".join(f"{k} {v:.0f} (peak {r.peak_loaded[k]:.0f})" for k, v in r.rss_loaded.items())
        + "; after restart: "
        + ", ".join(f"{k} {v:.0f}" for k, v in r.rss_restarted.items())
    )
    say(
        "    restart: stop (SIGTERM drain) "
        + ", ".join(f"{s:.2f}" for s in r.stop_s)
        + " s; spawn -> /readyz 200 "
        + ", ".join(f"{s:.2f}" for s in r.ready_s)
        + " s"
    )
    for line in r.log[:8]:
        say(f"    log: {line}")


# -- the storm: new alerts, each pass on a fresh store ------------------------------------------------------------


@dataclass
class StormPass:
    ready_s: float
    alerts: int
    result: dict[str, Any]  # the burst client's JSON
    client: Finished
    cpu: dict[str, float]  # server CPU-seconds from the first request until the server went quiet again
    other_cpu: float

    @property
    def elapsed(self) -> float:
        return float(self.result["elapsed"])


@dataclass
class StormRun:
    target: str
    probe_ms: float
    passes: list[StormPass]

    @property
    def alerts(self) -> int:
        return sum(p.alerts for p in self.passes)

    @property
    def elapsed(self) -> float:
        return sum(p.elapsed for p in self.passes)

    @property
    def alerts_s(self) -> float:
        return self.alerts / self.elapsed if self.elapsed else float("nan")

    @property
    def server_cpu(self) -> float:
        return sum(sum(p.cpu.values()) for p in self.passes)

    @property
    def cpu_per_1k(self) -> float:
        return self.server_cpu / self.alerts * 1000 if self.alerts else float("nan")

    def cpu_of(self, process: str) -> float:
        return sum(p.cpu.get(process, 0.0) for p in self.passes)

    @property
    def non2xx(self) -> int:
        return sum(int(p.result["non2xx"]) for p in self.passes)

    @property
    def errors(self) -> int:
        return sum(sum(p.result["errors"].values()) for p in self.passes)

    @property
    def other_cpu(self) -> float:
        return sum(p.other_cpu for p in self.passes)

    @property
    def client_cpu(self) -> float:
        return sum(p.client.cpu for p in self.passes)

    def latency(self, q: str) -> float:
        """The median over the passes of each pass's ack latency percentile ``q``."""
        values = sorted(float(p.result["latency_ms"][q]) for p in self.passes)
        return values[len(values) // 2] if values else float("nan")


async def _quiet(target: Target, settle: float = 0.1, most: float = 5.0) -> None:
    """Wait until the server has used less than 5% of a core over ``settle`` seconds (work it deferred past its
    answers, such as a Redis AOF rewrite or pages to send, counts in its CPU), ``most`` seconds at most."""
    deadline = time.monotonic() + most
    before = sum(target.cpu().values())
    while time.monotonic() < deadline:
        await asyncio.sleep(settle)
        now = sum(target.cpu().values())
        if now - before < 0.05 * settle:
            return
        before = now


async def storm_pass(opts: Options, target: Target, prepared: Prepared, pass_dir: Path) -> StormPass:
    """A fresh server on an empty store; each of the D alerts sent once, C connections at a time."""
    ready = await target.start()
    url = target.url + prepared.path
    try:
        await _quiet(target)
        meter = Meter(target)
        args = [
            sys.executable,
            "-m",
            "tests.bench.burst",
            "--url",
            url,
            "--bodies",
            str(prepared.lines),
            "--connections",
            str(opts.connections),
        ]
        args += [arg for name, value in prepared.headers.items() for arg in ("--header", f"{name}: {value}")]
        client = await run_measured(args, pass_dir / "burst.txt")
        lines = [line for line in client.output.splitlines() if line.startswith("{")]
        if client.returncode != 0 or not lines:
            raise RuntimeError(f"the storm client exited {client.returncode}:\n{client.output[-2000:]}")
        await _quiet(target)
        cpu, other = meter.stop(client.cpu)
        target.check_alive()
        return StormPass(ready, sum(prepared.bodies.alerts), json.loads(lines[-1]), client, cpu, other)
    finally:
        target.stop()


def describe_storm_run(n: int, r: StormRun) -> None:
    cpu = " + ".join(f"{k} {r.cpu_of(k):.1f}" for k in r.passes[0].cpu) if r.passes else ""
    say(
        f"  {r.target} storm run {n}: CPU probe {r.probe_ms:.0f} ms; {len(r.passes)} fresh-store pass(es), "
        f"{r.alerts:,} new alerts in {r.elapsed:.1f} s = {r.alerts_s:,.0f} alerts/s; non-2xx {r.non2xx}, "
        f"errors {r.errors}; ack p50 {r.latency('p50'):.1f} p99 {r.latency('p99'):.1f} ms (median of passes)"
    )
    say(
        f"    server CPU {r.server_cpu:.1f} s ({cpu}) = {r.cpu_per_1k:.4f} s per 1,000 new alerts; client CPU "
        f"{r.client_cpu:.1f} s; other processes {r.other_cpu:.1f} s{busy_warning(r.other_cpu, r.elapsed)}; "
        f"passes: " + ", ".join(f"{p.alerts / p.elapsed:,.0f}/s" for p in r.passes[:12])
    )
