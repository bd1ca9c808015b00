#!/usr/bin/env bash
# Builds Sluice and starts it with embedded defaults: Postgres protocol on
# 127.0.0.1:6875, data in ./sluice-data. Extra arguments go to `sluice serve`
# (see `sluice serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# --all-targets: the same dependency features as the test build, so one cached
# build serves both the server and the tests.
cargo build --all-targets
exec "$CARGO_TARGET_DIR/debug/sluice" serve "$@"
