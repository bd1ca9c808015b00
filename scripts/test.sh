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

step "cargo fmt --check" "run 'cargo fmt' and commit the result"
cargo fmt --all -- --check
step "cargo clippy --all-targets -- -D warnings" "fix the lints clippy printed above"
cargo clippy --all-targets -- -D warnings
step "cargo test" "the failing tests are listed above"
cargo test --all-targets -- --test-threads="${SLUICE_TEST_THREADS:-4}"
