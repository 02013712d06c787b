"""SQLite schema and its migrations; ``PRAGMA user_version`` is the schema version."""

from __future__ import annotations

import sqlite3

# Append only: each entry migrates from version i to i+1 and runs once, in its own transaction.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE alerts (
        seq INTEGER PRIMARY KEY,
        fingerprint TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL,
        correlation_key TEXT NOT NULL,
        incident_id TEXT,
        data BLOB NOT NULL
    );
    CREATE INDEX alerts_orphans ON alerts (correlation_key) WHERE status = 'firing' AND incident_id IS NULL;
    CREATE INDEX alerts_status ON alerts (status, seq);

    CREATE TABLE incidents (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        severity TEXT NOT NULL,
        service TEXT NOT NULL,
        correlation_key TEXT NOT NULL,
        data BLOB NOT NULL
    );
    CREATE INDEX incidents_key ON incidents (correlation_key, seq);
    CREATE INDEX incidents_state ON incidents (state, seq);

    CREATE TABLE incident_alerts (
        incident_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        PRIMARY KEY (incident_id, fingerprint)
    ) WITHOUT ROWID;

    CREATE TABLE timeline (
        seq INTEGER PRIMARY KEY,
        incident_id TEXT NOT NULL,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX timeline_incident ON timeline (incident_id, seq);

    CREATE TABLE sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;

    CREATE TABLE timers (
        key TEXT PRIMARY KEY,
        incident_id TEXT NOT NULL,
        due_at REAL NOT NULL,
        data BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX timers_due ON timers (due_at);
    CREATE INDEX timers_incident ON timers (incident_id);

    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        incident_id TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        data BLOB NOT NULL
    );
    CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE status = 'pending';
    """,
    # 2: PagerDuty V3 webhook events already processed (their signed event id), so a replay changes nothing.
    """
    CREATE TABLE webhooks (id TEXT PRIMARY KEY, seen_at REAL NOT NULL) WITHOUT ROWID;
    CREATE INDEX webhooks_seen ON webhooks (seen_at);
    """,
    # 3: retention: when incidents and alerts resolved, so old ones can be purged.
    """
    ALTER TABLE alerts ADD COLUMN ends_at REAL;
    ALTER TABLE incidents ADD COLUMN resolved_at REAL;
    CREATE INDEX incidents_resolved ON incidents (resolved_at) WHERE state = 'resolved';
    CREATE INDEX alerts_resolved ON alerts (ends_at) WHERE status = 'resolved';
    UPDATE alerts SET ends_at = CAST(strftime('%s', json_extract(CAST(data AS TEXT), '$.ends_at')) AS REAL)
        WHERE status = 'resolved';
    UPDATE incidents SET resolved_at = CAST(strftime('%s', json_extract(CAST(data AS TEXT), '$.resolved_at')) AS REAL)
        WHERE state = 'resolved';
    """,
    # 4: which incident holds each correlation key (the newest, or the one reopened since).
    """
    CREATE TABLE keys (correlation_key TEXT PRIMARY KEY, incident_id TEXT NOT NULL) WITHOUT ROWID;
    INSERT INTO keys (correlation_key, incident_id)
        SELECT correlation_key, id FROM incidents AS i
        WHERE seq = (SELECT MAX(seq) FROM incidents WHERE correlation_key = i.correlation_key);
    """,
    # 5: an incident's firing alerts by index; outbox claims owned (a claim that lapsed is not sent twice);
    # the purge's lookups by incident indexed.
    """
    CREATE INDEX alerts_firing_incident ON alerts (incident_id) WHERE status = 'firing';
    ALTER TABLE outbox ADD COLUMN claim TEXT;
    CREATE INDEX outbox_incident ON outbox (incident_id);
    CREATE INDEX keys_incident ON keys (incident_id);
    CREATE INDEX incident_alerts_fingerprint ON incident_alerts (fingerprint);
    """,
    # 6: on-call overrides, numbered by the store (the higher seq was created last and wins).
    """
    CREATE TABLE overrides (
        id TEXT PRIMARY KEY, seq INTEGER NOT NULL, schedule TEXT NOT NULL, ends_at REAL NOT NULL, data BLOB NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX overrides_schedule ON overrides (schedule, ends_at);
    """,
    # 7: silences (Alertmanager's API v2 shape), kept after they expire for `retention`.
    """
    CREATE TABLE silences (id TEXT PRIMARY KEY, ends_at REAL NOT NULL, data BLOB NOT NULL) WITHOUT ROWID;
    CREATE INDEX silences_ends ON silences (ends_at);
    """,
    # 8: the queue contract: timer claims owned by a token (a repeated claim returns what it holds); rows that
    # cannot be read set aside rather than stopping the queue; an incident's pending entries found in order.
    """
    ALTER TABLE timers ADD COLUMN claim TEXT;
    CREATE TABLE set_aside (
        seq INTEGER PRIMARY KEY,
        queue TEXT NOT NULL,
        key TEXT NOT NULL,
        at REAL NOT NULL,
        reason TEXT NOT NULL,
        data BLOB NOT NULL
    );
    CREATE INDEX outbox_incident_pending ON outbox (incident_id, seq) WHERE status = 'pending';
    CREATE INDEX outbox_claim ON outbox (claim) WHERE status = 'pending';
    CREATE INDEX timers_claim ON timers (claim) WHERE claim IS NOT NULL;
    """,
    # 9: memberships by fingerprint unindexed: every new alert paid a random insert into it, and each commit of
    # a storm rewrote most of its pages (40% of the log's bytes per alert); the purge finds them by key instead.
    """
    DROP INDEX incident_alerts_fingerprint;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to SCHEMA_VERSION; refuse one written by a newer tocsin."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise RuntimeError(f"database schema {version} is newer than this tocsin understands ({SCHEMA_VERSION})")
    for target in range(version + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process (a worker) may have migrated meanwhile: look again under the write lock.
            (current,) = conn.execute("PRAGMA user_version").fetchone()
            if current >= target:
                conn.execute("COMMIT")
                continue
            for statement in MIGRATIONS[target - 1].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {target}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION
