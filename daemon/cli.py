"""The ``tocsin`` command: run, check-config, incidents."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from daemon import cli_oncall, cli_silences
from daemon.client import ApiError, Client
from daemon.config.check import check
from daemon.config.loader import ConfigError, load_settings

EXIT_CONFIG = 2


def _load(path: str | None) -> Any:
    try:
        return load_settings(path)
    except ConfigError as exc:
        print(
            f"tocsin: configuration {path or os.environ.get('TOCSIN_CONFIG') or '(defaults)'} is not valid:",
            file=sys.stderr,
        )
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _load(args.config)
    report = check(settings)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if report.problems:
        print(f"tocsin: configuration {args.config} is not valid:", file=sys.stderr)
        for problem in report.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    channels = len(report.channels.tags) if report.channels else 0
    print(
        f"ok: {len(settings.severity.rules)} severity rules, {len(settings.policies)} policies, "
        f"{len(settings.routes)} routes, {channels} channels; store {settings.store.split('?')[0]}"
    )
    return 0


def _serve(settings: Any, reuse_port: bool = False) -> None:
    from daemon.server import run

    run(settings, reuse_port=reuse_port)  # ends the process once drained


def cmd_run(args: argparse.Namespace) -> int:
    from daemon import logs

    settings = _load(args.config)
    logs.configure(settings.log_level, settings.log_format)
    report = check(settings)
    if report.problems:
        print("tocsin: configuration is not valid:", file=sys.stderr)
        for problem in report.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_CONFIG
    import structlog

    for warning in report.warnings:
        structlog.get_logger("tocsin").warning("config_warning", message=warning)
    if settings.workers == 1:
        _serve(settings)
        return 0
    # Several workers: metrics go through files that the scraped worker sums (set before prometheus_client is
    # imported), and the store is migrated once, before they start.
    metrics_dir = tempfile.mkdtemp(prefix="tocsin-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        from daemon.server import run_workers
        from daemon.store import prepare

        prepare(settings.store)
        return run_workers(settings, lambda: _serve(settings, reuse_port=True))
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _print_incident(incident: dict[str, Any]) -> None:
    print(f"{incident['id']}  {incident['severity']}  {incident['state']:<12} {incident['title']}")
    for key in (
        "service",
        "declared_at",
        "acknowledged_at",
        "acknowledged_by",
        "mitigated_at",
        "resolved_at",
        "commander",
    ):
        if incident.get(key):
            print(f"  {key}: {incident[key]}")
    if incident.get("alerts"):
        print("  alerts:")
        for alert in incident["alerts"]:
            name = alert["labels"].get("alertname") or alert["annotations"].get("summary") or alert["fingerprint"]
            print(f"    {alert['status']:<9} {name} x{alert['count']} ({alert['fingerprint']})")
    if incident.get("timeline"):
        print("  timeline:")
        for entry in incident["timeline"]:
            print(f"    {entry['at']}  {entry['actor']:<10} {entry['kind']:<20} {entry['text']}")


def cmd_incidents(args: argparse.Namespace) -> int:
    client = Client(args.url, os.environ.get("TOCSIN_API_TOKEN"))
    try:
        if args.action == "list":
            query = "&".join(
                f"{k}={v}" for k, v in (("state", args.state), ("severity", args.severity), ("limit", args.limit)) if v
            )
            page = client.call("GET", "/api/v1/incidents" + (f"?{query}" if query else ""))
            for incident in page["incidents"]:
                print(f"{incident['id']}  {incident['severity']}  {incident['state']:<12} {incident['title']}")
            if not page["incidents"]:
                print("no incidents")
        elif args.action == "show":
            _print_incident(client.call("GET", f"/api/v1/incidents/{args.id}"))
        elif args.action == "postmortem":
            print(client.call("GET", f"/api/v1/incidents/{args.id}/postmortem", accept="text/markdown"), end="")
        else:
            action = {"ack": "acknowledge"}.get(args.action, args.action)
            body = {"actor": args.actor or os.environ.get("USER") or "cli", "note": args.note or ""}
            _print_incident(client.call("POST", f"/api/v1/incidents/{args.id}/{action}", body))
    except ApiError as exc:
        print(f"tocsin: {exc}", file=sys.stderr)
        return 1
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tocsin", description="Alert ingest, incidents and paging.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("--config", "-c", default=None, help="tocsin.yml (default: $TOCSIN_CONFIG)")
    run.set_defaults(func=cmd_run)
    chk = sub.add_parser("check-config", help="validate tocsin.yml and the Apprise file it names")
    chk.add_argument("config", nargs="?", default=os.environ.get("TOCSIN_CONFIG"))
    chk.set_defaults(func=cmd_check_config)
    inc = sub.add_parser("incidents", help="talk to a running daemon (token from $TOCSIN_API_TOKEN)")
    inc.add_argument("--url", default=os.environ.get("TOCSIN_URL", "http://127.0.0.1:9097"))
    acts = inc.add_subparsers(dest="action", required=True)
    ls = acts.add_parser("list")
    ls.add_argument("--state")
    ls.add_argument("--severity")
    ls.add_argument("--limit")
    for name in ("show", "postmortem"):
        acts.add_parser(name).add_argument("id")
    for name in ("ack", "mitigate", "resolve", "reopen"):
        a = acts.add_parser(name)
        a.add_argument("id")
        a.add_argument("--note", "-m")
        a.add_argument("--actor")
    inc.set_defaults(func=cmd_incidents)
    url = argparse.ArgumentParser(add_help=False)
    url.add_argument("--url", default=os.environ.get("TOCSIN_URL", "http://127.0.0.1:9097"))
    cli_oncall.add_parsers(sub, url)
    cli_silences.add_parsers(sub, url)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command in ("incidents", "oncall", "schedules", "overrides", "silences", "heartbeats"):
        # `tocsin incidents show X | head` should end quietly, as other command-line tools do.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
