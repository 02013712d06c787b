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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from daemon.config.settings import auto_workers
from tests.bench import board, large, parts
from tests.bench.loadgen import wrk_path
from tests.bench.parts import Options, PageRun, StateResult, StormRun, ThroughputRun
from tests.bench.procs import ALERTMANAGER, REAPER, cpu_probe_ms, require
from tests.bench.report import median, ms, num, ratio, say, summarize, table
from tests.support import ROOT

TARGETS = ("sqlite", "redis", "alertmanager")
# The throughput workloads: re-sent alerts (the dedup fast path), changed re-sends, and the storm of new alerts.
WORKLOADS = ("resend", "changing", "storm")
PARTS = (*TARGETS, *WORKLOADS, "page", "state", "board", "large")
FULL = {"duration": 10, "runs": 3, "warmup": 2, "pages": 100, "state_services": 10_000, "board_incidents": 10_000}
QUICK = {"duration": 3, "runs": 1, "warmup": 1, "pages": 20, "state_services": 1_000, "board_incidents": 1_000}
LARGE = {"full": 50_000, "quick": 5_000}  # firing alerts of the large part's incident
# Each workload's shape, unless -D/-S/-R/-B/-C say otherwise (then for every workload of the run).
PRESETS: dict[str, dict[str, int]] = {
    "resend": {"distinct": 2000, "services": 50, "resends": 10, "batch": 20, "connections": 32},
    # Two passes cycled: each alert alternates between two annotations, so every re-send is a change.
    "changing": {"distinct": 20_000, "services": 25, "resends": 2, "batch": 20, "connections": 32},
    "storm": {"distinct": 20_000, "services": 25, "resends": 1, "batch": 20, "connections": 32},
}


@dataclass(frozen=True)
class Selection:
    targets: list[str]  # of TARGETS, in that order
    workloads: list[str]  # of WORKLOADS
    parts: list[str]  # every selected part, in PARTS order


def select(only: list[str]) -> Selection:
    """``--only`` names parts; targets alone run every workload on them, workloads alone run on every target."""
    chosen = set(only or PARTS)
    targets = [t for t in TARGETS if t in chosen] or list(TARGETS)
    workloads = [w for w in WORKLOADS if w in chosen]
    if not workloads and (not only or chosen & set(TARGETS)):
        workloads = list(WORKLOADS)
    if not workloads:
        targets = []
    picked = set(targets) | set(workloads) | (chosen - set(TARGETS) - set(WORKLOADS))
    return Selection(targets, workloads, [x for x in PARTS if x in picked])


def parse(argv: Sequence[str] | None) -> tuple[dict[str, Options], Selection, argparse.Namespace]:
    p = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description="tocsin's ingest benchmark: throughput and latency on SQLite and Redis, side by side with "
        "Alertmanager, for re-sent alerts, changed re-sends and a storm of new alerts; declare -> page latency; "
        "memory and restart time with a large state.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    w = p.add_argument_group(
        "workload (defaults per workload: "
        + "; ".join(f"{name} " + " ".join(f"{k}={v:,}" for k, v in preset.items()) for name, preset in PRESETS.items())
        + ")"
    )
    w.add_argument("-D", "--distinct", type=int, help="distinct alerts")
    w.add_argument("-S", "--services", type=int, help="services the alerts are spread over")
    w.add_argument("-R", "--resends", type=int, help="passes over the alerts (re-sends, for dedup)")
    w.add_argument("-B", "--batch", type=int, help="alerts per webhook (per /api/v2/alerts post)")
    w.add_argument(
        "--storm",
        action="store_true",
        help="the storm preset only (= --only storm): D new alerts, each measured run made of fresh-store passes "
        "repeated until it lasts -d seconds",
    )
    w.add_argument(
        "--changing",
        action="store_true",
        help="the changing preset only (= --only changing): each pass changes an annotation, so every re-sent "
        "alert is a change to commit, not a duplicate",
    )
    w.add_argument("-C", "--connections", type=int, help="concurrent connections (wrk -c)")
    w.add_argument("-d", "--duration", type=int, help=f"seconds per measured run (default {FULL['duration']})")
    w.add_argument("--runs", type=int, help=f"runs per figure; figures are medians (default {FULL['runs']})")
    w.add_argument("--warmup", type=int, help=f"seconds of wrk before each measured run (default {FULL['warmup']})")
    w.add_argument("--rate", type=float, default=5000, help="alerts/s offered for the fixed-load latency")
    w.add_argument("--threads", type=int, default=2, help="wrk threads (wrk -t)")
    w.add_argument("--max-passes", type=int, default=50, help="the storm: fresh-store passes per run, at most")
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
        help=f"run only these parts (repeat or comma-separate): {', '.join(PARTS)}; targets alone run every "
        "workload, workloads alone run on every target",
    )
    o.add_argument("--quick", action="store_true", help="a smoke run: 1 run of 3 s, a small state, 20 pages")
    o.add_argument("--workdir", type=Path, help="keep configs, logs and wrk output here (default: a temp dir)")
    args = p.parse_args(argv)
    preset = QUICK if args.quick else FULL

    def pick(name: str) -> int:
        value = getattr(args, name)
        return int(preset[name] if value is None else value)

    only = [x.strip() for item in args.only for x in item.split(",") if x.strip()]
    only += ["storm"] * args.storm + ["changing"] * args.changing
    unknown = sorted(set(only) - set(PARTS))
    if unknown:
        p.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    selection = select(only)
    options: dict[str, Options] = {}
    for name in WORKLOADS:
        shape = {k: v if getattr(args, k) is None else getattr(args, k) for k, v in PRESETS[name].items()}
        options[name] = Options(
            **shape,
            changing=name == "changing",
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
            max_passes=args.max_passes,
        )
        if options[name].connections < options[name].threads:
            p.error("--connections must be at least --threads")
    args.large_alerts = args.large_alerts or LARGE["quick" if args.quick else "full"]
    return options, selection, args


