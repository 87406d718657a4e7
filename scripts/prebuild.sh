#!/usr/bin/env bash
# Makes the prebuilt addon shipped in the package (prebuilds/<platform>-<arch>/*.node: CPU-only, Node-API, built
# by prebuildify with node-gyp) in a scratch copy, so a local CUDA build in build/ is left alone. Skipped when the
# prebuild is newer than every native source (`--force` rebuilds anyway).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="prebuilds/$(node -p 'process.platform + "-" + process.arch')"
if [[ "${1:-}" != --force ]] && compgen -G "$dir/*.node" > /dev/null \
   && [[ -z "$(find native binding.gyp package.json -newer "$(ls -t "$dir"/*.node | head -1)" -type f | head -1)" ]]; then
  echo "prebuild: $dir is up to date" >&2; exit 0
fi
# node-gyp downloads Node's headers unless nodedir is set (npm run passes npm's own setting, e.g. /usr); an
# installed Node's headers serve when offline
nodedir=${npm_config_nodedir:-$(npm config get nodedir 2>/dev/null || true)}
[[ -n "$nodedir" && "$nodedir" != undefined && "$nodedir" != null ]] && export npm_config_nodedir="$nodedir"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp -r native binding.gyp package.json "$tmp/"
ln -s "$PWD/node_modules" "$tmp/node_modules"
# all of the build's output on stderr: stdout belongs to the caller (`npm pack --json` parses it)
(cd "$tmp" && node_modules/.bin/prebuildify --napi --strip --tag-libc -t "$(node -p process.versions.node)") >&2
rm -rf "$dir" && mkdir -p prebuilds && cp -r "$tmp/$dir" "$dir"
ls -l "$dir" >&2
