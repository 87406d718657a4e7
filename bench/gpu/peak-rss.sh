#!/usr/bin/env bash
# Peak resident memory of `mcore-export trtllm --device cuda` beside the CPU path, on a generated >= 10 GB Llama
# checkpoint (issue 15: the CUDA path must stay bounded like the CPU path, <= 1.5 GiB). One command on the GPU
# machine, from the repository root:
#   OUT=/some/dir bash bench/gpu/peak-rss.sh [LAYERS]
# Builds what it needs (the TypeScript, the generator, the CUDA addon when the current one has no CUDA),
# generates the checkpoint into /tmp, runs each configuration as a child of a small Python harness that reads
# the child's peak RSS (getrusage RUSAGE_CHILDREN ru_maxrss), checks every output is byte-identical to the CPU
# one, and writes the raw results to $OUT/peak-rss.json.
set -u -o pipefail
OUT=${OUT:?set OUT to a directory for the results}
LAYERS=${1:-19}
mkdir -p "$OUT"
W=/tmp/mcore-peak-rss
rm -rf "$W" && mkdir -p "$W"
npm run build:ts > "$OUT/build.log" 2>&1 || { cat "$OUT/build.log"; exit 1; }
npx tsc -p tsconfig.bench.json >> "$OUT/build.log" 2>&1 || { cat "$OUT/build.log"; exit 1; }
if ! node bin/mcore-export.js features --json 2>/dev/null | grep -q '"cuda": *true'; then
  npm run build:native >> "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
fi
node bin/mcore-export.js features > "$OUT/features.txt" 2>&1
nvidia-smi --query-gpu=name,memory.total --format=csv > "$OUT/gpu.txt" 2>&1
CK=$W/ckpt
node dist-bench/tools/generate/cli.js --out "$CK" --family llama --format torch --layers "$LAYERS" --hidden 4096 --ffn 14336 \
  --heads 32 --groups 8 --vocab 128256 --tp 1 --pp 1 --dtype bf16 --no-digests > "$OUT/gen.json" || exit 1
sync
python3 - "$CK" "$W" "$OUT" "$LAYERS" <<'PY'
import json, os, resource, subprocess, sys, time, filecmp
ckpt, work, out, layers = sys.argv[1:5]
src_bytes = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(ckpt) for f in fs)
runs = [
    ("cpu", "cpu", []),
    ("cuda", "cuda", []),
    ("cpu --max-buffer 256MiB", "cpu", ["--max-buffer", "256MiB"]),
    ("cuda --max-buffer 256MiB", "cuda", ["--max-buffer", "256MiB"]),
]
results = []
ref = os.path.join(work, "out-cpu")
for name, device, extra in runs:
    # each run in a fresh child of a fresh harness process, so RUSAGE_CHILDREN's maximum is this run's alone
    dst = ref if name == "cpu" else os.path.join(work, "out")
    cmd = ["node", "bin/mcore-export.js", "trtllm", ckpt, "--out", dst, "--dtype", "bfloat16", "--device", device, "--json", *extra]
    probe = ("import resource, subprocess, sys, json, time\n"
             "t = time.time(); p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
             "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
             "print(json.dumps({'rc': p.returncode, 'wall_s': round(time.time() - t, 3), 'peak_rss_kib': ru.ru_maxrss, 'stderr_tail': p.stderr[-2000:], 'stdout_tail': p.stdout[-2000:]}))\n")
    r = json.loads(subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, check=True).stdout)
    r.update(name=name, device=device, args=extra, peak_rss_gib=round(r["peak_rss_kib"] / 2**20, 3))
    if dst != ref:  # compared with the CPU's output, then removed (the disk holds one checkpoint and two outputs)
        if r["rc"] == 0 and os.path.isdir(ref):
            r["identical_to_cpu"] = all(filecmp.cmp(os.path.join(ref, f), os.path.join(dst, f), shallow=False) for f in os.listdir(ref))
        subprocess.run(["rm", "-rf", dst])
    results.append(r)
    print(f"{name}: rc={r['rc']} wall={r['wall_s']} s peak RSS={r['peak_rss_gib']} GiB identical_to_cpu={r.get('identical_to_cpu')}", flush=True)
report = {"source_bytes": src_bytes, "layers": int(layers), "runs": results,
          "gpu": open(os.path.join(out, "gpu.txt")).read().strip(), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
json.dump(report, open(os.path.join(out, "peak-rss.json"), "w"), indent=2)
print(json.dumps({k: v for k, v in report.items() if k != "runs"}))
PY
rc=$?
rm -rf "$W"
exit $rc