def preflight(selection: Selection) -> None:
    """Say clearly what is missing before starting anything."""
    selected = selection.parts
    if set(selection.workloads) - {"storm"} and wrk_path() is None:
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


def describe_workload(name: str, opts: Options) -> str:
    if name == "storm":
        return (
            f"storm: D={opts.distinct:,} new alerts over S={opts.services} services, B={opts.batch} alerts/webhook, "
            f"C={opts.connections} connections; each run: fresh-store passes (each alert sent once) until it lasts "
            f"{opts.duration} s (at most {opts.max_passes} passes); {opts.runs} run(s)"
        )
    changing = " (annotations change every pass)" if opts.changing else ""
    return (
        f"{name}: D={opts.distinct:,} distinct alerts over S={opts.services} services, R={opts.resends} passes"
        f"{changing}, B={opts.batch} alerts/webhook, C={opts.connections} connections (wrk -t{opts.threads}), "
        f"{opts.runs} run(s) of {opts.duration} s after {opts.warmup} s of warm-up; fixed load "
        f"{opts.rate:,.0f} alerts/s"
    )


def header(options: dict[str, Options], selection: Selection) -> None:
    selected = selection.parts
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
    # The configuration leaves `workers` to its default (auto: one per core, at most 4); TOCSIN_WORKERS sets it.
    workers = os.environ.get("TOCSIN_WORKERS") or f"auto = {auto_workers()}"
    say(
        f"tocsin bench: {', '.join(selected)}; tocsin {rev}, workers {workers}; {os.cpu_count()} CPUs ({cpu}); "
        f"Python {platform.python_version()}"
    )
    for name in selection.workloads:
        say(f"  workload {describe_workload(name, options[name])}")
    tools = [
        version(["wrk", "--version"]) if wrk_path() else "wrk: missing",
        version(["redis-server", "--version"]) if shutil.which("redis-server") else "redis-server: missing",
        version([ALERTMANAGER, "--version"]) if shutil.which(ALERTMANAGER) else "alertmanager: missing",
    ]
    say("  tools: " + "; ".join(tools))
    say()


def pct_core(cpu: float, seconds: float) -> float:
    return cpu / seconds * 100 if seconds else math.nan


def ratio_rows(results: Mapping[str, Sequence[ThroughputRun] | Sequence[StormRun]]) -> list[list[str]]:
    """Each target's alerts/s and CPU per alert as ratios to Alertmanager's, when it ran (medians of the runs)."""
    if "alertmanager" not in results:
        return []

    def med(name: str, figure: str) -> float:
        return median(getattr(r, figure) for r in results[name])

    return [
        [label, *(ratio(med(n, figure), med("alertmanager", figure)) for n in results)]
        for label, figure in (
            ("alerts/s, tocsin / Alertmanager", "alerts_s"),
            ("CPU per alert, tocsin / Alertmanager", "cpu_per_1k"),
        )
    ]


R = TypeVar("R")


class FigureRows(Generic[R]):
    """A table's rows, one column per target: each cell the median of its runs, or their sum for counts."""

    def __init__(self, results: Mapping[str, Sequence[R]]) -> None:
        self.results = results
        self.names = list(results)
        self.rows: list[list[str]] = []

    def median(self, label: str, f: Callable[[R], float], fmt: Callable[[float], str] = num) -> None:
        self.rows.append([label, *(fmt(median(f(r) for r in self.results[n])) for n in self.names)])

    def total(self, label: str, f: Callable[[R], float]) -> None:
        self.rows.append([label, *(num(sum(f(r) for r in self.results[n])) for n in self.names)])


def cpu4(v: float) -> str:
    return num(v, 4)


