#!/usr/bin/env bash
# Builds Sluice and starts it with embedded defaults: Postgres protocol on
# 127.0.0.1:6875, data in ./sluice-data, ONNX Runtime and demo models for PREDICT
# (docs/ml.md). Extra arguments go to `sluice serve` (see `sluice serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# --all-targets: the same dependency features as the test build, so one cached
# build serves both the server and the tests.
cargo build --all-targets
# ONNX Runtime for PREDICT, and small demo models in ./demo-models (docs/ml.md).
SLUICE_ONNXRUNTIME="$(scripts/install-ml.sh)"
export SLUICE_ONNXRUNTIME
if [ ! -d demo-models ]; then
    cp -r "$(scripts/test-models.sh)" demo-models
fi
exec "$CARGO_TARGET_DIR/debug/sluice" serve "$@"
