#!/usr/bin/env bash
# One GPU-machine session for the work of 2026-12-04 (issues 12-18), from the repository root:
#   PHASE=checks bash bench/gpu/run-session.sh OUT_DIR     then     PHASE=bench bash bench/gpu/run-session.sh OUT_DIR
# Needs .device/node.tar.xz (../shared/device/pack-node.sh; a stripped node keeps the carried tree under 64 MiB)
# and .device/pkg.tar.xz: dist/, dist-bench/ and build/Release/mcore_export.node (CUDA), made on the development
# machine by bench/gpu/pack-session.sh. checks: the GPU correctness checks (test/gpu/run-gpu-checks.mjs on the
# classic and the modern fixtures, test/gpu/quantize-checks.mjs, FP8 (--fp8) exports on cuda equal to Megatron's
# reference bytes). bench: bench/gpu/run-quant.sh on a generated 10.4 GB bf16 checkpoint (plain export and every
# quantized format, cpu vs cuda, peak RSS, I/O bound). Results under OUT_DIR, a table printed last.
set -u -o pipefail
OUT=$(realpath -m "$1")
mkdir -p "$OUT"
if [ ! -x /tmp/n/node ]; then mkdir -p /tmp/n && tar -C /tmp/n -xJf .device/node.tar.xz && { [ -x /tmp/n/node ] || mv /tmp/n/node-s /tmp/n/node; }; fi
export PATH=/tmp/n:$PATH
tar -xJf .device/pkg.tar.xz
node bin/mcore-export.js features > "$OUT/features.txt" 2>&1; cat "$OUT/features.txt"
case "${PHASE:-checks}" in
  checks)
    timeout 240 node test/gpu/run-gpu-checks.mjs test/fixtures/classic "$OUT/classic" > "$OUT/classic.txt" 2>&1; echo "gpu-checks classic rc=$?" | tee -a "$OUT/summary.txt"
    timeout 120 node test/gpu/run-gpu-checks.mjs test/fixtures/modern "$OUT/modern" --sections fixtures > "$OUT/modern.txt" 2>&1; echo "gpu-checks modern rc=$?" | tee -a "$OUT/summary.txt"
    timeout 200 node test/gpu/quantize-checks.mjs test/fixtures/classic "$OUT/quant" > "$OUT/quant.txt" 2>&1; echo "quantize-checks rc=$?" | tee -a "$OUT/summary.txt"
    # --fp8 on cuda: Megatron's FP8 reference bytes (test/fixtures-fp8/reference; --megatron-compat as the parity test)
    fp8ok=0; fp8bad=0
    for ref in test/fixtures-fp8/reference/*/tp*; do
      model=$(basename "$(dirname "$ref")"); name=$(basename "$ref")
      tp=$(echo "$name" | sed -E 's/^tp([0-9]+)_pp([0-9]+)_([a-z0-9]+).*/\1/'); pp=$(echo "$name" | sed -E 's/^tp([0-9]+)_pp([0-9]+)_.*/\2/')
      dtype=$(echo "$name" | sed -E 's/^tp[0-9]+_pp[0-9]+_([a-z0-9]+).*/\1/'); kv=(); case "$name" in *kvcache*) kv=(--fp8-kv-cache) ;; esac
      mt=$(case $model in gpt2) echo gpt ;; *) echo "$model" ;; esac)
      dst=/tmp/fp8-$model-$name
      node bin/mcore-export.js trtllm "test/fixtures-fp8/megatron/$model/te2/torch/tp1pp1" --model-type "$mt" --out "$dst" --tp "$tp" --pp "$pp" \
        --dtype "$dtype" --fp8 "${kv[@]}" --megatron-compat --device cuda --force --json > /dev/null 2>> "$OUT/fp8.txt"
      same=true; for f in "$ref"/*; do cmp -s "$f" "$dst/$(basename "$f")" || same=false; done
      echo "fp8 $model/$name cuda==megatron: $same" >> "$OUT/fp8.txt"; if $same; then fp8ok=$((fp8ok+1)); else fp8bad=$((fp8bad+1)); fi
      rm -rf "$dst"
    done
    echo "fp8 cuda vs Megatron reference: $fp8ok identical, $fp8bad different" | tee -a "$OUT/summary.txt"
    for f in classic modern quant; do tail -3 "$OUT/$f.txt"; done
    ;;
  bench)
    PHASE=bench bash bench/gpu/run-quant.sh "$OUT/bench" "${LAYERS:-19}" "cpu cuda"
    ;;
esac
cat "$OUT/summary.txt" 2>/dev/null
