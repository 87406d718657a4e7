#!/bin/sh
# A tighter I/O bound than bench/export.ts's serial dd copy: for the files of a checkpoint, from a
# cold page cache (root: drops caches before each phase), time
#   read   - every input file read once (dd bs=16M to /dev/null),
#   write  - the same number of bytes written once (dd bs=16M from /dev/zero to SCRATCH, then sync -f),
#   both   - the two at the same time (what an export that overlaps its reads and writes is bounded by).
# A serial dd copy (read a block, then write it) cannot overlap them, so an export can beat it; it cannot beat
# `both`. Prints one JSON object per run. WRITE_BYTES (default: the input's size) is what the export writes,
# e.g. more than it reads for TP4 when TRT-LLM replicates the embedding on every rank.
#
#   sh bench/iobound.sh CKPT_ITER_DIR SCRATCH_DIR [RUNS] [WRITE_BYTES]
set -eu
dir=$1
scratch=$2
runs=${3:-1}
mkdir -p "$scratch"
files=$(find "$dir" -type f | sort)
bytes=0
for f in $files; do bytes=$((bytes + $(stat -c %s "$f"))); done
write_bytes=${4:-$bytes}
blocks=$(((write_bytes + 16777215) / 16777216))

drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
read_all() { for f in $files; do dd if="$f" of=/dev/null bs=16M status=none; done; }
write_all() { dd if=/dev/zero of="$scratch/iobound-write.tmp" bs=16M count=$blocks status=none; }

i=0
while [ $i -lt "$runs" ]; do
  i=$((i + 1))
  drop; t0=$(now); read_all; t1=$(now)
  read_s=$(secs "$t0" "$t1")
  drop; t0=$(now); write_all; sync -f "$scratch"; t1=$(now)
  write_s=$(secs "$t0" "$t1")
  rm -f "$scratch/iobound-write.tmp"
  drop; t0=$(now); read_all & r=$!; write_all; wait $r; sync -f "$scratch"; t1=$(now)
  both_s=$(secs "$t0" "$t1")
  rm -f "$scratch/iobound-write.tmp"
  echo "{\"dir\":\"$dir\",\"bytes\":$bytes,\"writeBytes\":$((blocks * 16777216)),\"run\":$i,\"readSeconds\":$read_s,\"writeSeconds\":$write_s,\"bothSeconds\":$both_s,\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"at\":\"$(date -u +%FT%TZ)\"}"
done
