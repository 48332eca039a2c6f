#!/usr/bin/env bash
# The test command (make test): lint, format check, type check, then the whole test suite on
# SpatiaLite and, when a PostgreSQL server is available here, on PostGIS too.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

if [[ -z "${ONETRENCH_TEST_POSTGIS_URL:-}" ]]; then
  if url=$(bash scripts/setup-postgis.sh); then
    export ONETRENCH_TEST_POSTGIS_URL="$url"
  else
    echo "PostGIS 不可用，PostGIS 测试将被跳过 / PostGIS unavailable here: PostGIS tests will be skipped" >&2
  fi
fi

echo "== ruff format --check"; "$VENV/bin/ruff" format --check .
echo "== ruff check";          "$VENV/bin/ruff" check .
echo "== mypy";                "$VENV/bin/mypy"
echo "== pytest";              "$VENV/bin/pytest" "$@"
