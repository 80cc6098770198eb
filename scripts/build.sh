#!/bin/bash
# Configure and build ecifs.
#   scripts/build.sh                 -> build/       (RelWithDebInfo)
#   SANITIZE=1 scripts/build.sh      -> build-asan/  (-DECIFS_SANITIZE=ON: ASan + UBSan)
# BUILD_DIR overrides the directory, BUILD_TYPE the CMake build type; further
# arguments go to the CMake configure step.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

targets=()
if [[ "${SANITIZE:-0}" == 1 ]]; then
  build_dir=${BUILD_DIR:-build-asan}
  sanitize=ON
  # -O1: sanitizers stay meaningful and the build takes half the time of -O2. Only
  # what the tests run (not the benchmark programs).
  build_type=${BUILD_TYPE:-Debug}
  set -- -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" "$@"
  targets=(--target ecifs ecifs-runc ecifsctl ecifs_unit_tests)
else
  build_dir=${BUILD_DIR:-build}
  sanitize=OFF
  build_type=${BUILD_TYPE:-RelWithDebInfo}
fi

echo "build.sh: $build_dir ($build_type, sanitize=$sanitize)"
# -Werror here only: the project's own builds are warning-free, a user's cmake is not
# made to fail by a new compiler's warning (CMakeLists.txt keeps ECIFS_WERROR off).
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="$build_type" -DECIFS_SANITIZE="$sanitize" -DECIFS_WERROR=ON "$@"
cmake --build "$build_dir" -j"$(nproc)" "${targets[@]}"
