#!/usr/bin/env bash
# Creates (or reuses) the private Python virtualenv the interop tests load exported checkpoints with.
# Offline: installs torch (CPU), safetensors and transformers from the local wheelhouse only.
#   scripts/interop-venv.sh [VENV_DIR]      (default: node_modules/.cache/mcore-interop-venv)
# Prints the venv's python path on the last line. Never used by the product itself.
set -euo pipefail
venv="${1:-node_modules/.cache/mcore-interop-venv}"
probe='import torch, safetensors, transformers'
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$probe" 2>/dev/null; then
  echo "$venv/bin/python"; exit 0
fi
command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 3; }
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  --index-url file:///opt/pypi/simple --extra-index-url file:///opt/pypi-more/simple --find-links /opt/wheels \
  torch safetensors transformers
"$venv/bin/python" -c "$probe"
echo "$venv/bin/python"
