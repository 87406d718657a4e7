#!/usr/bin/env bash
# valgrind memcheck over small real exports through the CLI (the addon in build/Release, dist/ from
# npm run build:ts): trtllm at TP 2 with a dtype cast, then verify, on a legacy and a torch_dist fixture.
#
#   scripts/valgrind-export.sh [fixture-dir ...]      # exit 0 = no memcheck error in our code, exports correct
#
# Node runs with --jitless (V8's generated code confuses memcheck). Errors are counted from valgrind's own
# summary; the ones whose stack passes through mcore_export.node are listed and fail the run. Errors only in
# node/V8/libc frames are reported as a number but do not fail it (they are not ours to fix).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
[ -f dist/cli/main.js ] && [ -f build/Release/mcore_export.node ] || { echo "needs dist/ and build/Release (npm run build)" >&2; exit 2; }
FIX=${MCORE_FIXTURES:-$(pwd)/test/fixtures/classic}
CASES=("$@")
[ ${#CASES[@]} -gt 0 ] || CASES=("$FIX/megatron/llama/torch/tp2pp1" "$FIX/megatron/mixtral/torch_dist/tp1pp1")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
status=0
for ck in "${CASES[@]}"; do
  name=$(echo "$ck" | tr / _)
  for step in trtllm verify; do
    log=$WORK/$name.$step.log
    if [ $step = trtllm ]; then args=(trtllm "$ck" --out "$WORK/$name.out" --tp 2 --dtype float32 --threads 2); else args=(verify "$WORK/$name.out"); fi
    echo "== valgrind node ${args[*]}"
    set +e
    valgrind --tool=memcheck --error-exitcode=0 --num-callers=40 --track-origins=no --leak-check=no \
      --log-file="$log" node --jitless bin/mcore-export.js "${args[@]}" >"$WORK/stdout" 2>"$WORK/stderr"
    rc=$?
    set -e
    summary=$(grep -E 'ERROR SUMMARY' "$log" | tail -1 | sed 's/^==[0-9]*== //')
    ours=$(awk '/^==[0-9]+== [A-Z].*(Invalid|uninitialised|Mismatched|overlap|Syscall param)/{blk=$0; keep=0; next} blk!="" && /mcore_export\.node/{keep=1} blk!="" && /^==[0-9]+== $/{if(keep) print blk; blk=""}' "$log" | sort | uniq -c)
    echo "   exit $rc; $summary"
    if [ $rc -ne 0 ]; then echo "   the command failed:"; tail -5 "$WORK/stderr"; status=1; fi
    if [ -n "$ours" ]; then echo "   errors with mcore_export.node on the stack:"; echo "$ours"; cp "$log" "./valgrind-$name.$step.log"; status=1; fi
  done
done
[ $status -eq 0 ] && echo "== memcheck: no errors in mcore_export.node"
exit $status
