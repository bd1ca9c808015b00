#!/usr/bin/env bash
# Generates the ONNX models the PREDICT tests and benchmark use (and Python
# onnxruntime's outputs for them) with scripts/gen_test_models.py, into the cache.
# Regenerates when the script changes. Prints the directory.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/install-ml.sh >/dev/null
stamp=$(sha256sum scripts/gen_test_models.py | cut -c1-16)
dir="$SLUICE_CACHE/test-models/$stamp"
if [ ! -f "$dir/references.json" ]; then
    rm -rf "$dir.tmp"
    "$SLUICE_CACHE/ml-venv/bin/python" scripts/gen_test_models.py "$dir.tmp" >&2
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
fi
echo "$dir"
