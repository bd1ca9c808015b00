#!/usr/bin/env bash
# Installs the Python clients the client tests drive Sluice with, in a venv under the
# cache: psycopg 3 (with its binary libpq), and SQLAlchemy 2 with psycopg2 and pandas
# (the inspector and read_sql that Superset, Alembic and notebooks use), and pyodbc
# (ODBC through unixODBC, which must be installed: scripts/env.sh does). Idempotent;
# prints the venv's python on stdout, progress and errors on stderr.
cd "$(dirname "$0")/.."
source scripts/env.sh
venv="$SLUICE_CACHE/clients-venv"

if ! "$venv/bin/python" -c "import psycopg, sqlalchemy, psycopg2, pandas, pyodbc" 2>/dev/null; then
    step "installing psycopg 3, SQLAlchemy 2, psycopg2, pandas and pyodbc (PyPI, about a minute)" \
        "check that PyPI is reachable (pip download 'psycopg[binary]==3.3.9' 'SQLAlchemy==2.1.9') and that python3-venv works"
    make_venv "$venv" "psycopg[binary]==3.3.9" "SQLAlchemy==2.1.9" \
        "psycopg2-binary==2.9.13" "pandas==3.1.1" "pyodbc==5.5.0"
fi
echo "$venv/bin/python"
