# Shared settings for Sluice's scripts (sourced, not run).
#
# Build output and installed tools live in a fixed cache outside the clone, so a
# fresh clone (and CI) reuses them: SLUICE_CACHE, default /var/cache/sluice, or
# ~/.cache/sluice when that is not writable.

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

# Installs a Debian package (as root, or through sudo).
install_package() {
    local package=$1
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package"
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package"
    fi
}

# Installs the Debian package that provides a command, if the command is missing.
# Usage: need_command psql postgresql-client
need_command() {
    local cmd=$1 package=$2
    if ! command -v "$cmd" >/dev/null 2>&1; then
        echo "installing $package (for $cmd)"
        install_package "$package"
    fi
}

# Installs the Debian package that provides a file (a program not on PATH), if the
# file is missing.
# Usage: need_file /usr/lib/postgresql/15/bin/postgres postgresql-15
need_file() {
    local file=$1 package=$2
    if [ ! -e "$file" ]; then
        echo "installing $package (for $file)"
        install_package "$package"
    fi
}

# Installs (when missing) and exports what the tests and benchmarks start: psql, the
# tansu Kafka-protocol broker (SLUICE_TANSU), ONNX Runtime (SLUICE_ONNXRUNTIME) and
# the PREDICT test models (SLUICE_TEST_MODELS), the PostgreSQL 15 server (the views'
# oracle and the benchmarks' peer).
install_test_tools() {
    need_command psql postgresql-client
    SLUICE_TANSU="$(scripts/install-tansu.sh)"
    export SLUICE_TANSU
    SLUICE_ONNXRUNTIME="$(scripts/install-ml.sh)"
    export SLUICE_ONNXRUNTIME
    SLUICE_TEST_MODELS="$(scripts/test-models.sh)"
    export SLUICE_TEST_MODELS
    need_file /usr/lib/postgresql/15/bin/postgres postgresql-15
}
