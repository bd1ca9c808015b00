#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need, then
# formatting, lints (warnings are errors) and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

install_test_tools

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
echo "== cargo test"
cargo test --all-targets -- --test-threads="${SLUICE_TEST_THREADS:-4}"
