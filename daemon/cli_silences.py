"""`tocsin silences add|list|expire` and `tocsin heartbeats`: silences and heartbeats from the command line.

Silences go through the same Alertmanager API v2 that amtool uses, so either tool sees what the other made."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from typing import Any

from daemon.cli_common import client_of, short, show, when
from daemon.timefmt import iso
from rules.durations import format_duration, parse_duration
from rules.matchers import parse_matcher
from rules.silences import matcher_json, matcher_of


def _matcher_text(m: dict[str, Any]) -> str:
    return str(matcher_of(m["name"], m["value"], m["isRegex"], m["isEqual"]))


def format_silences(found: list[dict[str, Any]]) -> list[str]:
    if not found:
        return ["no silences"]
    lines = []
    for s in found:
        matchers = ", ".join(_matcher_text(m) for m in s["matchers"])
        comment = f"  “{s['comment']}”" if s["comment"] else ""
        lines.append(
            f"{s['id']}  {s['status']['state']:<7}  {matchers}  {short(s['startsAt'])} → {short(s['endsAt'])}"
            f"  by {s['createdBy']}{comment}"
        )
    return lines


def format_heartbeats(answer: dict[str, Any], now: datetime) -> list[str]:
    beats = answer["heartbeats"]
    if not beats:
        return ["no heartbeats configured"]
    width = max(len(b["name"]) for b in beats)
    lines = []
    for b in beats:
        last = f"last ping {short(b['last_ping'])}" if b["last_ping"] else "never pinged"
        due = ""
        if b["due"]:
            left = datetime.fromisoformat(b["due"].replace("Z", "+00:00")) - now
            due = f"; due {short(b['due'])}" + (f" (in {format_duration(left)})" if left.total_seconds() > 0 else "")
        lines.append(f"{b['name'].ljust(width)}  {b['state']:<8}  {last}{due}")
    return lines


def cmd_silences(args: argparse.Namespace) -> int:
    client = client_of(args)
    if args.action == "list":

        def listing() -> list[str]:
            found = client.call("GET", "/api/v2/silences")
            return format_silences([s for s in found if args.expired or s["status"]["state"] != "expired"])

        return show(listing)
    if args.action == "expire":

        def expire() -> list[str]:
            for silence_id in args.ids:
                client.call("DELETE", f"/api/v2/silence/{silence_id}")
            return [f"expired {silence_id}" for silence_id in args.ids]

        return show(expire)
    try:
        matchers = [matcher_json(parse_matcher(text)) for text in args.matchers]
        length = parse_duration(args.duration)
    except ValueError as exc:
        raise SystemExit(f"tocsin: {exc}") from None
    start = datetime.fromisoformat(when(args.start).replace("Z", "+00:00"))
    body = {
        "matchers": matchers,
        "startsAt": iso(start),
        "endsAt": iso(start + length),
        "createdBy": args.author or os.environ.get("USER") or "cli",
        "comment": args.comment,
    }
    return show(lambda: [client.call("POST", "/api/v2/silences", body)["silenceID"]])


def cmd_heartbeats(args: argparse.Namespace) -> int:
    return show(lambda: format_heartbeats(client_of(args).call("GET", "/api/v1/heartbeats"), datetime.now(UTC)))


def add_parsers(sub: Any, url: argparse.ArgumentParser) -> None:
    silences = sub.add_parser("silences", parents=[url], help="silence alerts for a while (as amtool does)")
    acts = silences.add_subparsers(dest="action", required=True)
    add = acts.add_parser("add", parents=[url], help='e.g. service=db alertname=~"Disk.*" --duration 2h -c why')
    add.add_argument("matchers", nargs="+", metavar="MATCHER", help='Alertmanager syntax: service=db, env=~"a|b"')
    add.add_argument("--duration", "-d", default="1h", help="how long from the start (default 1h)")
    add.add_argument("--start", default="now", help="RFC 3339 or now (default)")
    add.add_argument("--comment", "-c", required=True)
    add.add_argument("--author", help="default $USER")
    ls = acts.add_parser("list", parents=[url], help="active and pending silences")
    ls.add_argument("--expired", action="store_true", help="expired ones too")
    expire = acts.add_parser("expire", parents=[url])
    expire.add_argument("ids", nargs="+", metavar="ID")
    silences.set_defaults(func=cmd_silences)

    heartbeats = sub.add_parser("heartbeats", parents=[url], help="heartbeats: up, missed or inactive")
    heartbeats.set_defaults(func=cmd_heartbeats)
