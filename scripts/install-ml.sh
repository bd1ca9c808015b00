#!/usr/bin/env bash
# Installs what PREDICT and its tests need, in a venv under the cache: ONNX Runtime
# (the PyPI wheel onnxruntime==1.31.1 ships libonnxruntime.so.1.31.1, which Sluice
# loads at run time) and the Python packages that generate the test models
# (onnx, scikit-learn, skl2onnx). Idempotent; prints the library's path.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
venv="$SLUICE_CACHE/ml-venv"
find_library() {
    find "$venv" -name 'libonnxruntime.so.1.31.1' -type f 2>/dev/null | head -n 1
}
library=$(find_library)
if [ -z "$library" ] || ! "$venv/bin/python" -c "import onnx, sklearn, skl2onnx" 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet onnxruntime==1.31.1 onnx==1.23.2 \
        scikit-learn==1.9.1 skl2onnx==1.20.0 numpy==2.4.6 >&2
    library=$(find_library)
    if [ -z "$library" ]; then
        echo "libonnxruntime.so.1.31.1 not found in the onnxruntime wheel" >&2
        exit 1
    fi
fi
echo "$library"
