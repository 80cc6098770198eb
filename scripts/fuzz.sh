#!/bin/bash
# Build the libFuzzer targets (fuzz/, -DECIFS_FUZZ=ON, clang, ASan + UBSan) in
# build-fuzz/ and run each for N seconds from its seed corpus (fuzz/corpus/TARGET/).
# Fails if any target crashes, leaks, trips UBSan or times out; prints per target the
# runs executed, the coverage reached (cov: edges, ft: features) and the crashes.
#
#   scripts/fuzz.sh [--seconds N] [--only TARGET]   (N defaults to 600)
#
# New corpus entries go to a temporary directory, merged nowhere and removed at the end;
# crashing inputs go to the directory printed at the start (kept when there are any).
# Nothing is written in the repository but build-fuzz/. Extra configure arguments:
# FUZZ_CMAKE_ARGS="..." (e.g. -DCMAKE_CXX_COMPILER_LAUNCHER=ccache).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

seconds=600
only=""
while (( $# )); do
  case "$1" in
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    --only) only=${2:?--only needs a target}; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: --seconds takes a whole number" >&2; exit 2; }

targets=(control oci_config seccomp_listener sysctl_value cgroup_files mountinfo wire)
if [[ -n "$only" ]]; then
  [[ " ${targets[*]} " == *" $only "* ]] || { echo "fuzz.sh: no target $only (${targets[*]})" >&2; exit 2; }
  targets=("$only")
fi

read -r -a cmake_extra <<< "${FUZZ_CMAKE_ARGS:-}"
build_started=$SECONDS
cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DECIFS_FUZZ=ON -DECIFS_WERROR=ON \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" "${cmake_extra[@]}" >/dev/null || exit 1
cmake --build build-fuzz -j"$(nproc)" --target fuzz_all || exit 1
echo "fuzz.sh: build-fuzz/ built in $((SECONDS - build_started))s"

work=$(mktemp -d /tmp/ecifs-fuzz.XXXXXX)
crashes=$(mktemp -d /tmp/ecifs-fuzz-crashes.XXXXXX)
cleanup() {
  rm -rf "$work"
  rmdir "$crashes" 2>/dev/null  # kept when it holds a crashing input
}
trap cleanup EXIT
echo "fuzz.sh: ${#targets[@]} targets, ${seconds}s each; crashing inputs go to $crashes"

# Findings end the run with a report and a non-zero exit: ASan (leaks included: libFuzzer
# checks them), and UBSan, which the build already makes fatal.
# Options already set (scripts/test.sh sets some) are kept; these come last and win.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1"

# run_target NAME: fuzz it for $seconds from its seeds; print its figures.
run_target() {
  local name=$1 log="$work/$1.log" rc=0
  mkdir -p "$work/$name"
  # cwd in $work: whatever libFuzzer writes by default lands there, not in the tree.
  (cd "$work" && "$repo/build-fuzz/fuzz/fuzz_$name" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=2048 \
     -print_final_stats=1 -artifact_prefix="$crashes/$name-" "$work/$name" "$repo/fuzz/corpus/$name") >"$log" 2>&1 || rc=$?
  local runs cov found
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
  found=$(find "$crashes" -name "$name-*" | wc -l)
  printf 'fuzz.sh: %-17s runs %-10s %-24s crashes %s (exit %s)\n' "$name" "${runs:-?}" "${cov:-cov: ? ft: ?}" "$found" "$rc"
  if (( rc != 0 || found != 0 )); then
    # The report: libFuzzer's and the sanitizers' lines, and the input that did it.
    grep -E 'ERROR|SUMMARY|runtime error|==[0-9]+==|^    #[0-9]+ |Test unit written' "$log" | head -n 40
    return 1
  fi
}

failed=0
for name in "${targets[@]}"; do
  run_target "$name" || failed=$((failed + 1))
done
if (( failed )); then
  echo "fuzz.sh: FAILED: $failed of ${#targets[@]} targets found something; inputs in $crashes"
  exit 1
fi
echo "fuzz.sh: PASSED (${#targets[@]} targets, ${seconds}s each, 0 crashes)"
