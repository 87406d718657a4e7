#!/usr/bin/env bash
# Refresh the repository's copy of the fixture sets from ../shared (the data is never edited, only copied).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${1:-../shared}
for pair in "fixtures:classic" "fixtures-modern:modern"; do
  src="$SHARED/${pair%%:*}"; dst="test/fixtures/${pair##*:}"
  [ -d "$src" ] || { echo "no $src" >&2; exit 1; }
  rm -rf "$dst"; cp -R "$src" "$dst"; chmod -R u+w "$dst"
  echo "copied $src -> $dst ($(du -sh "$dst" | cut -f1))"
done