def throughput_table(workload: str, results: dict[str, list[ThroughputRun]], opts: Options) -> None:
    figures = FigureRows(results)
    names, rows, row, total = figures.names, figures.rows, figures.median, figures.total

    def socket_errors(r: ThroughputRun) -> float:
        return float(sum(r.wrk.socket_errors.values()) + sum(r.fixed["errors"].values()))

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
    rows += ratio_rows(results)
    what = "re-sent alerts" if workload == "resend" else "changed re-sends"
    table(
        f"{workload}: throughput and latency, {what} (median of {opts.runs} run(s) of {opts.duration} s)",
        ["figure", *names],
        rows,
    )


def storm_table(results: dict[str, list[StormRun]], opts: Options) -> None:
    figures = FigureRows(results)
    names, rows, row = figures.names, figures.rows, figures.median

    row(f"new alerts/s accepted (C={opts.connections})", lambda r: r.alerts_s)
    row(f"ack latency p50 ms (C={opts.connections})", lambda r: r.latency("p50"), ms)
    row(f"ack latency p99 ms (C={opts.connections})", lambda r: r.latency("p99"), ms)
    figures.total("non-2xx + errors (all runs)", lambda r: r.non2xx + r.errors)
    row("server CPU-s per 1,000 new alerts", lambda r: r.cpu_per_1k, cpu4)
    if "redis" in names:
        row(
            "  of which redis-server",
            lambda r: r.cpu_of("redis-server") / r.alerts * 1000 if r.alerts else math.nan,
            cpu4,
        )
    row("fresh-store passes per run", lambda r: len(r.passes))
    row("measured seconds per run", lambda r: r.elapsed, lambda v: num(v, 1))
    row("client CPU, % of one core", lambda r: pct_core(r.client_cpu, r.elapsed))
    row("other processes' CPU, % of one core", lambda r: pct_core(r.other_cpu, r.elapsed))
    row("CPU probe ms (lower: faster machine)", lambda r: r.probe_ms)
    rows += ratio_rows(results)
    table(
        f"storm: new alerts, every pass on a fresh store (median of {opts.runs} run(s) of at least {opts.duration} s)",
        ["figure", *names],
        rows,
    )


# The targets: (workload, target, figure, bound). "rate" is alerts/s as a ratio to Alertmanager's (at least
# the bound), "cpu" the CPU per alert as a ratio to Alertmanager's (at most the bound).
TARGET_BOUNDS = [
    ("storm", "sqlite", "rate", 0.5),
    ("storm", "sqlite", "cpu", 2.0),
    ("storm", "redis", "rate", 0.35),
    ("changing", "sqlite", "rate", 0.6),
    ("changing", "redis", "rate", 0.4),
    ("resend", "redis", "rate", 1.0),
    ("resend", "sqlite", "rate", 1.5),
]


def targets_table(
    storms: dict[str, list[StormRun]], throughput: dict[str, dict[str, list[ThroughputRun]]], extra: list[list[str]]
) -> None:
    """Every figure the targets name, from this run, beside its bound (printed, not asserted)."""
    rows: list[list[str]] = []
    for workload, target, figure, bound in TARGET_BOUNDS:
        runs: dict[str, list[StormRun]] | dict[str, list[ThroughputRun]] = (
            storms if workload == "storm" else throughput.get(workload, {})
        )
        if target not in runs or "alertmanager" not in runs:
            continue

        def med(name: str, f: Callable[[Any], float], runs: Any = runs) -> float:
            return median(f(r) for r in runs[name])

        if figure == "rate":
            mine, am = med(target, lambda r: r.alerts_s), med("alertmanager", lambda r: r.alerts_s)
            label = f"{workload} {target}: alerts/s vs Alertmanager"
            rows.append([label, ratio(mine, am), f">= {bound:.2f}x", num(mine), num(am)])
        else:
            mine, am = med(target, lambda r: r.cpu_per_1k), med("alertmanager", lambda r: r.cpu_per_1k)
            label = f"{workload} {target}: CPU per alert vs Alertmanager (s per 1,000)"
            rows.append([label, ratio(mine, am), f"<= {bound:.2f}x", num(mine, 4), num(am, 4)])
    resend = throughput.get("resend", {})
    if "redis" in resend and "alertmanager" in resend:
        mine = median(r.cpu_per_1k for r in resend["redis"])
        am = median(r.cpu_per_1k for r in resend["alertmanager"])
        label = "resend redis: CPU per alert vs Alertmanager (s per 1,000, redis-server's included)"
        rows.append([label, ratio(mine, am), "-", num(mine, 4), num(am, 4)])
    rows += extra
    if rows:
        table(
            "Targets (issue 14): each figure of this run beside its bound; medians of the runs",
            ["figure", "measured", "target", "tocsin", "Alertmanager"],
            rows,
        )


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


