"""Group decisions: alerts arriving (and declarations) taken one after the other on one slice, committed as one.

Both stores use it: a storm of webhooks then costs one load and one write for many decisions, and each
decision still sees what the ones before it changed (the engine changes the slice in place).
"""

from __future__ import annotations

from daemon.engine.state import Decision, Needs


def groupable(needs: Needs) -> bool:
    """Alerts arriving (and declarations) commit in groups: taken one after the other on one slice they decide
    as one webhook carrying them all would. Lifecycle, timer and mirror decisions, which read an incident's
    members, timers or unplaced alerts, commit alone."""
    return not (needs.members or needs.unplaced or needs.resume or needs.timer_owners or needs.webhook_ids)


def union(all_needs: list[Needs]) -> Needs:
    """What a group of decisions reads: everything any of them needs (silences from the earliest ``now``)."""
    at = [n.silences_at for n in all_needs if n.silences]
    return Needs(
        fingerprints=frozenset().union(*(n.fingerprints for n in all_needs)),
        keys=frozenset().union(*(n.keys for n in all_needs)),
        firing=frozenset().union(*(n.firing for n in all_needs)),
        incident_ids=frozenset().union(*(n.incident_ids for n in all_needs)),
        members=any(n.members for n in all_needs),
        webhook_ids=frozenset().union(*(n.webhook_ids for n in all_needs)),
        overrides=frozenset().union(*(n.overrides for n in all_needs)),
        silences=bool(at),
        silences_at=None if not at or None in at else min(a for a in at if a is not None),
        timer_owners=frozenset().union(*(n.timer_owners for n in all_needs)),
        unplaced=any(n.unplaced for n in all_needs),
        resume=any(n.resume for n in all_needs),
    )


def merge(decisions: list[Decision]) -> Decision:
    """Decisions taken one after the other on one slice, as one commit writes them: the last state of each row."""
    m = Decision()
    for d in decisions:
        m.alerts.update(d.alerts)
        m.incidents.update(d.incidents)
        m.memberships |= d.memberships
        m.timeline += d.timeline
        for key in d.timers_cancelled:
            m.cancel_timer(key)
        for timer in d.timers_set.values():
            m.set_timer(timer)
        m.notifications += d.notifications
        m.pointers.update(d.pointers)
        m.webhooks |= d.webhooks
        m.silences += d.silences
    return m
