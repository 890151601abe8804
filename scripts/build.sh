#!/usr/bin/env bash
# Configures (once) and builds one flavour of shoal under build/:
#   ./scripts/build.sh release    build/release, optimised
#   ./scripts/build.sh asan       build/asan, AddressSanitizer + UndefinedBehaviorSanitizer, -O1
#   ./scripts/build.sh FLAVOUR TARGET...   only those ninja targets (and what they need)
# Warnings are errors in both. Prints the build log only when it fails.
set -euo pipefail
cd "$(dirname "$0")/.."

flavour=${1:-release}
shift || true
case "$flavour" in
  release) options=(--buildtype=release) ;;
  # -O1 and line tables only (-g1): the sanitizers' reports keep their file:line, and the
  # build takes a third of the time that -O2 -g does (138 s against 43 s for the largest test
  # file), which is most of the test suite's own build.
  asan) options=(--buildtype=plain -Doptimization=1 -Ddebug=false -Dcpp_args=-g1
                 -Db_sanitize=address,undefined -Db_lundef=false) ;;
  *) echo "build.sh: unknown flavour '$flavour' (release or asan)" >&2; exit 2 ;;
esac

dir=build/$flavour
mkdir -p build
if [[ ! -f $dir/build.ninja ]]; then
  meson setup "$dir" -Dwerror=true "${options[@]}" >"build/$flavour.setup.log" 2>&1 ||
    { cat "build/$flavour.setup.log" >&2; exit 1; }
fi
ninja -C "$dir" "$@" >"build/$flavour.build.log" 2>&1 ||
  { tail -50 "build/$flavour.build.log" >&2; exit 1; }
