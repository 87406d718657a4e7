#!/usr/bin/env bash
# Megatron-Core's converter on the e2e checkpoint (/tmp/e2e/ckpt, left by run-e2e.sh), CPU and GPU, plus a
# tensor-by-tensor comparison of its output with mcore-export's:  bench/gpu/run-megatron.sh OUT_DIR
set -u -o pipefail
OUT=$1
CK=/tmp/e2e/ckpt
for dev in cpu cuda; do
  rm -rf /tmp/meg-$dev
  timeout 240 python3 bench/gpu/megatron_convert.py .megatron "$CK" /tmp/meg-$dev $dev bfloat16 2> "$OUT/megatron-$dev.err" | tee "$OUT/megatron-$dev.json"
  tail -3 "$OUT/megatron-$dev.err" | cut -c1-300
  [ $dev = cpu ] || rm -rf /tmp/meg-$dev
done
rm -rf /tmp/ours
node bin/mcore-export.js trtllm "$CK" --out /tmp/ours --dtype bfloat16 --device cuda --json > "$OUT/ours-for-compare.json"
python3 - "$OUT/compare.json" <<'PY'
import json, sys
from safetensors import safe_open
a = safe_open('/tmp/meg-cpu/rank0.safetensors', 'pt')
b = safe_open('/tmp/ours/rank0.safetensors', 'pt')
ka, kb = set(a.keys()), set(b.keys())
diff = [k for k in sorted(ka & kb) if not (a.get_tensor(k).shape == b.get_tensor(k).shape and a.get_tensor(k).dtype == b.get_tensor(k).dtype and a.get_tensor(k).view(-1).view(__import__('torch').uint8).equal(b.get_tensor(k).view(-1).view(__import__('torch').uint8)))]
r = {"megatron_only": sorted(ka - kb), "ours_only": sorted(kb - ka), "common": len(ka & kb), "different": diff}
json.dump(r, open(sys.argv[1], 'w'), indent=1)
print(json.dumps(r)[:600])
PY
