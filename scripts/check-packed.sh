#!/usr/bin/env bash
# The package as users get it: `npm pack`, then `npm install` of the tarball into a fresh project with every
# compiler removed from PATH (c++, g++, gcc, cc, clang, nvcc, cmake, make), then the demo, the prebuilt addon in
# use, and examples/embed.ts type-checked against the installed package's declarations and run against it.
#   bash scripts/check-packed.sh [WORK_DIR]      (default: a temporary directory, removed afterwards)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
if [[ -n "${1:-}" ]]; then work=$1; mkdir -p "$work"; else work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi

tarball=$(npm pack --pack-destination "$work" --json | node -e 'let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => console.log(JSON.parse(s)[0].filename))')
echo "== packed $tarball ($(du -h "$work/$tarball" | cut -f1))"

# PATH without compilers: a directory of links to every other command on PATH
nocc="$work/path-without-compilers"
mkdir -p "$nocc"
IFS=: read -ra dirs <<< "$PATH"
for d in "${dirs[@]}"; do
  [[ -d "$d" ]] || continue
  for f in "$d"/*; do
    name=${f##*/}
    case "$name" in c++|g++|gcc|cc|clang|clang++|nvcc|cmake|make|gmake|ninja|*-g++|*-gcc|*-g++-*|*-gcc-*|g++-*|gcc-*|c++-*|clang-*|clang++-*) continue ;; esac
    [[ -x "$f" && ! -e "$nocc/$name" ]] && ln -s "$f" "$nocc/$name"
  done
done
for c in c++ g++ gcc cc nvcc cmake make; do
  if PATH="$nocc" command -v "$c" > /dev/null; then echo "== $c is still on the stripped PATH"; exit 1; fi
done

app="$work/app"
rm -rf "$app" && mkdir -p "$app" && cd "$app"
npm init -y > /dev/null && npm pkg set type=module
PATH="$nocc" npm install --no-audit --no-fund "$work/$tarball"
[[ -z "$(find node_modules/mcore-export -name '*.o' -o -name '*.map' -o -name 'CMakeFiles')" ]] || { echo "== object files or source maps in the installed package"; exit 1; }
[[ -f node_modules/mcore-export/LICENSE ]] || { echo "== no LICENSE in the installed package"; exit 1; }

features=$(PATH="$nocc" npx mcore-export features --json)
echo "$features"
case "$features" in *prebuilds/*) ;; *) echo "== the prebuilt addon is not the one in use"; exit 1 ;; esac
PATH="$nocc" npx mcore-export --version
PATH="$nocc" npx mcore-export demo

# the example, type-checked against the installed declarations (the repository's tsc and @types/node)
cp "$repo/examples/embed.ts" .
cat > tsconfig.json <<JSON
{ "compilerOptions": { "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "strict": true,
    "outDir": "dist", "types": ["node"], "typeRoots": ["$repo/node_modules/@types"] }, "include": ["embed.ts"] }
JSON
"$repo/node_modules/.bin/tsc" -p tsconfig.json
PATH="$nocc" node dist/embed.js node_modules/mcore-export/assets/tiny-llama
echo "== packed package: installed without a compiler, demo and example ran"
