#!/usr/bin/env bash
# Quantized exports (issue 14) on the GPU machine, in one command:
#   bench/gpu/run-quant.sh OUT_DIR [LAYERS] [DEVICES]        (defaults: 19 layers ≈ 10.4 GB bf16, "cpu cuda")
# 1. test/gpu/quantize-checks.mjs: CUDA bytes == CPU bytes (random plans, a large weight, fixture exports)
# 2. generates a Llama-3-8B-shaped bf16 checkpoint (legacy torch, TP1) into /tmp, as bench/gpu/run-e2e.sh does
# 3. the I/O bound: every source byte read (warm, as the exports read it) and the output's bytes written + fsync'ed
#    (a copy of source bytes of the same size), timed separately: io_bound_s = read_s + write_s(out_bytes)
# 4. each scheme (hf int8-weight-only, hf int4-weight-only g128, hf fp8-block, trtllm fp8-per-channel) on each
#    device (cpu with 16 threads, cuda): wall time and peak RSS (getrusage of the child), outputs compared
#    byte for byte with the CPU's; OUT_DIR/quant-bench.json holds everything, a table is printed last.
# Needs in the working tree: dist/, dist-bench/ (npx tsc -p tsconfig.bench.json), the CUDA addon at
# build/Release/mcore_export.node, .device/node.tar.xz (../shared/device/pack-node.sh). DRY=1: tiny model, CPU only.
# PHASE=checks or PHASE=bench runs only step 1 or only steps 2-4 (two commands if one would pass 10 minutes).
set -u -o pipefail
OUT=$(realpath -m "$1")
LAYERS=${2:-19}
DEVICES=${3:-"cpu cuda"}
mkdir -p "$OUT"
if ! command -v node > /dev/null; then
  mkdir -p /tmp/n && tar -C /tmp/n -xJf .device/node.tar.xz && export PATH=/tmp/n:$PATH
fi
(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true) > "$OUT/gpu.txt" 2>&1
nproc > "$OUT/nproc.txt"

PHASE=${PHASE:-all}
if [ "$PHASE" != bench ]; then
  timeout 400 node test/gpu/quantize-checks.mjs test/fixtures/classic "$OUT/checks" ${DRY:+--quick} > "$OUT/checks.txt" 2>&1
  echo "quantize-checks rc=$?" | tee -a "$OUT/summary.txt"
  tail -4 "$OUT/checks.txt"
fi
[ "$PHASE" = checks ] && exit 0

GEN=dist-bench/tools/generate/cli.js
W=/tmp/qbench
rm -rf "$W" && mkdir -p "$W"
CK=$W/ckpt
now() { date +%s.%N; }
el() { python3 -c "print(round($2 - $1, 3))"; }
if [ -n "${DRY:-}" ]; then
  SHAPE=(--layers 2 --hidden 512 --ffn 1536 --heads 8 --groups 2 --vocab 4096)
else
  SHAPE=(--layers "$LAYERS" --hidden 4096 --ffn 14336 --heads 32 --groups 8 --vocab 128256)
fi
node "$GEN" --out "$CK" --family llama --format torch "${SHAPE[@]}" --tp 1 --pp 1 --dtype bf16 --no-digests > "$OUT/gen.json" || exit 1
sync
SRC_BYTES=$(du -sb "$CK" | cut -f1)
t0=$(now); cat $(find "$CK" -type f) > /dev/null; READ_S=$(el $t0 $(now))

