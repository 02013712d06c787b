"""Incidents stored before ladders kept their episode's start still load (an upgrade reads them)."""

from __future__ import annotations

from datetime import timedelta

from daemon.domain import Ladder
from daemon.store import codec
from notifiers.render import sample


def test_a_ladder_stored_without_its_episode_start_counts_from_its_round_start() -> None:
    now, incident, _ = sample()
    round_started = now + timedelta(minutes=25)
    incident.ladder = Ladder("page-hard", 2, 1, round_started, now)
    stored = codec.loads(codec.dumps(incident))
    assert codec.incident_from(stored).ladder == incident.ladder  # today's rows keep it
    del stored["ladder"]["episode_started_at"]  # a row written by an earlier version
    assert codec.incident_from(stored).ladder == Ladder("page-hard", 2, 1, round_started, round_started)
