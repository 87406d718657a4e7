#!/usr/bin/env bash
# Builds the addon with CUDA disabled (build-cpu/) and shows that it loads, says cuda: false, and passes the
# native CPU tests — the build for machines without the CUDA toolkit. The default build (build/) is untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
npx cmake-js configure --out build-cpu --CDMCORE_CUDA=OFF >/dev/null
npx cmake-js build --out build-cpu --parallel 2 >/dev/null
export MCORE_EXPORT_ADDON="$PWD/build-cpu/Release/mcore_export.node"
npx tsc -p tsconfig.build.json
report=$(node bin/mcore-export.js features --json)
echo "$report"
node -e 'const f = JSON.parse(process.argv[1]); if (f.cuda !== false) { console.error("CPU-only build reports cuda: " + f.cuda); process.exit(1); }' "$report"
npx vitest run test/native