# peak RSS and wall time of one export: python3's getrusage(RUSAGE_CHILDREN) after the child ends
measure() {  # measure OUTJSON CMD...
  python3 - "$@" <<'PY'
import json, resource, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t = time.time()
with open(out, "w") as f:
    r = subprocess.run(cmd, stdout=f, stderr=subprocess.PIPE, text=True)
wall = time.time() - t
print(json.dumps({"rc": r.returncode, "wall_s": round(wall, 3), "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1), "stderr_tail": r.stderr[-300:]}))
PY
}

RUNS=()
# SPECS: command:scheme pairs; scheme "none" = a plain (unquantized) export, the I/O-bound copy case
for spec in ${SPECS:-trtllm:none hf:int8-weight-only hf:int4-weight-only hf:fp8-block trtllm:fp8-per-channel}; do
  cmd=${spec%%:*}
  scheme=${spec#*:}
  for dev in $DEVICES; do
    dst=$W/out-$cmd-$scheme-$dev
    extra=(--device "$dev")
    [ "$dev" = cpu ] && extra+=(--threads 16)
    [ "$cmd" = hf ] && extra+=(--dtype bfloat16)
    [ "$scheme" != none ] && extra+=(--quantize "$scheme")
    [ "$cmd" = trtllm ] && [ "$scheme" = none ] && extra+=(--dtype bfloat16)
    m=$(measure "$OUT/run-$cmd-$scheme-$dev.json" timeout 500 node bin/mcore-export.js "$cmd" "$CK" --out "$dst" --json "${extra[@]}")
    out_bytes=$(du -sb "$dst" 2>/dev/null | cut -f1)
    same=null
    if [ "$dev" != cpu ] && [ -d "$W/out-$cmd-$scheme-cpu" ]; then
      same=true
      for f in "$W/out-$cmd-$scheme-cpu"/*; do cmp -s "$f" "$dst/$(basename "$f")" || same=false; done
      rm -rf "$dst"
    fi
    echo "$cmd $scheme $dev: $m out=$out_bytes identical_to_cpu=$same" | tee -a "$OUT/summary.txt"
    RUNS+=("{\"command\": \"$cmd\", \"scheme\": \"$scheme\", \"device\": \"$dev\", \"out_bytes\": ${out_bytes:-0}, \"identical_to_cpu\": $same, \"run\": $m}")
  done
  # the I/O bound for this output size: write as many bytes (copied from the source) and fsync
  ob=$(du -sb "$W/out-$cmd-$scheme-cpu" 2>/dev/null | cut -f1)
  t0=$(now); cat $(find "$CK" -type f) | head -c "${ob:-0}" > "$W/io.bin"; sync; WRITE_S=$(el $t0 $(now)); rm -f "$W/io.bin"
  RUNS+=("{\"command\": \"$cmd\", \"scheme\": \"$scheme\", \"io_bound\": {\"read_s\": $READ_S, \"write_s\": $WRITE_S, \"io_bound_s\": $(python3 -c "print(round($READ_S + $WRITE_S, 3))"), \"out_bytes\": ${ob:-0}}}")
  rm -rf "$W/out-$cmd-$scheme-cpu"
done
(IFS=,; echo "{\"source_bytes\": $SRC_BYTES, \"read_s\": $READ_S, \"generator\": $(cat "$OUT/gen.json" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)))' 2>/dev/null || echo null), \"runs\": [${RUNS[*]}]}") > "$OUT/quant-bench.json"
python3 - "$OUT/quant-bench.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
bound = {(r["command"], r["scheme"]): r["io_bound"]["io_bound_s"] for r in d["runs"] if "io_bound" in r}
print(f"source {d['source_bytes'] / 1e9:.2f} GB, warm read {d['read_s']} s")
print(f"{'export':34} {'device':6} {'wall s':>8} {'% of I/O bound':>15} {'peak RSS MiB':>13} {'same as cpu':>12}")
for r in d["runs"]:
    if "run" not in r:
        continue
    b = bound.get((r["command"], r["scheme"]))
    pct = f"{100 * b / r['run']['wall_s']:.0f}%" if b and r["run"]["wall_s"] > 0 else "-"
    print(f"{r['command'] + ' ' + r['scheme']:34} {r['device']:6} {r['run']['wall_s']:>8} {pct:>15} {r['run']['peak_rss_mib']:>13} {str(r['identical_to_cpu']):>12}")
PY
rm -rf "$W"
