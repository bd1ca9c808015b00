#!/usr/bin/env bash
# Installs what PREDICT and its tests need, in a venv under the cache: ONNX Runtime
# (the PyPI wheel onnxruntime==1.31.1 ships libonnxruntime.so.1.31.1, which Sluice
# loads at run time) and the Python packages that generate the test models
# (onnx, scikit-learn, skl2onnx). Idempotent; prints the library's path on stdout,
# progress and errors on stderr.
cd "$(dirname "$0")/.."
source scripts/env.sh
venv="$SLUICE_CACHE/ml-venv"
library_glob="$venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.1.31.1"

# The installed library's path, or nothing when the venv is missing or incomplete.
find_library() {
    local candidate
    for candidate in $library_glob; do
        if [ -f "$candidate" ] && "$venv/bin/python" -c "import onnx, sklearn, skl2onnx" 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
}

library=$(find_library)
if [ -z "$library" ]; then
    step "installing ONNX Runtime 1.31.1 and the model tools (PyPI, ~1 minute)" \
        "check that PyPI is reachable (pip download --no-deps onnxruntime==1.31.1) and that python3-venv works"
    make_venv "$venv" onnxruntime==1.31.1 onnx==1.23.2 scikit-learn==1.9.1 \
        skl2onnx==1.20.0 numpy==2.4.6
    step "finding libonnxruntime.so.1.31.1 in the installed wheel" \
        "the onnxruntime wheel's layout changed: look under $venv for libonnxruntime.so*"
    library=$(find_library)
    [ -n "$library" ]
fi
echo "$library"
