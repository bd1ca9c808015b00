#!/usr/bin/env bash
# The whole test suite, as CI runs it: checks the set-up scripts (shellcheck, and the
# fresh-machine check: every installer into an empty cache, then the README's start
# command and quickstart), installs what the tests need, then formatting, lints
# (warnings are errors) and every test.
#
# SLUICE_SKIP_FRESH_CHECK=1 skips the fresh-machine check (a local shortcut; CI never
# sets it).
cd "$(dirname "$0")/.."
source scripts/env.sh

need_command shellcheck shellcheck
step "shellcheck scripts/ .ci/" "fix the warnings shellcheck printed above"
shellcheck -x -P SCRIPTDIR/.. scripts/*.sh .ci/run

if [ "${SLUICE_SKIP_FRESH_CHECK:-}" != 1 ]; then
    step "fresh-machine check (scripts/check-fresh-machine.sh)" "its messages above name the step that failed"
    scripts/check-fresh-machine.sh
fi

install_test_tools

# The build cache keeps every test binary cargo ever linked (one per target and
# build flavour, ~650 MB each) and every incremental session: unpruned it filled a
# 92 GB disk. Whatever is older than an hour is from an earlier run; a test binary
# is relinked anyway whenever Sluice changed, and cargo rebuilds a missing one.
step "pruning stale test binaries and incremental sessions from $CARGO_TARGET_DIR" "check that the cache directory is writable"
# (Only the dev profile's: the release server the start command runs stays.)
if [ -d "$CARGO_TARGET_DIR/debug/deps" ]; then
    find "$CARGO_TARGET_DIR/debug/deps" -maxdepth 1 -type f -perm -u+x ! -name '*.so' -mmin +60 -delete
fi
if [ -d "$CARGO_TARGET_DIR/debug/incremental" ]; then
    find "$CARGO_TARGET_DIR/debug/incremental" -mindepth 1 -maxdepth 1 -mmin +60 -exec rm -rf {} +
fi

step "cargo fmt --check" "run 'cargo fmt' and commit the result"
cargo fmt --all -- --check
step "cargo clippy --all-targets -- -D warnings" "fix the lints clippy printed above"
cargo clippy --all-targets -- -D warnings
step "cargo test" "the failing tests are listed above"
cargo test --all-targets -- --test-threads="${SLUICE_TEST_THREADS:-4}"
