"""Every Redis key tocsin uses, in one place. All share one hash tag, so that they live in one slot. The Lua
scripts build the names they touch rather than declaring them, which a single Redis (or one under Sentinel)
accepts; Redis Cluster is not supported."""

from __future__ import annotations


class Keys:
    def __init__(self, prefix: str = "tocsin") -> None:
        self.base = f"{{{prefix}}}:"

    def __call__(self, *parts: str) -> str:
        return self.base + ":".join(parts)

    # alert:<fingerprint> -> hash {v: version, d: JSON}
    def alert(self, fingerprint: str) -> str:
        return self("alert", fingerprint)

    # incident:<id> -> hash {v: version, d: JSON}
    def incident(self, incident_id: str) -> str:
        return self("incident", incident_id)

    # key:<correlation key> -> id of the newest incident with that key
    def key(self, correlation_key: str) -> str:
        return self("key", correlation_key)

    # keyv:<correlation key> -> version of that key's pointer and orphan set (checked by every commit reading
    # them), drawn from seq:keyv so that a deleted one never comes back with a value seen before
    def keyv(self, correlation_key: str) -> str:
        return self("keyv", correlation_key)

    # orphans:<correlation key> -> set of fingerprints firing in no incident
    def orphans(self, correlation_key: str) -> str:
        return self("orphans", correlation_key)

    # members:<incident id> -> set of fingerprints that were ever part of the incident
    def members(self, incident_id: str) -> str:
        return self("members", incident_id)

    # timeline:<incident id> -> list of JSON entries, oldest first
    def timeline(self, incident_id: str) -> str:
        return self("timeline", incident_id)

    # firing:<incident id> -> set of the incident's firing fingerprints
    def firing(self, incident_id: str) -> str:
        return self("firing", incident_id)

    # inotes:<incident id> -> set of the incident's queued notification keys
    def inotes(self, incident_id: str) -> str:
        return self("inotes", incident_id)

    # decided:<token> -> 1 once that decision committed; fenced:<token> -> 1 once it may no longer (short TTL)
    def decided(self, token: str) -> str:
        return self("decided", token)

    def fenced(self, token: str) -> str:
        return self("fenced", token)

    # lock:<incident id> -> token of a decision that lost too many races for the incident (short TTL)
    def lock(self, incident_id: str) -> str:
        return self("lock", incident_id)

    # itimers:<incident id> -> set of timer keys of the incident
    def itimers(self, incident_id: str) -> str:
        return self("itimers", incident_id)

    # timer:<key> -> JSON of the timer (its own due time inside)
    def timer(self, key: str) -> str:
        return self("timer", key)

    # note:<key> -> hash {d: JSON of the notification, a: sends begun, i: incident id, c: token of its claim}
    def note(self, key: str) -> str:
        return self("note", key)

    # nkey:<key> -> set once with a TTL: the notification's idempotency key
    def nkey(self, key: str) -> str:
        return self("nkey", key)

    # iorder:<incident id> -> sorted set: the incident's queued notification keys in the order decided
    def iorder(self, incident_id: str) -> str:
        return self("iorder", incident_id)

    # tclaim:<token> -> hash {timer key: lease end} of one claim (TTL: the lease), for a repeated claim
    def tclaim(self, token: str) -> str:
        return self("tclaim", token)

    # nclaim:<token> -> set of the notification keys one claim took (TTL: the lease), for a repeated claim
    def nclaim(self, token: str) -> str:
        return self("nclaim", token)

    # aside:<queue> -> hash {key: data} of rows set aside; aside:<queue>:why -> hash {key: reason}
    def aside(self, queue: str) -> str:
        return self("aside", queue)

    def aside_why(self, queue: str) -> str:
        return self("aside", queue, "why")

    # webhook:<id> -> set with a TTL once a PagerDuty V3 delivery was processed
    def webhook(self, webhook_id: str) -> str:
        return self("webhook", webhook_id)

    # seq:incident:<year> -> the incident id sequence of that year
    def incident_seq(self, year: int) -> str:
        return self("seq", "incident", str(year))

    @property
    def timers(self) -> str:  # sorted set: timer key -> when it is due (or its lease ends)
        return self("timers")

    @property
    def outbox(self) -> str:  # sorted set: notification key -> when it is due (or its lease ends)
        return self("outbox")

    @property
    def incidents(self) -> str:  # sorted set: incident id -> order of declaration
        return self("incidents")

    @property
    def open_incidents(self) -> str:  # sorted set: open incident id -> order of declaration
        return self("incidents", "open")

    @property
    def resolved_incidents(self) -> str:  # sorted set: resolved incident id -> resolved_at
        return self("incidents", "resolved")

    # incidents:<field>:<value> -> sorted set: id -> order of declaration, of the incidents whose ``field`` (state,
    # severity or service) has that value now; incidents:by:<field> -> hash: id -> the value it is indexed under.
    # Kept by COMMIT, for filtered listings; built once for incidents stored before it (incidents:indexed).
    def incidents_where(self, field: str, value: str) -> str:
        return self("incidents", field, value)

    def incidents_by(self, field: str) -> str:
        return self("incidents", "by", field)

    @property
    def incidents_indexed(self) -> str:  # set once every incident stored before the index is in it
        return self("incidents", "indexed")

    @property
    def alerts(self) -> str:  # sorted set: fingerprint -> order of first arrival
        return self("alerts")

    @property
    def resolved_alerts(self) -> str:  # sorted set: fingerprint -> ends_at, for resolved alerts
        return self("alerts", "resolved")

    @property
    def incident_counter(self) -> str:
        return self("seq", "incidents")

    @property
    def alert_counter(self) -> str:
        return self("seq", "alerts")

    # overrides:<schedule> -> hash {override id: JSON}
    def overrides(self, schedule: str) -> str:
        return self("overrides", schedule)

    def override_counter(self) -> str:
        return self("seq", "override")

    def unplaced(self) -> str:  # set: fingerprints of firing alerts in no incident (every orphans:<key> together)
        return self("unplaced")

    def silence_ends(self) -> str:  # sorted set: silence id -> its endsAt (which may still hold an alert)
        return self("silences", "ends")

    def silences(self) -> str:  # hash: silence id -> JSON
        return self("silences")
