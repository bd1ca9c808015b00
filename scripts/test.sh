#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need, then
# formatting, lints (warnings are errors) and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

need_command psql postgresql-client
# The Kafka-protocol broker the source tests start on 127.0.0.1.
SLUICE_TANSU="$(scripts/install-tansu.sh)"
export SLUICE_TANSU
# ONNX Runtime and the Python packages that make the PREDICT tests' models.
SLUICE_ONNXRUNTIME="$(scripts/install-ml.sh)"
export SLUICE_ONNXRUNTIME
SLUICE_TEST_MODELS="$(scripts/test-models.sh)"
export SLUICE_TEST_MODELS
# The PostgreSQL 15 server: tests/postgres_oracle.rs checks views against it.
need_file /usr/lib/postgresql/15/bin/postgres postgresql-15

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
echo "== cargo test"
cargo test --all-targets -- --test-threads="${SLUICE_TEST_THREADS:-4}"
