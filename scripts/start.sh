#!/usr/bin/env bash
# Builds Sluice (the optimized release profile) and starts it with embedded defaults:
# Postgres protocol on 127.0.0.1:6875, data in ./sluice-data, the built-in Nexmark and
# datagen generators (no Kafka needed), ONNX Runtime and demo models in ./demo-models
# for PREDICT (docs/ml.md). Extra arguments go to `sluice serve` (see
# `sluice serve --help`), e.g. `--listen 127.0.0.1:7000 --data-dir /tmp/d`.
cd "$(dirname "$0")/.."
source scripts/env.sh

if [ -x "$CARGO_TARGET_DIR/release/sluice" ]; then
    step "building Sluice (release profile; after an edit about a minute, otherwise seconds)" \
        "the cargo messages above say what failed; 'cargo --version' must work (Rust 1.95)"
else
    step "building Sluice (first build: about 25 minutes on 2 cores, cached in $CARGO_TARGET_DIR)" \
        "the cargo messages above say what failed; 'cargo --version' must work (Rust 1.95) and crates.io must be reachable"
fi
cargo build --release --bin sluice

step "installing ONNX Runtime (for PREDICT)" "rerun scripts/install-ml.sh alone to see why it fails"
SLUICE_ONNXRUNTIME="$(scripts/install-ml.sh)"
export SLUICE_ONNXRUNTIME

if [ ! -d demo-models ]; then
    step "generating demo models into ./demo-models" "rerun scripts/test-models.sh alone to see why it fails"
    models="$(scripts/test-models.sh)"
    rm -rf demo-models.tmp
    cp -r "$models" demo-models.tmp
    mv demo-models.tmp demo-models
fi

step "starting Sluice" "read the server's messages above; another server may already use the port or the data directory"
exec "$CARGO_TARGET_DIR/release/sluice" serve "$@"
