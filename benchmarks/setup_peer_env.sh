#!/usr/bin/env bash
# Builds the peer environment (.peer-venv) that runs the reference implementations vidground is compared with:
# qwen-vl-utils 0.0.14 + decord for frame preparation, transformers' official video processor for pixel values.
# The reference needs torchvision, and PyPI's torchvision does not load beside the product's torch 2.13, so the peer
# gets torch 2.14.1 + torchvision 0.29.1 (a large CUDA build, taken from this machine's disk) in its own venv.
# The product's install never sees any of this. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PEER=${PEER_VENV:-.peer-venv}
if [ -x "$PEER/bin/python" ] && "$PEER/bin/python" -c "import qwen_vl_utils, torchvision, decord, transformers" 2>/dev/null; then
  echo "peer env ready: $PEER"; exit 0
fi
python3 -m venv "$PEER"
"$PEER/bin/pip" install -q --upgrade pip
"$PEER/bin/pip" install -q torch==2.14.1 torchvision==0.29.1 qwen-vl-utils==0.0.14 decord==0.6.0 av==18.1.0 \
  transformers==5.24.0 numpy psutil pillow
echo "peer env ready: $PEER"
