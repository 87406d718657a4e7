#!/bin/sh
# Issue 13 throughput check: a generated DeepSeek-shaped MoE checkpoint (MLA with q compression, 1 dense layer then
# MoE layers with 64 routed + shared SwiGLU experts, sigmoid router with fp32 expert bias; legacy torch format)
# exported to Hugging Face format (DeepseekV3ForCausalLM) by the real CLI, against the same run's dd I/O bound,
# with the child's peak memory (bench/export.ts), then the overlapped read+write bound (bench/iobound.sh).
#
#   sh bench/modern-moe.sh WORK_DIR [big|small] [TP]      # big ≈ 11.5 GB (DeepSeek-V2-Lite widths, 10 layers), small ≈ 0.3 GB
#
# Prints JSON lines (generator, export runs, I/O bound) and appends them to bench/results/modern-moe-<size>.jsonl.
# Needs free disk ≈ 3 × the checkpoint (input, HF output, the dd copy). Root drops the page cache between phases.
set -eu
work=$1
size=${2:-small}
tp=${3:-1}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
[ -f dist-bench/tools/generate/cli.js ] || npx tsc -p tsconfig.bench.json
if [ "$size" = big ]; then
  dims="--layers 10 --hidden 2048 --ffn 10944 --heads 16 --vocab 102400 --experts 64 --topk 6 --moe-ffn 1408 --shared-ffn 2816 --first-dense 1 --q-lora 768 --kv-lora 512 --qk-head 128 --qk-rope 64 --v-head 128"
else
  dims="--layers 4 --hidden 512 --ffn 2048 --heads 8 --vocab 32000 --experts 32 --topk 4 --moe-ffn 512 --shared-ffn 1024 --first-dense 1 --q-lora 256 --kv-lora 128 --qk-head 64 --qk-rope 32 --v-head 64"
fi
ckpt="$work/deepseek-$size-tp$tp"
out="$work/out-$size"
results="bench/results/modern-moe-$size.jsonl"
mkdir -p "$work" bench/results
# shellcheck disable=SC2086
node dist-bench/tools/generate/cli.js --out "$ckpt" --family deepseek --format torch --tp "$tp" --dtype bf16 --no-digests --overwrite $dims | tee -a "$results"
drop=""
if [ "$(id -u)" = 0 ]; then drop=--drop-caches; fi
node dist-bench/bench/export.js --ckpt "$ckpt" --out "$out" --command hf --dtype bfloat16 --repeat 2 --json $drop | tr -d '\n' | tee -a "$results"
echo | tee -a "$results"
if [ "$(id -u)" = 0 ]; then
  iter=$(find "$ckpt" -maxdepth 1 -name 'iter_*' | head -1)
  sh bench/iobound.sh "$iter" "$out/iobound" 1 | tee -a "$results"
fi
