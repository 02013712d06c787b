"""`tocsin oncall`, `tocsin schedules show`, `tocsin overrides add|list|rm`: on-call from the command line."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from daemon.cli_common import client_of, short, show, when
from rules.durations import parse_duration


def _local(text: str, zone: ZoneInfo) -> str:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")


def format_oncall(answer: dict[str, Any]) -> list[str]:
    rows = answer["oncall"]
    if not rows:
        return ["no schedules configured"]
    width = max(len(f"{r['schedule']}/{r['rotation']}") for r in rows)
    lines = []
    for r in rows:
        where = f"{r['schedule']}/{r['rotation']}".ljust(width)
        if r["person"] is None:
            who = "nobody on call"
        else:
            who = r["person"] + (f" ({r['name']})" if r.get("name") else "")
            if r["override"]:
                who += f", override {r['override']}"
        nxt = f"next: {r['next']['person']} at {short(r['next']['at'])}" if r["next"] else "next: nobody within 90 days"
        lines.append(f"{where}  {who}  until {short(r['until'])}; {nxt}")
    return lines


def format_schedule(answer: dict[str, Any]) -> list[str]:
    zone = ZoneInfo(answer["timezone"])
    lines = [f"{answer['name']} ({answer['timezone']})", f"calendar: {answer['calendar_url']}"]
    if not answer["shifts"]:
        lines.append("nobody is on call in this range")
    for s in answer["shifts"]:
        override = f"  override {s['override']}" if s["override"] else ""
        lines.append(
            f"{_local(s['start'], zone)} → {_local(s['end'], zone)}  {s['rotation']:<10} {s['person']}{override}"
        )
    return lines


def format_overrides(answer: dict[str, Any]) -> list[str]:
    if not answer["overrides"]:
        return ["no current or future overrides"]
    lines = []
    for o in answer["overrides"]:
        stale = "  (stale: no longer configured, ignored)" if o["stale"] else ""
        note = f"  “{o['note']}”" if o["note"] else ""
        lines.append(
            f"{o['id']}  {o['rotation']:<10} {o['person']:<8} {short(o['start'])} → {short(o['end'])}"
            f"  by {o['actor']}{note}{stale}"
        )
    return lines


def cmd_oncall(args: argparse.Namespace) -> int:
    query = f"?at={when(args.at)}" if args.at else ""
    return show(lambda: format_oncall(client_of(args).call("GET", f"/api/v1/oncall{query}")))


def cmd_schedules(args: argparse.Namespace) -> int:
    if args.action == "list":

        def listing() -> list[str]:
            found = client_of(args).call("GET", "/api/v1/schedules")["schedules"]
            return [f"{s['name']} ({s['timezone']}): {', '.join(s['rotations'])}" for s in found] or ["no schedules"]

        return show(listing)
    start = datetime.now(UTC) if not args.start else datetime.fromisoformat(when(args.start).replace("Z", "+00:00"))
    end = start + timedelta(days=args.days)
    query = f"?from={start.isoformat().replace('+00:00', 'Z')}&to={end.isoformat().replace('+00:00', 'Z')}"
    return show(lambda: format_schedule(client_of(args).call("GET", f"/api/v1/schedules/{args.name}{query}")))


def cmd_overrides(args: argparse.Namespace) -> int:
    client = client_of(args)
    path = f"/api/v1/schedules/{args.schedule}/overrides"
    if args.action == "list":
        return show(lambda: format_overrides(client.call("GET", path)))
    if args.action == "rm":

        def remove() -> list[str]:
            client.call("DELETE", f"{path}/{args.id}")
            return [f"deleted {args.id}"]

        return show(remove)
    start = when(args.start)
    if args.end:
        end = when(args.end)
    elif args.duration:
        begin = datetime.fromisoformat(start.replace("Z", "+00:00"))
        end = (begin + parse_duration(args.duration)).isoformat().replace("+00:00", "Z")
    else:
        raise SystemExit("tocsin: give --end or --duration")
    body = {
        "rotation": args.rotation,
        "person": args.person,
        "start": start,
        "end": end,
        "note": args.note or "",
        "actor": args.actor or os.environ.get("USER") or "cli",
    }

    def add() -> list[str]:
        made = client.call("POST", path, body)
        where = f"{args.schedule}/{made['rotation']}"
        return [f"{made['id']}: {made['person']} on {where} {short(made['start'])} → {short(made['end'])}"]

    return show(add)


def add_parsers(sub: Any, url: argparse.ArgumentParser) -> None:
    oncall = sub.add_parser("oncall", parents=[url], help="who is on call now and next")
    oncall.add_argument("--at", help="RFC 3339 time (default now)")
    oncall.set_defaults(func=cmd_oncall)

    schedules = sub.add_parser("schedules", parents=[url], help="schedules and their shifts")
    acts = schedules.add_subparsers(dest="action", required=True)
    acts.add_parser("list", parents=[url])
    show = acts.add_parser("show", parents=[url], help="a schedule's shifts, in its own time zone")
    show.add_argument("name")
    show.add_argument("--days", type=int, default=14)
    show.add_argument("--start", help="RFC 3339 (default now)")
    schedules.set_defaults(func=cmd_schedules)

    overrides = sub.add_parser("overrides", parents=[url], help="put someone on a rotation for a while")
    acts = overrides.add_subparsers(dest="action", required=True)
    add = acts.add_parser("add", parents=[url])
    add.add_argument("schedule")
    add.add_argument("--rotation", required=True)
    add.add_argument("--person", required=True)
    add.add_argument("--start", required=True, help="RFC 3339 or now")
    add.add_argument("--end", help="RFC 3339")
    add.add_argument("--duration", help="instead of --end: 8h, 2d …")
    add.add_argument("--note", "-m")
    add.add_argument("--actor")
    ls = acts.add_parser("list", parents=[url])
    ls.add_argument("schedule")
    rm = acts.add_parser("rm", parents=[url])
    rm.add_argument("schedule")
    rm.add_argument("id")
    overrides.set_defaults(func=cmd_overrides)
