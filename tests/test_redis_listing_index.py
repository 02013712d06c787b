"""Filtered incident listings on Redis walk an index kept by the commits; incidents stored before that index
existed (by an earlier tocsin) are indexed when first listed with a filter, and listed as they are."""

from __future__ import annotations

import uuid

from tests.conftest import MakeTocsin
from tests.redis_server import RedisServer
from tests.support import Tocsin, am_alert, am_webhook


def ids(incidents: list[dict[str, str]]) -> list[str]:
    return [i["id"] for i in incidents]


async def test_incidents_stored_before_the_index_are_listed_by_every_filter(
    make_tocsin: MakeTocsin, redis_server: RedisServer
) -> None:
    store = f"{redis_server.url}?prefix=ix{uuid.uuid4().hex[:10]}"
    first: Tocsin = await make_tocsin({"channels": None, "store": store})
    for service, severity in [("db", "critical"), ("web", "warning"), ("db-replica", "warning")]:
        await first.post_alertmanager(am_webhook(am_alert(service=service, severity=severity)))
    await first.api("POST", "/api/v1/incidents/INC-2026-0002/acknowledge", {"actor": "alice"})
    await first.api("POST", "/api/v1/incidents/INC-2026-0003/resolve", {"actor": "alice"})
    # What an earlier tocsin left: the same incidents, without any index of them.
    r = first.services.store.r  # type: ignore[attr-defined]
    base = first.services.store.keys.base  # type: ignore[attr-defined]
    doomed = [key async for key in r.scan_iter(match=f"{base}incidents:*")]
    doomed = [key for key in doomed if not key.decode().endswith((":open", ":resolved"))]
    assert doomed, "the commits kept no index to remove"
    await r.delete(*doomed)

    later = await make_tocsin(settings=first.settings)  # a tocsin of this version starting on that data
    assert ids(await later.incidents("state=triggered")) == ["INC-2026-0001"]
    assert ids(await later.incidents("state=acknowledged")) == ["INC-2026-0002"]
    assert ids(await later.incidents("state=resolved&service=db-replica")) == ["INC-2026-0003"]
    assert ids(await later.incidents("service=db")) == ["INC-2026-0001"]
    assert ids(await later.incidents("state=open&severity=SEV3")) == ["INC-2026-0002"]
    assert ids(await later.incidents("severity=SEV1")) == ["INC-2026-0001"]
    # Built once: later changes move incidents between the lists.
    await later.api("POST", "/api/v1/incidents/INC-2026-0001/mitigate", {"actor": "bob"})
    assert ids(await later.incidents("state=triggered")) == []
    assert ids(await later.incidents("state=mitigated&service=db")) == ["INC-2026-0001"]
