#!/bin/bash
# The structure rules of the tree (README, "Layout"), checked:
#   - no source file over 500 lines (tests and benchmarks aside);
#   - no function over 60 lines, but data tables marked NOLINT(readability-function-size)
#     (clang-tidy's readability-function-size, on the build's compile_commands.json);
#   - every layer links only against the layers below it: the build's layer_check_*
#     targets (CMakeLists.txt) link each layer's library whole, so an upward call is an
#     undefined symbol; they are built here.
#
#   scripts/check-structure.sh [BUILD_DIR]      (default: build/, configured by build.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
max_file_lines=500
max_function_lines=60

case "${1:-}" in
  -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
if [[ ! -f "$build/compile_commands.json" ]]; then
  echo "check-structure.sh: $build/compile_commands.json is missing: build first (scripts/build.sh)" >&2
  exit 2
fi
command -v clang-tidy >/dev/null || { echo "check-structure.sh: clang-tidy is not installed (scripts/setup.sh)" >&2; exit 2; }

failed=0
mapfile -t sources < <(git ls-files '*.cpp' '*.hpp' | grep -v -E '^(tests|bench)/')

echo "files over $max_file_lines lines:"
long_files=0
for f in "${sources[@]}"; do
  n=$(wc -l < "$f")
  if (( n > max_file_lines )); then echo "  $f: $n"; long_files=$((long_files + 1)); fi
done
(( long_files == 0 )) && echo "  none (${#sources[@]} files)" || failed=1

echo "functions over $max_function_lines lines:"
mapfile -t units < <(printf '%s\n' "${sources[@]}" | grep '\.cpp$')
report=$(printf '%s\n' "${units[@]}" | xargs -P"$(nproc)" -n8 clang-tidy -p "$build" --quiet \
  --checks='-*,readability-function-size' \
  --config="{CheckOptions: [{key: readability-function-size.LineThreshold, value: $max_function_lines}]}" \
  2>/dev/null | grep 'exceeds recommended size' || true)
if [[ -n "$report" ]]; then
  echo "$report" | sed 's/^/  /'
  failed=1
else
  echo "  none (${#units[@]} translation units)"
fi

echo "layering (link checks):"
mapfile -t checks < <(cmake --build "$build" --target help | awk '/layer_check_/ {print $2}')
if (( ${#checks[@]} == 0 )); then
  echo "  no layer_check_* targets in $build" >&2
  failed=1
elif cmake --build "$build" -j"$(nproc)" --target "${checks[@]}" >/dev/null; then
  echo "  ${#checks[@]} layers link alone: ${checks[*]}"
else
  echo "  a layer does not link against the layers below it alone (see the build output)" >&2
  failed=1
fi

exit $failed
