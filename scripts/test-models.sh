#!/usr/bin/env bash
# Generates the ONNX models the PREDICT tests and benchmark use (and Python
# onnxruntime's outputs for them) with scripts/gen_test_models.py, into the cache.
# Regenerates when the script changes. Prints the directory on stdout.
cd "$(dirname "$0")/.."
source scripts/env.sh
step "installing ONNX Runtime (for the model generator)" "rerun scripts/install-ml.sh alone to see why it fails"
scripts/install-ml.sh >/dev/null
stamp=$(sha256sum scripts/gen_test_models.py | cut -c1-16)
dir="$SLUICE_CACHE/test-models/$stamp"
if [ ! -f "$dir/references.json" ]; then
    step "generating the test models (scripts/gen_test_models.py)" \
        "run $SLUICE_CACHE/ml-venv/bin/python scripts/gen_test_models.py /tmp/models to see the Python error"
    mkdir -p "$(dirname "$dir")"
    rm -rf "$dir.tmp"
    "$SLUICE_CACHE/ml-venv/bin/python" scripts/gen_test_models.py "$dir.tmp" >&2
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
fi
echo "$dir"
