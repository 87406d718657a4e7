#!/usr/bin/env bash
# On a GPU machine: the default multi-architecture CUDA build runs on this GPU and matches the CPU (quick GPU
# checks), and a build without code for this GPU (sm_80 machine code only, no PTX: sm_80 SASS does not run on
# sm_90 or later) refuses --device cuda with E_DEVICE naming the GPU's compute capability, writing nothing.
#   bash test/gpu/check-architectures.sh OUT_DIR        (from the repository root, after npm install)
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:?usage: check-architectures.sh OUT_DIR}
mkdir -p "$OUT"
npx tsc -p tsconfig.build.json
npx cmake-js configure --out build-arch-default --CDMCORE_CUDA=ON > "$OUT/build-default.log" 2>&1
CMAKE_BUILD_PARALLEL_LEVEL=16 npx cmake-js build --out build-arch-default >> "$OUT/build-default.log" 2>&1
npx cmake-js configure --out build-arch-80 --CDMCORE_CUDA=ON --CDCMAKE_CUDA_ARCHITECTURES=80-real > "$OUT/build-80.log" 2>&1
CMAKE_BUILD_PARALLEL_LEVEL=16 npx cmake-js build --out build-arch-80 >> "$OUT/build-80.log" 2>&1
nvidia-smi --query-gpu=name,compute_cap --format=csv | tee "$OUT/gpu.txt"

export MCORE_EXPORT_ADDON=$PWD/build-arch-default/Release/mcore_export.node
node bin/mcore-export.js features --json | tee "$OUT/features-default.json"
node test/gpu/run-gpu-checks.mjs test/fixtures/classic "$OUT/checks-default" --quick > "$OUT/checks-default.txt" 2>&1 \
  && echo "default build: GPU checks passed" || { echo "default build: GPU checks FAILED (see $OUT/checks-default.txt)"; exit 1; }

export MCORE_EXPORT_ADDON=$PWD/build-arch-80/Release/mcore_export.node
node bin/mcore-export.js features --json | tee "$OUT/features-80.json"
rm -rf "$OUT/e80"
set +e
node bin/mcore-export.js trtllm assets/tiny-llama --out "$OUT/e80" --device cuda --json > "$OUT/e80.json" 2> "$OUT/e80.err"
rc=$?
set -e
cat "$OUT/e80.err"
if [[ $rc -eq 1 ]] && grep -q 'E_DEVICE' "$OUT/e80.err" && grep -q 'compute capability' "$OUT/e80.err" && ! ls "$OUT/e80"/*.safetensors > /dev/null 2>&1; then
  echo "sm_80-only build on this GPU: E_DEVICE naming the compute capability, nothing written: OK"
else
  echo "sm_80-only build on this GPU: expected E_DEVICE naming the compute capability (exit $rc)"; exit 1
fi
