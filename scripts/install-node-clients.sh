#!/usr/bin/env bash
# Installs node-postgres (the npm package pg), the Node.js driver the client tests log
# in with, under the cache. Idempotent; prints its node_modules directory on stdout,
# progress and errors on stderr.
cd "$(dirname "$0")/.."
source scripts/env.sh
version=8.16.3
dir="$SLUICE_CACHE/node-clients-$version"

if [ ! -f "$dir/node_modules/pg/package.json" ]; then
    step "installing node-postgres $version (npm, a few seconds)" \
        "check that the npm registry is reachable (npm view pg@$version version) and that node and npm work"
    # Built beside its final place and moved there complete, as make_venv does.
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    npm install --prefix "$dir.tmp" --no-audit --no-fund --silent "pg@$version" >&2
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
fi
echo "$dir/node_modules"
