#!/usr/bin/env bash
# Creates (or reuses) the private Python virtualenv the interop tests load exported checkpoints with: torch,
# safetensors and transformers. Never used by the product itself.
#   scripts/interop-venv.sh [VENV_DIR]      (default: node_modules/.cache/mcore-interop-venv)
# Where the packages come from is the machine's own pip configuration (`pip config list`: index, find-links,
# proxy, certificates); MCORE_INTEROP_PIP_ARGS adds options, e.g. `--index-url https://download.pytorch.org/whl/cpu`
# for a CPU-only torch. A python3 that already has the three packages is reused (the venv sees its site-packages).
# Prints the venv's python on the last line. Offline or without the packages: one line why, no half-made venv
# left, exit 4 (the tests then skip with that reason).
set -euo pipefail
venv="${1:-node_modules/.cache/mcore-interop-venv}"
probe='import torch, safetensors, transformers'
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$probe" 2>/dev/null; then
  echo "$venv/bin/python"; exit 0
fi
command -v python3 >/dev/null || { echo "interop-venv: python3 not found" >&2; exit 3; }
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
python3 -m venv --system-site-packages "$venv"
if ! "$venv/bin/python" -c "$probe" 2>/dev/null; then
  log="$venv.pip.log"
  # shellcheck disable=SC2086 # MCORE_INTEROP_PIP_ARGS is a list of options
  if ! "$venv/bin/pip" install --disable-pip-version-check --retries 1 --timeout 30 ${MCORE_INTEROP_PIP_ARGS:-} torch safetensors transformers > "$log" 2>&1; then
    echo "interop-venv: pip could not install torch, safetensors and transformers with this machine's pip configuration (offline, or no index has them; see \`pip config list\`): $(grep -E 'ERROR|error' "$log" | tail -1)" >&2
    rm -rf "$venv" "$log"
    exit 4
  fi
  rm -f "$log"
  "$venv/bin/python" -c "$probe"
fi
echo "$venv/bin/python"
