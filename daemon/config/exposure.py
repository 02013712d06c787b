"""Refuse configurations that would let strangers page, acknowledge or forge links (issue: secrets in examples).

The example files under deploy/ are published, so their secrets are known to everyone: they are fine while tocsin
listens on loopback only (`make run`, the tests) and refused as soon as it listens beyond it.
"""

from __future__ import annotations

import ipaddress

from daemon.config.settings import Settings

# Every secret the published example configuration (deploy/tocsin.yml) carries; a test keeps this list complete.
EXAMPLE_SECRETS = frozenset(
    {
        "example-api-token",
        "example-link-secret",
        "example-token",
        "example-routing-key",
        "example-pd-secret",
        "example-oncall-key",
    }
)


# The Kubernetes example's Secret values all start with this.
PLACEHOLDER = "change-me"


def is_loopback(listen: str) -> bool:
    return is_loopback_host(listen.rpartition(":")[0])


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # an empty host (every interface) or a name that may resolve anywhere


def secrets_in_force(settings: Settings) -> list[tuple[str, str]]:
    """(key, value) of every secret the settings use."""
    found = [("api_tokens", t.get_secret_value()) for t in settings.api_tokens]
    if settings.link_secret is not None:
        found.append(("link_secret", settings.link_secret.get_secret_value()))
    sources = settings.sources
    found += [("sources.alertmanager.tokens", t.get_secret_value()) for t in sources.alertmanager.tokens]
    found += [("sources.pagerduty.integrations", key) for key in sources.pagerduty.integrations]
    found += [("sources.pagerduty.webhook_secrets", s.get_secret_value()) for s in sources.pagerduty.webhook_secrets]
    found += [("sources.grafana_oncall.integrations", key) for key in sources.grafana_oncall.integrations]
    return found


def exposure_problems(settings: Settings) -> list[str]:
    problems: list[str] = []
    loopback = is_loopback(settings.listen)
    if not loopback:
        for key, value in secrets_in_force(settings):
            if value in EXAMPLE_SECRETS or value.startswith(PLACEHOLDER):
                problems.append(
                    f"{key}: the published example secret {value!r} is in force while tocsin listens on "
                    f"{settings.listen}, beyond loopback; set your own (e.g. `openssl rand -hex 32`)"
                )
    board = settings.board
    if board.trusted_header and not loopback and not board.trusted_proxies:
        problems.append(
            f"board.trusted_header: {board.trusted_header!r} names the person, tocsin listens on {settings.listen}, "
            "beyond loopback, and board.trusted_proxies is empty; list the proxies that set the header"
        )
    if settings.link_secret is None and not (loopback and settings.store.startswith("sqlite")):
        problems.append(
            "link_secret: not set; a random one is only allowed for one tocsin on SQLite on loopback "
            "(replicas or a public listener must share one: set TOCSIN_LINK_SECRET)"
        )
    return problems
