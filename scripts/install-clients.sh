#!/usr/bin/env bash
# Installs the Python Postgres driver the client tests drive Sluice with (psycopg 3,
# with its binary libpq), in a venv under the cache. Idempotent; prints the venv's
# python on stdout, progress and errors on stderr.
cd "$(dirname "$0")/.."
source scripts/env.sh
venv="$SLUICE_CACHE/clients-venv"

if ! "$venv/bin/python" -c "import psycopg" 2>/dev/null; then
    step "installing psycopg 3 (PyPI, a few seconds)" \
        "check that PyPI is reachable (pip download 'psycopg[binary]==3.3.9') and that python3-venv works"
    make_venv "$venv" "psycopg[binary]==3.3.9"
fi
echo "$venv/bin/python"
