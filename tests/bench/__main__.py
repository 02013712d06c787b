"""`make bench` / `python -m tests.bench`: start tocsin (and redis-server, and Alertmanager) and print figures.

No thresholds are asserted: the figures are printed, per run and as the median of the runs, for the reader (and
the README's performance section) to judge. Every process started is killed on the way out, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.bench import board, large, parts
from tests.bench.loadgen import wrk_path
from tests.bench.parts import Options, PageRun, StateResult, ThroughputRun
from tests.bench.procs import ALERTMANAGER, REAPER, require
from tests.bench.report import median, ms, num, ratio, say, summarize, table
from tests.support import ROOT

PARTS = ("sqlite", "redis", "alertmanager", "page", "state", "board", "large")
FULL = {"duration": 10, "runs": 3, "warmup": 2, "pages": 100, "state_services": 10_000, "board_incidents": 10_000}
QUICK = {"duration": 3, "runs": 1, "warmup": 1, "pages": 20, "state_services": 1_000, "board_incidents": 1_000}
LARGE = {"full": 50_000, "quick": 5_000}  # firing alerts of the large part's incident


def parse(argv: Sequence[str] | None) -> tuple[Options, list[str], argparse.Namespace]:
    p = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description="tocsin's ingest benchmark: throughput and latency on SQLite and Redis, side by side with "
        "Alertmanager; declare -> page latency; memory and restart time with a large state.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    w = p.add_argument_group("workload")
    w.add_argument("-D", "--distinct", type=int, default=2000, help="distinct alerts")
    w.add_argument("-S", "--services", type=int, default=50, help="services the alerts are spread over")
    w.add_argument("-R", "--resends", type=int, default=10, help="passes over the alerts (re-sends, for dedup)")
    w.add_argument("-B", "--batch", type=int, default=20, help="alerts per webhook (per /api/v2/alerts post)")
    w.add_argument(
        "--changing",
        action="store_true",
        help="each pass changes an annotation, so every re-sent alert is a change to commit, not a duplicate",
    )
    w.add_argument("-C", "--connections", type=int, default=32, help="concurrent connections (wrk -c)")
    w.add_argument("-d", "--duration", type=int, help=f"seconds per measured run (default {FULL['duration']})")
    w.add_argument("--runs", type=int, help=f"runs per figure; figures are medians (default {FULL['runs']})")
    w.add_argument("--warmup", type=int, help=f"seconds of wrk before each measured run (default {FULL['warmup']})")
    w.add_argument("--rate", type=float, default=5000, help="alerts/s offered for the fixed-load latency")
    w.add_argument("--threads", type=int, default=2, help="wrk threads (wrk -t)")
    g = p.add_argument_group("paging and state")
    g.add_argument("--pages", type=int, help=f"new SEV1 alerts paged per run (default {FULL['pages']})")
    g.add_argument("--page-interval", type=float, default=0.1, help="seconds between those alerts")
    g.add_argument("--page-load", type=float, default=1000, help="background alerts/s (duplicates) while paging")
    g.add_argument(
        "--state-services",
        type=int,
        help=f"services (= open incidents) for the RSS figure (default {FULL['state_services']:,})",
    )
    g.add_argument("--state-alerts", type=int, default=10, help="warning alerts per service for the RSS figure")
    g.add_argument(
        "--board-incidents",
        type=int,
        help=f"incidents in the store for the board's list figure (default {FULL['board_incidents']:,})",
    )
    g.add_argument(
        "--large-alerts", type=int, help=f"firing alerts of the large part's incident (default {LARGE['full']:,})"
    )
    o = p.add_argument_group("what to run")
    o.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PART",
        help=f"run only these parts (repeat or comma-separate): {', '.join(PARTS)}",
    )
    o.add_argument("--quick", action="store_true", help="a smoke run: 1 run of 3 s, a small state, 20 pages")
    o.add_argument("--workdir", type=Path, help="keep configs, logs and wrk output here (default: a temp dir)")
    args = p.parse_args(argv)
    preset = QUICK if args.quick else FULL

    def pick(name: str) -> int:
        value = getattr(args, name)
        return int(preset[name] if value is None else value)

    only = [x.strip() for item in args.only for x in item.split(",") if x.strip()] or list(PARTS)
    unknown = sorted(set(only) - set(PARTS))
    if unknown:
        p.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    opts = Options(
        distinct=args.distinct,
        services=args.services,
        resends=args.resends,
        batch=args.batch,
        changing=args.changing,
        connections=args.connections,
        duration=pick("duration"),
        runs=pick("runs"),
        rate=args.rate,
        warmup=pick("warmup"),
        threads=args.threads,
        pages=pick("pages"),
        page_interval=args.page_interval,
        page_load=args.page_load,
        state_services=pick("state_services"),
        state_per_service=args.state_alerts,
        board_incidents=pick("board_incidents"),
    )
    args.large_alerts = args.large_alerts or LARGE["quick" if args.quick else "full"]
    if opts.connections < opts.threads:
        p.error("--connections must be at least --threads")
    return opts, [x for x in PARTS if x in only], args


def preflight(selected: list[str]) -> None:
    """Say clearly what is missing before starting anything."""
    if {"sqlite", "redis", "alertmanager"} & set(selected) and wrk_path() is None:
        raise SystemExit("bench: wrk not found on PATH; install it (apt-get install wrk), or run --only page,state")
    if {"redis", "page", "state", "board", "large"} & set(selected):
        require("redis-server", "install Debian's redis-server (apt-get install redis-server)")
    if "alertmanager" in selected:
        require(ALERTMANAGER, "install Debian's prometheus-alertmanager (apt-get install prometheus-alertmanager)")


def version(args: list[str]) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "?"
    lines = (done.stdout + done.stderr).strip().splitlines()
    return lines[0][:80] if lines else "?"


def header(opts: Options, selected: list[str]) -> None:
    models = [
        line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in line
    ]
    cpu = models[0] if models else platform.processor()
    rev = version(["git", "-C", str(ROOT), "describe", "--always", "--dirty"])
    changed = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "daemon", "notifiers", "rules", "pyproject.toml"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split("\n")
    changed = [line[3:] for line in changed if line.strip()]
    if changed:  # the figures are those of the working tree: say which of tocsin's files differ from the commit
        rev += f" (uncommitted: {', '.join(changed)})"
    say(
        f"tocsin bench: {', '.join(selected)}; tocsin {rev}; {os.cpu_count()} CPUs ({cpu}); "
        f"Python {platform.python_version()}"
    )
    changing = " (annotations change every pass)" if opts.changing else ""
    say(
        f"  workload: D={opts.distinct:,} distinct alerts over S={opts.services} services, R={opts.resends} passes"
        f"{changing}, B={opts.batch} alerts/webhook, C={opts.connections} connections (wrk -t{opts.threads}), "
        f"{opts.runs} run(s) of {opts.duration} s after {opts.warmup} s of warm-up; fixed load "
        f"{opts.rate:,.0f} alerts/s"
    )
    tools = [
        version(["wrk", "--version"]) if wrk_path() else "wrk: missing",
        version(["redis-server", "--version"]) if shutil.which("redis-server") else "redis-server: missing",
        version([ALERTMANAGER, "--version"]) if shutil.which(ALERTMANAGER) else "alertmanager: missing",
    ]
    say("  tools: " + "; ".join(tools))
    say()


def pct_core(cpu: float, seconds: float) -> float:
    return cpu / seconds * 100 if seconds else math.nan


def throughput_table(results: dict[str, list[ThroughputRun]], opts: Options) -> None:
    names = list(results)
    rows: list[list[str]] = []

    def med(name: str, f: Callable[[ThroughputRun], float]) -> float:
        return median(f(r) for r in results[name])

    def row(label: str, f: Callable[[ThroughputRun], float], fmt: Callable[[float], str] = num) -> None:
        rows.append([label, *(fmt(med(n, f)) for n in names)])

    def total(label: str, f: Callable[[ThroughputRun], float]) -> None:
        rows.append([label, *(num(sum(f(r) for r in results[n])) for n in names)])

    def socket_errors(r: ThroughputRun) -> float:
        return float(sum(r.wrk.socket_errors.values()) + sum(r.fixed["errors"].values()))

    def cpu4(v: float) -> str:
        return num(v, 4)

    load = f"{opts.rate:,.0f} alerts/s"
    row(f"alerts/s accepted (C={opts.connections})", lambda r: r.alerts_s)
    row("requests/s accepted", lambda r: r.wrk.accepted_rps)
    row(f"ack latency p50 ms (C={opts.connections})", lambda r: r.wrk.latency_ms["p50"], ms)
    row(f"ack latency p99 ms (C={opts.connections})", lambda r: r.wrk.latency_ms["p99"], ms)
    row(f"latency p50 ms at {load}", lambda r: r.fixed["latency_ms"]["p50"], ms)
    row(f"latency p99 ms at {load}", lambda r: r.fixed["latency_ms"]["p99"], ms)
    total("non-2xx (all runs)", lambda r: r.non2xx)
    total("socket errors (all runs)", socket_errors)
    row("server CPU-s per 1,000 alerts", lambda r: r.cpu_per_1k, cpu4)
    row(f"  same at {load}", lambda r: r.fixed_cpu_per_1k, cpu4)
    row("peak RSS MB (server)", lambda r: r.peak_mb.get("tocsin", r.peak_mb.get("alertmanager", math.nan)))
    if "redis" in names:
        row("peak RSS MB (redis-server)", lambda r: r.peak_mb.get("redis-server", math.nan))
    row(f"new alerts/s (first pass, C={opts.connections})", lambda r: r.first_pass_rate)
    row("spawn -> ready s (empty store)", lambda r: r.ready_s, lambda v: num(v, 2))
    row("wrk CPU, % of one core", lambda r: pct_core(r.wrk.cpu, r.wrk.duration))
    row("generator CPU, % of one core", lambda r: pct_core(r.fixed_client.cpu, r.fixed["elapsed"]))
    row("other processes' CPU, % of one core", lambda r: pct_core(r.other_cpu, r.wrk.duration))
    row("CPU probe ms (lower: faster machine)", lambda r: r.probe_ms)
    if "alertmanager" in results:
        am_rate = med("alertmanager", lambda r: r.alerts_s)
        am_cpu = med("alertmanager", lambda r: r.cpu_per_1k)
        rows.append(["alerts/s, tocsin / Alertmanager", *(ratio(med(n, lambda r: r.alerts_s), am_rate) for n in names)])
        rows.append(
            ["CPU per alert, tocsin / Alertmanager", *(ratio(med(n, lambda r: r.cpu_per_1k), am_cpu) for n in names)]
        )
    table(f"Throughput and latency (median of {opts.runs} run(s) of {opts.duration} s)", ["figure", *names], rows)


def page_table(results: dict[str, list[PageRun]], opts: Options) -> None:
    names = list(results)

    def med(name: str, q: str, f: Callable[[PageRun], list[float]]) -> str:
        return ms(median(summarize(f(r))[q] for r in results[name]))

    def arrived(name: str) -> str:
        runs = results[name]
        return f"{sum(r.sent - r.missing for r in runs)}/{sum(r.sent for r in runs)}"

    rows = [
        ["declare -> first page p50 ms", *(med(n, "p50", lambda r: r.latencies_ms) for n in names)],
        ["declare -> first page p99 ms", *(med(n, "p99", lambda r: r.latencies_ms) for n in names)],
        ["pages arrived / sent (all runs)", *(arrived(n) for n in names)],
        ["page webhook ack p99 ms", *(med(n, "p99", lambda r: r.ack_ms) for n in names)],
        ["background ack p99 ms", *(ms(median(r.background["latency_ms"]["p99"] for r in results[n])) for n in names)],
        ["background non-2xx (all runs)", *(num(sum(r.background["non2xx"] for r in results[n])) for n in names)],
    ]
    table(
        f"Declare -> first page (Apprise json:// to a local sink), {opts.pages} new SEV1 services per run, "
        f"under {opts.page_load:,.0f} alerts/s of duplicates; median of {opts.runs} run(s)",
        ["figure", *names],
        rows,
    )


def state_table(results: dict[str, StateResult]) -> None:
    names = list(results)

    def cell(f: Callable[[StateResult], str]) -> list[str]:
        return [f(results[n]) for n in names]

    any_r = next(iter(results.values()))
    rows = [
        ["open alerts loaded", *cell(lambda r: num(r.alerts))],
        [f"open incidents (expected {any_r.services:,})", *cell(lambda r: num(r.open_incidents))],
        ["tocsin RSS MB with that state", *cell(lambda r: num(r.rss_loaded.get("tocsin")))],
        ["tocsin peak RSS MB while loading", *cell(lambda r: num(r.peak_loaded.get("tocsin")))],
        ["redis-server RSS MB", *cell(lambda r: num(r.rss_loaded.get("redis-server")))],
        ["restart: spawn -> ready s (median)", *cell(lambda r: num(median(r.ready_s), 2))],
        ["restart: tocsin RSS MB once ready", *cell(lambda r: num(r.rss_restarted.get("tocsin")))],
        ["load rate, new alerts/s", *cell(lambda r: num(r.alerts / r.load.elapsed if r.load.elapsed else math.nan))],
        ["load non-2xx + errors", *cell(lambda r: num(r.load.non2xx + r.load.errors))],
    ]
    table(
        f"State: {any_r.services:,} services x {any_r.alerts // max(1, any_r.services)} warning alerts, no channels",
        ["figure", *names],
        rows,
    )


async def bench(opts: Options, selected: list[str], workdir: Path, large_alerts: int = LARGE["full"]) -> None:
    started = time.monotonic()
    header(opts, selected)
    sink = parts.PageSink()
    await sink.start()
    try:
        tocsin_prep = parts.prepare(opts, "tocsin", workdir)
        throughput: dict[str, list[ThroughputRun]] = {}
        pages: dict[str, list[PageRun]] = {}
        states: dict[str, StateResult] = {}
        # Targets take turns within each run (sqlite, redis, alertmanager, then again), so that a machine whose
        # speed drifts over minutes slows them alike and the ratios between them hold.
        targets = [name for name in ("sqlite", "redis", "alertmanager") if name in selected]
        prepared: dict[str, parts.Prepared] = {name: tocsin_prep for name in targets if name != "alertmanager"}
        if "alertmanager" in targets:
            prepared["alertmanager"] = parts.prepare(opts, "alertmanager", workdir)
        if targets:
            bodies = prepared[targets[0]].bodies
            say(f"throughput: {len(bodies):,} bodies of {bodies.alerts_per_request:.1f} alerts, cycled by wrk")
        for n in range(1, opts.runs + 1):
            for name in targets:
                run_dir = workdir / f"{name}-{n}"
                run_dir.mkdir()
                target: parts.Target = (
                    parts.AlertmanagerTarget(run_dir)
                    if name == "alertmanager"
                    else parts.TocsinTarget(name, run_dir, sink.address)
                )
                result = await parts.throughput_run(opts, target, prepared[name], run_dir)
                parts.describe_run(n, result, opts.connections, opts.duration)
                throughput.setdefault(name, []).append(result)
        if targets:
            say()
        if "page" in selected:
            for store in ("sqlite", "redis"):
                for n in range(1, opts.runs + 1):
                    run_dir = workdir / f"page-{store}-{n}"
                    run_dir.mkdir()
                    page = await parts.page_run(opts, store, n, run_dir, sink, tocsin_prep)
                    parts.describe_page_run(n, page)
                    pages.setdefault(store, []).append(page)
            say()
        if "state" in selected:
            for store in ("sqlite", "redis"):
                run_dir = workdir / f"state-{store}"
                run_dir.mkdir()
                states[store] = await parts.state_run(opts, store, run_dir)
                parts.describe_state(states[store])
            say()
        if "board" in selected:
            for store in ("sqlite", "redis"):
                run_dir = workdir / f"board-{store}"
                run_dir.mkdir()
                open_ = min(100, opts.board_incidents)
                board.describe_board(await board.board_run(store, opts.board_incidents, open_, run_dir))
            say()
        if "large" in selected:
            for store in ("sqlite", "redis"):
                run_dir = workdir / f"large-{store}"
                run_dir.mkdir()
                large.describe_large(await large.large_run(store, large_alerts, run_dir))
            say()
        say("=" * 100)
        if throughput:
            throughput_table(throughput, opts)
        if pages:
            page_table(pages, opts)
        if states:
            state_table(states)
        say(f"bench took {time.monotonic() - started:.0f} s")
    finally:
        await sink.stop()


def main(argv: Sequence[str] | None = None) -> int:
    opts, selected, args = parse(argv)
    preflight(selected)
    keep = args.workdir is not None
    if keep:
        workdir = args.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        if any(workdir.iterdir()):
            raise SystemExit(f"bench: --workdir {workdir} is not empty")
    else:
        workdir = Path(tempfile.mkdtemp(prefix="tocsin-bench-"))

    async def guarded() -> None:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await bench(opts, selected, workdir, args.large_alerts)

    # Ctrl-C stops the bench and everything it started, even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    ok = False
    try:
        asyncio.run(guarded())
        ok = True
    except (KeyboardInterrupt, asyncio.CancelledError):
        say("bench: interrupted; stopping everything it started")
        return 130
    finally:
        REAPER.kill_all()
        if not keep and ok:
            shutil.rmtree(workdir, ignore_errors=True)
        elif not ok:
            say(f"bench: configs, logs and wrk output kept in {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
