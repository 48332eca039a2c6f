#!/usr/bin/env bash
# Provide a PostGIS test database and print its URL on stdout.
#   - installs PostGIS from apt for the local PostgreSQL version if missing (needs root/sudo)
#   - starts the local PostgreSQL cluster if it is not running
#   - (re)creates the database onetrench_test with the postgis extension
# Usage: export ONETRENCH_TEST_POSTGIS_URL=$(bash scripts/setup-postgis.sh)
# Exits non-zero (with a reason on stderr) when PostgreSQL is not available here.
set -euo pipefail
log() { echo "[postgis] $*" >&2; }

DB=${ONETRENCH_TEST_DB:-onetrench_test}
HOST=${PGHOST_TEST:-127.0.0.1}
PORT=${PGPORT_TEST:-5432}
USER_=${PGUSER_TEST:-postgres}

if ! command -v pg_ctlcluster >/dev/null || [[ ! -d /etc/postgresql ]]; then
  log "本机未安装 PostgreSQL / no local PostgreSQL server here"; exit 3
fi
SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
PGVER=$(ls /etc/postgresql | sort -V | tail -1)

if [[ ! -f /usr/share/postgresql/$PGVER/extension/postgis.control ]]; then
  log "installing postgresql-$PGVER-postgis-3"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq --no-install-recommends "postgresql-$PGVER-postgis-3" >&2
fi

if ! pg_isready -q -h "$HOST" -p "$PORT"; then
  log "starting PostgreSQL $PGVER"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$PGVER" main start >&2 || true
  for _ in $(seq 1 30); do pg_isready -q -h "$HOST" -p "$PORT" && break; sleep 1; done
fi
pg_isready -q -h "$HOST" -p "$PORT" || { log "PostgreSQL does not answer on $HOST:$PORT"; exit 4; }

psql_() { psql -v ON_ERROR_STOP=1 -q -h "$HOST" -p "$PORT" -U "$USER_" "$@"; }
psql_ -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >&2
psql_ -d postgres -c "CREATE DATABASE $DB" >&2
psql_ -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS postgis" >&2
echo "postgresql+psycopg://$USER_@$HOST:$PORT/$DB"
