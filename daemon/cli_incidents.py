"""`tocsin incidents …` and `tocsin alerts`: incidents and alerts of a running daemon, as on-call people use them."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from daemon.cli_common import actor_of, client_of
from daemon.client import ApiError

PHASES = ("investigating", "identified", "monitoring", "resolved")
SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")


def incident_id(text: str) -> str:
    """Ids are written INC-2026-0001; inc-2026-0001 is the same incident."""
    return text.upper()


def print_incident(incident: dict[str, Any]) -> None:
    print(f"{incident['id']}  {incident['severity']}  {incident['state']:<12} {incident['title']}")
    for key in ("service", "declared_at", "acknowledged_at", "acknowledged_by", "mitigated_at", "resolved_at"):
        if incident.get(key):
            print(f"  {key}: {incident[key]}")
    if incident.get("commander"):
        print(f"  commander: {incident['commander']}")
    if incident.get("alerts"):
        print("  alerts:")
        for alert in incident["alerts"]:
            name = alert["labels"].get("alertname") or alert["annotations"].get("summary") or alert["fingerprint"]
            print(f"    {alert['status']:<9} {name} x{alert['count']} ({alert['fingerprint']})")
    if incident.get("timeline"):
        print("  timeline:")
        for entry in incident["timeline"]:
            print(f"    {entry['at']}  {entry['actor']:<10} {entry['kind']:<20} {entry['text']}")


def _query(pairs: list[tuple[str, Any]]) -> str:
    query = "&".join(f"{k}={v}" for k, v in pairs if v)
    return f"?{query}" if query else ""


def cmd_incidents(args: argparse.Namespace) -> int:
    client = client_of(args)
    path = f"/api/v1/incidents/{incident_id(args.id)}" if getattr(args, "id", None) else "/api/v1/incidents"
    try:
        match args.action:
            case "list":
                query = _query(
                    [
                        ("state", args.state),
                        ("severity", args.severity),
                        ("service", args.service),
                        ("limit", args.limit),
                    ]
                )
                page = client.call("GET", f"/api/v1/incidents{query}")
                for incident in page["incidents"]:
                    print(f"{incident['id']}  {incident['severity']}  {incident['state']:<12} {incident['title']}")
                if not page["incidents"]:
                    print("no incidents")
            case "show":
                print_incident(client.call("GET", path))
            case "postmortem":
                print(client.call("GET", f"{path}/postmortem", accept="text/markdown"), end="")
            case "declare":
                body = {"title": args.title, "severity": args.severity.upper(), "service": args.service or ""}
                body |= {"actor": actor_of(args), "note": args.note or ""}
                if args.commander:
                    body["commander"] = args.commander
                print_incident(client.call("POST", "/api/v1/incidents", body))
            case "status-update":
                body = {"phase": args.phase, "message": args.message or "", "actor": actor_of(args)}
                print_incident(client.call("POST", f"{path}/status-updates", body))
            case "severity":
                print_incident(client.call("PATCH", path, {"severity": args.severity.upper(), "actor": actor_of(args)}))
            case "note":
                print_incident(client.call("POST", f"{path}/notes", {"text": args.text, "actor": actor_of(args)}))
            case "commander":
                print_incident(client.call("PATCH", path, {"commander": args.name, "actor": actor_of(args)}))
            case _:
                action = {"ack": "acknowledge"}.get(args.action, args.action)
                body = {"actor": actor_of(args), "note": args.note or ""}
                print_incident(client.call("POST", f"{path}/{action}", body))
    except ApiError as exc:
        print(f"tocsin: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    try:
        page = client_of(args).call("GET", "/api/v1/alerts" + _query([("status", args.status), ("limit", args.limit)]))
    except ApiError as exc:
        print(f"tocsin: {exc}", file=sys.stderr)
        return 1
    for alert in page["alerts"]:
        name = alert["labels"].get("alertname") or alert["annotations"].get("summary") or alert["fingerprint"]
        service = alert["labels"].get("service", "")
        where = alert.get("incident_id") or "-"
        print(
            f"{alert['status']:<9} {alert['severity']}  {name} on {service or '?'}  {where}  ({alert['fingerprint']})"
        )
    if not page["alerts"]:
        print("no alerts")
    return 0


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    inc = sub.add_parser("incidents", parents=[common], help="incidents of a running daemon")
    acts = inc.add_subparsers(dest="action", required=True)
    ls = acts.add_parser("list", parents=[common], help="newest first")
    ls.add_argument("--state", help="triggered, acknowledged, mitigated, resolved, or open (all but resolved)")
    ls.add_argument("--severity", type=str.upper)
    ls.add_argument("--service")
    ls.add_argument("--limit")
    for name in ("show", "postmortem"):
        acts.add_parser(name, parents=[common]).add_argument("id")
    for name in ("ack", "mitigate", "resolve", "reopen"):
        a = acts.add_parser(name, parents=[common])
        a.add_argument("id")
        a.add_argument("--note", "-m")
        a.add_argument("--actor", help="default: $USER")
    declare = acts.add_parser("declare", parents=[common], help="declare an incident by hand")
    declare.add_argument("title")
    declare.add_argument("--severity", default="SEV3", choices=SEVERITIES, type=str.upper)
    declare.add_argument("--service")
    declare.add_argument("--commander")
    declare.add_argument("--note", "-m")
    declare.add_argument("--actor")
    update = acts.add_parser("status-update", parents=[common], help="post a status update to the stakeholders")
    update.add_argument("id")
    update.add_argument("phase", choices=PHASES)
    update.add_argument("--message", "-m", help="default: the phase's template")
    update.add_argument("--actor")
    severity = acts.add_parser("severity", parents=[common], help="change the severity")
    severity.add_argument("id")
    severity.add_argument("severity", choices=SEVERITIES, type=str.upper)
    severity.add_argument("--actor")
    note = acts.add_parser("note", parents=[common], help="add a note to the timeline")
    note.add_argument("id")
    note.add_argument("text")
    note.add_argument("--actor")
    commander = acts.add_parser("commander", parents=[common], help="name the incident commander ('' clears)")
    commander.add_argument("id")
    commander.add_argument("name")
    commander.add_argument("--actor")
    inc.set_defaults(func=cmd_incidents)

    alerts = sub.add_parser("alerts", parents=[common], help="alerts, also those below the declare threshold")
    alerts.add_argument("--status", choices=("firing", "resolved"))
    alerts.add_argument("--limit")
    alerts.set_defaults(func=cmd_alerts)
