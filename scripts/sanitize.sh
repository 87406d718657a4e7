#!/usr/bin/env bash
# Builds the native addon (CPU part) with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/, then
# runs against it: the native test suite, the crash-safety/determinism tests and a fuzz subset (default 1,000
# inputs; FUZZ_COUNT=N to change, FUZZ_COUNT=0 to skip).
#
#   npm run build:ts && scripts/sanitize.sh            # exit 0 = no sanitizer report, all tests passed
#
# How: the sources are compiled directly with g++ (same flags and defines as CMakeLists.txt's CPU build, plus
# -fsanitize; -O1 -g for usable reports). The tests run in build-asan/tree/, a copy of the package whose
# build/Release/ holds the sanitized addon (lib/native.ts looks for the addon beside the code, so the working
# tree's own build is never touched). Node itself is not instrumented: libasan/libubsan are LD_PRELOADed so their
# allocator is first; leak detection is off (V8's heap is not ours to judge). Any report aborts the process
# (halt_on_error, -fno-sanitize-recover) and is also looked for in the logs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/build-asan
JOBS=${JOBS:-2}
FUZZ_COUNT=${FUZZ_COUNT:-1000}
[ -f dist/cli/main.js ] || { echo "dist/ is missing: run npm run build:ts first" >&2; exit 2; }

mkdir -p "$OUT/obj"
FLAGS=(-std=c++17 -fPIC -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  -fno-fast-math -ffp-contract=off -fvisibility=hidden -Wall -Wextra
  -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED "-DMCORE_VERSION=\"$(node -p 'require("./package.json").version')\""
  -I node_modules/node-api-headers/include -I node_modules/node-addon-api -I native/src)
echo "== compiling native/src/*.cc with ASan+UBSan ($JOBS jobs; only what changed)"
printf '%s\n' native/src/*.cc | xargs -P "$JOBS" -I{} sh -c '
  out=$0; src=$1; shift; o="$out/obj/$(basename "$src" .cc).o"
  if [ ! "$o" -nt "$src" ] || [ -n "$(find native/src -maxdepth 1 -name "*.h" -newer "$o")" ]; then
    echo "  $src"; g++ "$@" -c "$src" -o "$o" || exit 255
  fi' "$OUT" {} "${FLAGS[@]}"
g++ -shared -fsanitize=address,undefined -o "$OUT/mcore_export.node" "$OUT"/obj/*.o -lpthread
echo "== built $OUT/mcore_export.node"

# a package copy whose addon is the sanitized one
TREE=$OUT/tree
rm -rf "$TREE"
mkdir -p "$TREE/build/Release"
cp -r lib test bench bin dist package.json tsconfig.json vitest.config.ts "$TREE/"
ln -s "$ROOT/node_modules" "$TREE/node_modules"
# tests find the fixtures at <repo>/../shared
[ -e "$ROOT/../shared" ] && ln -sfn "$(cd "$ROOT/../shared" && pwd)" "$OUT/shared"
[ -d assets ] && cp -r assets "$TREE/"
cp "$OUT/mcore_export.node" "$TREE/build/Release/mcore_export.node"

export LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_odr_violation=0:log_path=$OUT/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$OUT/ubsan"
rm -f "$OUT"/asan.* "$OUT"/ubsan.*

status=0
run() {
  echo "== $*"
  if (cd "$TREE" && "$@") >"$OUT/last.log" 2>&1; then :; else status=1; echo "   FAILED (log: $OUT/last.log)"; fi
  grep -E '✓|×|Tests |Test Files|FAIL' "$OUT/last.log" | grep -v '^ *✓.*>.*>' | head -40 || true
}
# check the addon really is the sanitized one before trusting a clean run
(cd "$TREE" && node -e 'import("./dist/native.js").then(m=>{m.loadNative();console.log("addon:",require("fs").realpathSync("build/Release/mcore_export.node"))})') || status=1
grep -q __asan_init < <(nm -D "$TREE/build/Release/mcore_export.node") || { echo "the addon is not instrumented" >&2; exit 1; }

run npx vitest run test/native test/trtllm
run npx vitest run test/reliability/crash-safety.test.ts test/reliability/determinism.test.ts test/reliability/disk-full.test.ts
if [ "$FUZZ_COUNT" -gt 0 ]; then
  MCORE_FUZZ_CI_COUNT=$FUZZ_COUNT run npx vitest run test/fuzz/fuzz-ci.test.ts
fi

reports=$(ls "$OUT"/asan.* "$OUT"/ubsan.* 2>/dev/null || true)
if [ -n "$reports" ]; then
  echo "== sanitizer reports:" >&2
  for f in $reports; do echo "--- $f" >&2; head -40 "$f" >&2; done
  status=1
else
  echo "== no ASan/UBSan reports"
fi
exit $status
