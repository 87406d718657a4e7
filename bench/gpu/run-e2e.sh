#!/usr/bin/env bash
# End-to-end export of a generated >= 10 GB Llama checkpoint on the GPU machine, files → files:
#   bench/gpu/run-e2e.sh OUT_DIR "cpu cuda [cuda:0,1]" [LAYERS]
# Generates the checkpoint into /tmp (legacy torch format, TP1: one ~10 GB torch.save zip), measures the I/O
# bound (read every source byte and write as many to the same disk, fsync'ed), then runs `mcore-export trtllm`
# for each device with --dtype bfloat16 (copies) and --dtype float32 (casts), checks that every device wrote
# the same bytes (cmp against the CPU's output), and writes OUT_DIR/e2e.json.
set -u -o pipefail
OUT=$1
DEVICES=${2:-"cpu cuda"}
LAYERS=${3:-19}
W=/tmp/e2e
rm -rf "$W" && mkdir -p "$W"
CK=$W/ckpt
now() { date +%s.%N; }
el() { python3 -c "print(round($2 - $1, 3))"; }
df -h /tmp | tee "$OUT/df.txt"
t0=$(now)
node dist-bench/tools/generate/cli.js --out "$CK" --family llama --format torch --layers "$LAYERS" --hidden 4096 --ffn 14336 \
  --heads 32 --groups 8 --vocab 128256 --tp 1 --pp 1 --dtype bf16 --no-digests > "$OUT/gen.json" || exit 1
sync
echo "generated in $(el $t0 $(now)) s: $(cat "$OUT/gen.json")"
SRC_BYTES=$(du -sb "$CK" | cut -f1)
# page cache: the checkpoint was just written, so reads come from memory in every run below (warm), as in the
# I/O bound; drop_caches is tried for a cold read too
t0=$(now); cat $(find "$CK" -type f) > "$W/io.bin"; sync; IO_S=$(el $t0 $(now)); rm -f "$W/io.bin"
t0=$(now); cat $(find "$CK" -type f) > /dev/null; READ_S=$(el $t0 $(now))
echo "{\"source_bytes\": $SRC_BYTES, \"io_copy_fsync_s\": $IO_S, \"read_only_s\": $READ_S}" > "$OUT/iobound.json"
cat "$OUT/iobound.json"
RESULTS=()
for dtype in bfloat16 float32; do
  for dev in $DEVICES; do
    tag=$(echo "$dev" | tr ':,' '__')
    dst=$W/out-$dtype-$tag
    t0=$(now)
    node bin/mcore-export.js trtllm "$CK" --out "$dst" --dtype "$dtype" --device "$dev" --json > "$OUT/e2e-$dtype-$tag.json" 2> "$OUT/e2e-$dtype-$tag.err"
    rc=$?
    wall=$(el $t0 $(now))
    same=null
    if [ "$dev" != cpu ] && [ -d "$W/out-$dtype-cpu" ]; then
      if cmp -s "$dst/rank0.safetensors" "$W/out-$dtype-cpu/rank0.safetensors" && cmp -s "$dst/config.json" "$W/out-$dtype-cpu/config.json"; then same=true; else same=false; fi
      rm -rf "$dst"
    fi
    bytes=$(python3 -c "import json;print(json.load(open('$OUT/e2e-$dtype-$tag.json'))['bytes'])" 2>/dev/null || echo 0)
    echo "$dtype $dev rc=$rc wall=${wall}s bytes=$bytes identical_to_cpu=$same"
    RESULTS+=("{\"dtype\": \"$dtype\", \"device\": \"$dev\", \"rc\": $rc, \"wall_s\": $wall, \"out_bytes\": $bytes, \"identical_to_cpu\": $same}")
  done
  rm -rf "$W"/out-$dtype-cpu
done
(IFS=,; echo "{\"source_bytes\": $SRC_BYTES, \"io_copy_fsync_s\": $IO_S, \"read_only_s\": $READ_S, \"runs\": [${RESULTS[*]}]}") > "$OUT/e2e.json"
cat "$OUT/e2e.json"
