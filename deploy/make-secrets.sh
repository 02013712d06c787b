#!/bin/sh
# Make the secrets the compose file needs (deploy/.env) and an Alertmanager configuration that uses them
# (deploy/alertmanager.compose.yml). tocsin refuses to listen beyond loopback with the published example secrets.
set -eu
cd "$(dirname "$0")"
if [ -e .env ]; then
    echo "deploy/.env exists; remove it to make new secrets" >&2
    exit 1
fi
rand() { openssl rand -hex 24; }
api=$(rand); link=$(rand); am=$(rand); routing=$(rand); pd=$(rand)
umask 077
cat > .env <<ENV
TOCSIN_API_TOKENS=$api
TOCSIN_LINK_SECRET=$link
TOCSIN_SOURCES__ALERTMANAGER__TOKENS=$am
TOCSIN_SOURCES__PAGERDUTY__INTEGRATIONS={"$routing": {"service": "db"}}
TOCSIN_SOURCES__PAGERDUTY__WEBHOOK_SECRETS=$pd
TOCSIN_SOURCES__GRAFANA_ONCALL__INTEGRATIONS={}
ENV
sed -e "s/example-token/$am/" -e "s/example-routing-key/$routing/" alertmanager.yml > alertmanager.compose.yml
echo "wrote deploy/.env and deploy/alertmanager.compose.yml; your API token: $api"
