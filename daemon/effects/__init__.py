"""The effects stage: what follows a committed decision. The scheduler fires durable timers, the outbox worker
sends notifications, retention forgets old incidents, and the supervisor keeps those loops running and visible.
Rendering and sending a message belong to ``notifiers``; claiming, holding and recording queued work here."""
