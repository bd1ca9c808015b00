#!/usr/bin/env bash
# Benchmarks, as documented in docs/benchmarks.md: the cost of a one-row change in a
# materialized view over 1,000 and 1,000,000 rows (view_change_cost), and the state of
# windowed views over a long stream (window_state). Prints Markdown tables.
# `./scripts/bench.sh` runs both; `./scripts/bench.sh --bench window_state` one.
#
# Built with the dev profile (`--profile dev`), which shares the cached build of the
# tests: `cargo bench`'s default profile is release, a ~20-minute cold build of the
# whole stack. Settings: SLUICE_BENCH_FULL=1, SLUICE_BENCH_ROWS, SLUICE_BENCH_CHANGES,
# SLUICE_BENCH_DIR (see benchmarks/view_change_cost.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
exec cargo bench --profile dev "$@"
