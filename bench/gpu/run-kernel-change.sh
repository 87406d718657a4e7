#!/usr/bin/env bash
# One GPU-machine run for a kernel change, everything at once (the machine is lent for one command):
#   bench/gpu/run-kernel-change.sh OUT_DIR PKG FIXTURES_DIR
# PKG is a tar.xz made on the development machine (nvcc 13, sm_90) holding kernel-bench-old (the committed
# kernels), kernel-bench-hw and kernel-bench-int (the changed kernels with and without the hardware cast fast
# paths) and addon-hw.node / addon-int.node (the CUDA addon, both ways). Node comes from .device/node.tar.xz.
# How PKG was made (all in the ignored build-gpu2/; "old" = the committed kernels.cuh/.cu, cast_core.h, dtype.h
# copied by `git show` into build-gpu2/old/native/src):
#   nvcc -O3 -arch=sm_90 -fmad=false -std=c++17 -I<src> bench/gpu/kernel-bench.cu <src>/cuda/kernels.cu -o kernel-bench-<v>
#     (int: add -DMCORE_CUDA_HW_CASTS=0)
#   npx cmake-js configure --out build-gpu2/addon-<v> --CDMCORE_CUDA=ON [--CDCMAKE_CUDA_FLAGS=-DMCORE_CUDA_HW_CASTS=0]
#   npx cmake-js build --out build-gpu2/addon-<v> --parallel 1
# and was carried with .device, the fixtures (an ignored copy of /work/shared/fixtures) and dist/.
#  1. kernel bench old, hw, int, then old and hw again (before/after on the same card, twice)
#  2. test/gpu/run-gpu-checks.mjs with addon-hw (all sections, 300 random plans), then with addon-int (--quick)
# DRY=1 runs the script logic without a GPU: CPU-only checks, no bench.
set -u -o pipefail
OUT=$1
PKG=$2
FIX=$3
mkdir -p "$OUT" /tmp/kc
tar -C /tmp/kc -xJf "$PKG"
if [ ! -x /tmp/n/node ]; then mkdir -p /tmp/n && tar -C /tmp/n -xJf .device/node.tar.xz; fi
export PATH=/tmp/n:$PATH
(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true) > "$OUT/gpu.txt" 2>&1
if [ -z "${DRY:-}" ]; then
  for v in old hw int old hw; do
    n=$(ls "$OUT"/kb-$v*.json 2>/dev/null | wc -l)
    /tmp/kc/kernel-bench-$v "$OUT/kb-$v-$n.json" > "$OUT/kb-$v-$n.txt" 2>&1
    echo "kernel-bench-$v run $n rc=$?" | tee -a "$OUT/summary.txt"
  done
fi
for v in hw int; do
  args=()
  [ "$v" = int ] && args=(--quick)
  [ -n "${DRY:-}" ] && args=(--quick --sections "${DRY_SECTIONS:-casts,errors}")
  MCORE_EXPORT_ADDON=/tmp/kc/addon-$v.node timeout 200 node test/gpu/run-gpu-checks.mjs "$FIX" "$OUT/checks-$v" "${args[@]}" > "$OUT/checks-$v.txt" 2>&1
  echo "gpu-checks addon-$v rc=$?" | tee -a "$OUT/summary.txt"
  tail -8 "$OUT/checks-$v.txt"
done
for f in "$OUT"/kb-*.txt; do echo "== $f"; cat "$f"; done
cat "$OUT/summary.txt"
