#!/usr/bin/env bash
# Packs what bench/gpu/run-session.sh needs into .device/ (ignored; carried with the device run): a stripped Node
# binary (node.tar.xz) and pkg.tar.xz = dist/, dist-bench/ and a CUDA addon for sm_90 (the H200) built in
# build-gpu/ (a separate cmake-js build directory, so build/ keeps the local addon).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .device
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> "$(git rev-parse --git-path info/exclude)"
tmp=$(mktemp -d)
cp "$(readlink -f "$(command -v node)")" "$tmp/node" && strip "$tmp/node"
tar -C "$tmp" -cf - node | xz -T2 -9 > .device/node.tar.xz
npm run build:ts > /dev/null && npx tsc -p tsconfig.bench.json
npx cmake-js configure --out build-gpu --CDMCORE_CUDA=ON --CDCMAKE_CUDA_ARCHITECTURES=90-real > /dev/null && npx cmake-js build --out build-gpu --parallel 2 > /dev/null
mkdir -p "$tmp/build/Release" && cp build-gpu/Release/mcore_export.node "$tmp/build/Release/" && strip --strip-unneeded "$tmp/build/Release/mcore_export.node"
cp -r dist dist-bench "$tmp/"
tar -C "$tmp" -cJf .device/pkg.tar.xz dist dist-bench build
rm -rf "$tmp"
ls -la .device
