#!/usr/bin/env bash
# The benchmark suite, as documented in docs/benchmarks.md: one command, one table set.
#
#   ./scripts/bench.sh                     quick mode (under 10 minutes on 2 cores)
#   SLUICE_BENCH_FULL=1 ./scripts/bench.sh full mode
#   ./scripts/bench.sh --release           the same, built with the release profile
#   ./scripts/bench.sh --bench nexmark     one benchmark (view_change_cost, window_state,
#                                          top_n_state, join_state, temporal_state,
#                                          over_window_state,
#                                          predict, arrangement, restart, sink_latency,
#                                          nexmark, nexmark_generator)
#
# Runs every benchmark in benchmarks/ (cargo bench targets with harness = false); each
# starts what it needs on 127.0.0.1 itself (an in-process Sluice server, the tansu
# Kafka broker, a throwaway PostgreSQL 15). Their Markdown tables go to stdout and,
# with the date, git commit, machine and this command, are appended to
# docs/benchmarks.md (SLUICE_BENCH_RECORD=0: not appended).
#
# Built with the dev profile (`--profile dev`, dependencies at opt-level 1), which
# shares the cached build of the tests: the release profile is a ~20-minute cold build
# of the whole stack on 2 cores. Other settings: SLUICE_BENCH_EVENTS,
# SLUICE_BENCH_ROWS, SLUICE_BENCH_CHANGES, SLUICE_BENCH_DIR (see docs/benchmarks.md).
cd "$(dirname "$0")/.."
source scripts/env.sh

command_line="$0 $*"
[ "${SLUICE_BENCH_FULL:-}" = 1 ] && command_line="SLUICE_BENCH_FULL=1 $command_line"

profile=(--profile dev)
profile_name="dev profile (dependencies at opt-level 1, Sluice at opt-level 0)"
if [ "${1:-}" = --release ]; then
    profile=()
    profile_name="release profile"
    shift
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(--bench view_change_cost --bench window_state --bench top_n_state --bench join_state --bench temporal_state --bench over_window_state --bench predict --bench arrangement --bench restart --bench sink_latency --bench nexmark --bench nexmark_generator)
fi

# What the benchmarks start: the Kafka broker, ONNX Runtime and the PREDICT models,
# the PostgreSQL 15 server.
install_test_tools

# Views on one worker per core, as the server runs them by default (the tests'
# harness, which the benchmarks share, would run them on 4).
SLUICE_TEST_VIEW_WORKERS="${SLUICE_TEST_VIEW_WORKERS:-$(nproc)}"
export SLUICE_TEST_VIEW_WORKERS

step "building the benchmarks" "the cargo messages above say what failed"
cargo bench "${profile[@]}" --no-run "${targets[@]}"
step "running the benchmarks" "the benchmark's messages above say what failed"
output="$(mktemp)"
trap 'rm -f "$output"' EXIT
started=$(date +%s)
cargo bench "${profile[@]}" "${targets[@]}" | tee "$output"
elapsed=$(( $(date +%s) - started ))

if [ "${SLUICE_BENCH_RECORD:-1}" != 0 ]; then
    commit="$(git rev-parse --short HEAD)"
    git diff --quiet HEAD -- src benchmarks Cargo.toml Cargo.lock || commit="$commit (with uncommitted changes)"
    cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    {
        echo
        echo "### Run of $(date -u +%Y-%m-%d), commit $commit"
        echo
        echo "\`$command_line\` — $profile_name; $(nproc) cores ($cpu), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM;"
        echo "$elapsed s for the runs after the build."
        echo
        sed 's/^## /#### /' "$output"
    } >> docs/benchmarks.md
    echo "appended to docs/benchmarks.md" >&2
fi
