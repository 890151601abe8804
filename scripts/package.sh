#!/usr/bin/env bash
# Builds the Debian package (debian/) from a copy of the tree:
#   ./scripts/package.sh [OUTDIR]    default OUTDIR: build/package
# The copy holds the tracked files as they are in the work tree and the new files git does
# not ignore. dpkg-buildpackage runs in it and writes its results next to it; the .deb (and
# -dbgsym .deb), .changes and .buildinfo end up in OUTDIR, and the copy is removed.
# Build dependencies: ./scripts/install-deps.sh. Prints the .deb's path; on failure, the
# end of the build log.
#
# The copy is always build/package-stage/shoal, and with ccache installed the compiler runs
# through it (cache in build/ccache, or CCACHE_DIR): a rebuild of unchanged sources is then
# mostly cache hits. A fresh path per build would defeat the cache, since dpkg-buildflags
# names the source directory in the compiler's flags (-ffile-prefix-map).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

out=${1:-build/package}
mkdir -p "$out" build
out=$(cd "$out" && pwd)
stage=$repo/build/package-stage

# One build at a time per work tree.
exec 9>"$repo/build/package-stage.lock"
flock 9
rm -rf "$stage"
mkdir -p "$stage/shoal"
trap 'rm -rf "$stage"' EXIT

git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do if [[ -e $f || -L $f ]]; then printf '%s\0' "$f"; fi; done |
  tar --null -T - -cf - | tar -xf - -C "$stage/shoal"

if command -v ccache >/dev/null; then
  export CCACHE_DIR=${CCACHE_DIR:-$repo/build/ccache}
  export CXX="ccache ${CXX:-c++}"
fi

rm -f "$out"/shoal_*.deb "$out"/shoal-dbgsym_*.deb "$out"/shoal_*.changes "$out"/shoal_*.buildinfo
# -jauto: debhelper builds with one job unless told otherwise.
if ! (cd "$stage/shoal" && dpkg-buildpackage -us -uc -b -jauto) >"$out/build.log" 2>&1; then
  tail -40 "$out/build.log" >&2
  echo "package.sh: dpkg-buildpackage failed (log: $out/build.log)" >&2
  exit 1
fi
mv "$stage"/*.deb "$stage"/*.changes "$stage"/*.buildinfo "$out"/
ls "$out"/shoal_*.deb
