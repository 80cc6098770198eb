#!/bin/bash
# Configure and build ecifs.
#   scripts/build.sh                 -> build/       (RelWithDebInfo)
#   SANITIZE=1 scripts/build.sh      -> build-asan/  (-DECIFS_SANITIZE=ON: ASan + UBSan)
# BUILD_DIR overrides the directory, BUILD_TYPE the CMake build type; further
# arguments go to the CMake configure step.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ "${SANITIZE:-0}" == 1 ]]; then
  build_dir=${BUILD_DIR:-build-asan}
  sanitize=ON
else
  build_dir=${BUILD_DIR:-build}
  sanitize=OFF
fi
build_type=${BUILD_TYPE:-RelWithDebInfo}

echo "build.sh: $build_dir ($build_type, sanitize=$sanitize)"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" -DECIFS_SANITIZE="$sanitize" "$@"
cmake --build "$build_dir" -j"$(nproc)"