def prepare_all(opts: Options, targets: list[str], workdir: Path) -> dict[str, parts.Prepared]:
    """The bodies for each target, built once per kind (tocsin's webhooks serve SQLite and Redis alike)."""
    kinds = {"alertmanager" if name == "alertmanager" else "tocsin" for name in targets}
    built = {kind: parts.prepare(opts, kind, workdir) for kind in sorted(kinds)}
    return {name: built["alertmanager" if name == "alertmanager" else "tocsin"] for name in targets}


def make_target(name: str, run_dir: Path, sink: parts.PageSink) -> parts.Target:
    """The server of one target, started fresh in ``run_dir``."""
    if name == "alertmanager":
        return parts.AlertmanagerTarget(run_dir)
    return parts.TocsinTarget(name, run_dir, sink.address)


async def throughput_part(
    workload: str, opts: Options, targets: list[str], workdir: Path, sink: parts.PageSink
) -> dict[str, list[ThroughputRun]]:
    """Re-sent or changed alerts under wrk. Targets take turns within each run (sqlite, redis, alertmanager, then
    again), so that a machine whose speed drifts over minutes slows them alike and the ratios between them hold."""
    results: dict[str, list[ThroughputRun]] = {}
    prepared = prepare_all(opts, targets, workdir)
    bodies = prepared[targets[0]].bodies
    say(f"{workload}: {len(bodies):,} bodies of {bodies.alerts_per_request:.1f} alerts, cycled by wrk")
    for n in range(1, opts.runs + 1):
        for name in targets:
            run_dir = workdir / f"{workload}-{name}-{n}"
            run_dir.mkdir()
            result = await parts.throughput_run(opts, make_target(name, run_dir, sink), prepared[name], run_dir)
            parts.describe_run(n, result, opts.connections, opts.duration)
            results.setdefault(name, []).append(result)
    say()
    return results


async def storm_part(
    opts: Options, targets: list[str], workdir: Path, sink: parts.PageSink
) -> dict[str, list[StormRun]]:
    """New alerts: each measured run is fresh-store passes until it lasts ``opts.duration`` seconds; the targets
    take turns run by run as in the other workloads."""
    results: dict[str, list[StormRun]] = {}
    prepared = prepare_all(opts, targets, workdir)
    bodies = prepared[targets[0]].bodies
    say(f"storm: {len(bodies):,} bodies of {bodies.alerts_per_request:.1f} alerts, each sent once per pass")
    for n in range(1, opts.runs + 1):
        for name in targets:
            run = StormRun(name, cpu_probe_ms(), [])
            while run.elapsed < opts.duration and len(run.passes) < opts.max_passes:
                pass_dir = workdir / f"storm-{name}-{n}-{len(run.passes) + 1}"
                pass_dir.mkdir()
                target = make_target(name, pass_dir, sink)
                run.passes.append(await parts.storm_pass(opts, target, prepared[name], pass_dir))
            parts.describe_storm_run(n, run)
            results.setdefault(name, []).append(run)
    say()
    return results


async def bench(
    options: dict[str, Options], selection: Selection, workdir: Path, large_alerts: int = LARGE["full"]
) -> None:
    started = time.monotonic()
    header(options, selection)
    selected = selection.parts
    opts = options["resend"]  # paging, state and the board load the re-send workload's alerts
    sink = parts.PageSink()
    await sink.start()
    try:
        throughput: dict[str, dict[str, list[ThroughputRun]]] = {}
        storms: dict[str, list[StormRun]] = {}
        pages: dict[str, list[PageRun]] = {}
        states: dict[str, StateResult] = {}
        for workload in selection.workloads:
            if workload == "storm":
                storms = await storm_part(options[workload], selection.targets, workdir, sink)
            else:
                throughput[workload] = await throughput_part(
                    workload, options[workload], selection.targets, workdir, sink
                )
        if "page" in selected:
            tocsin_prep = parts.prepare(opts, "tocsin", workdir)
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
        larges: list[large.LargeResult] = []
        if "large" in selected:
            for store in ("sqlite", "redis"):
                run_dir = workdir / f"large-{store}"
                run_dir.mkdir()
                larges.append(await large.large_run(store, large_alerts, run_dir))
                large.describe_large(larges[-1])
            say()
        say("=" * 100)
        for workload, results in throughput.items():
            throughput_table(workload, results, options[workload])
        if storms:
            storm_table(storms, options["storm"])
        if pages:
            page_table(pages, opts)
        if states:
            state_table(states)
        targets_table(storms, throughput, [large.target_row(r) for r in larges])
        say(f"bench took {time.monotonic() - started:.0f} s")
    finally:
        await sink.stop()


def main(argv: Sequence[str] | None = None) -> int:
    options, selection, args = parse(argv)
    preflight(selection)
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
        await bench(options, selection, workdir, args.large_alerts)

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
