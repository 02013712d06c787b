"""The ``tocsin`` command: run, check-config, incidents."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from daemon import cli_incidents, cli_oncall, cli_silences, sighup, signing
from daemon.config.check import check
from daemon.config.loader import ConfigError, load_settings

# Exit statuses, the same for every command: 0 done; 1 it could not be done (the daemon answered an error or could
# not be reached, the port is taken); 2 the configuration or the command line is not valid.
EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
# Where a configuration is looked for when none is named (--config, TOCSIN_CONFIG).
DEFAULT_PATHS = ("tocsin.yml", "/etc/tocsin/tocsin.yml")


def config_path(given: str | None) -> str | None:
    """The file to read: the one named, else $TOCSIN_CONFIG, else the first default location that exists."""
    if given:
        return given
    if os.environ.get("TOCSIN_CONFIG"):
        return os.environ["TOCSIN_CONFIG"]
    return next((path for path in DEFAULT_PATHS if os.path.exists(path)), None)


def _load(path: str | None) -> Any:
    try:
        return load_settings(path)
    except ConfigError as exc:
        print(f"tocsin: configuration {path} is not valid:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        sys.exit(EXIT_CONFIG)


def _no_config() -> int:
    looked = ", ".join(DEFAULT_PATHS)
    print(
        f"tocsin: no configuration: name one (tocsin check-config FILE, --config FILE or TOCSIN_CONFIG), "
        f"or put it at {looked}",
        file=sys.stderr,
    )
    return EXIT_CONFIG


def cmd_check_config(args: argparse.Namespace) -> int:
    # Never "ok" having read nothing: without a file to check, say where one was looked for.
    path = config_path(args.config)
    if path is None:
        return _no_config()
    settings = _load(path)
    report = check(settings)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if report.problems:
        print(f"tocsin: configuration {path} is not valid:", file=sys.stderr)
        for problem in report.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_CONFIG
    channels = len(report.channels.tags) if report.channels else 0
    print(
        f"ok: {len(settings.severity.rules)} severity rules, {len(settings.policies)} policies, "
        f"{len(settings.routes)} routes, {channels} channels; store {settings.store.split('?')[0]}"
    )
    return 0


def _serve(settings: Any, reuse_port: bool = False, path: str | None = None) -> None:
    from daemon.server import run

    run(settings, reuse_port=reuse_port, config_path=path)  # ends the process once drained


def cmd_run(args: argparse.Namespace) -> int:
    from daemon import logs

    path = config_path(args.config)
    if path is None:
        return _no_config()
    settings = _load(path)
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
        _serve(settings, path=path)
        return 0
    # Several workers: metrics go through files that the scraped worker sums (set before prometheus_client is
    # imported), and the store is migrated once, before they start.
    metrics_dir = tempfile.mkdtemp(prefix="tocsin-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        from daemon.server import CannotListen, probe_listen, run_workers
        from daemon.store import prepare

        try:
            probe_listen(settings.listen)
        except CannotListen as exc:
            print(f"tocsin: {exc}", file=sys.stderr, flush=True)
            return 1
        prepare(settings.store)
        if settings.link_secret is None:
            signing.made_at_start()  # made before the fork: one for every worker
        return run_workers(settings, lambda: _serve(settings, reuse_port=True, path=path))
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def parser() -> argparse.ArgumentParser:
    # Options that talk to a daemon are accepted before or after the subcommand; defaults are filled in main().
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS, help="the daemon (default: $TOCSIN_URL or local)")
    p = argparse.ArgumentParser(prog="tocsin", description="Alert ingest, incidents and paging.", parents=[common])
    p.add_argument("--version", action="version", version=f"tocsin {_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("--config", "-c", default=None, help="tocsin.yml (default: $TOCSIN_CONFIG, ./tocsin.yml)")
    run.set_defaults(func=cmd_run)
    chk = sub.add_parser("check-config", help="validate tocsin.yml and the Apprise file it names")
    chk.add_argument("config", nargs="?", default=None, help="default: $TOCSIN_CONFIG, ./tocsin.yml, /etc/tocsin")
    chk.set_defaults(func=cmd_check_config)
    cli_incidents.add_parsers(sub, common)
    cli_oncall.add_parsers(sub, common)
    cli_silences.add_parsers(sub, common)
    return p


def _version() -> str:
    try:
        return metadata.version("tocsin")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a checkout without installing
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "run":
        sighup.hold()  # `systemctl reload` right after `start` must not end tocsin while it starts
    args.url = getattr(args, "url", None) or os.environ.get("TOCSIN_URL") or "http://127.0.0.1:9097"
    if args.command not in ("run", "check-config"):
        # `tocsin incidents show X | head` should end quietly, as other command-line tools do.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
