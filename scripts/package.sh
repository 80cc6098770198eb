#!/bin/bash
# Build the Debian package: ecifs_VERSION_ARCH.deb with the three binaries, the man
# pages, the systemd unit and the docs (packaging/package.cmake), its dependencies
# declared (dpkg-shlibdeps). Builds with scripts/build.sh first (build/, or BUILD_DIR).
#   scripts/package.sh [--out DIR]      the .deb goes to DIR (default: BUILD_DIR/package)
# Install it with `apt-get install ./ecifs_*.deb` (README, "Install").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
out=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "package.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
out=${out:-$build_dir/package}

BUILD_DIR=$build_dir scripts/build.sh
mkdir -p "$out"
rm -f "$out"/ecifs_*.deb
cpack --config "$build_dir/CPackConfig.cmake" -B "$out" >"$out/cpack.log" 2>&1 || {
  cat "$out/cpack.log" >&2
  echo "package.sh: cpack failed" >&2
  exit 1
}
rm -rf "$out/_CPack_Packages"
deb=$(ls "$out"/ecifs_*.deb)
echo "package.sh: $deb"
dpkg-deb --field "$deb" Package Version Architecture Depends
