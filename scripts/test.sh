#!/bin/bash
# The README's test command: install, build (normal and ASan+UBSan), run the unit tests
# (ctest) in both builds, the fuzz targets (20 s each), the integration tests (pytest,
# real FUSE mounts and runc containers) against the normal build, the stress workloads
# at their --quick sizes, and the integration tests' `asan` subset against the ASan build.
# Exits non-zero if any step failed; the last line is the summary.
#
#   SKIP_ASAN=1       skip the ASan build and its tests (quick local runs)
#   SKIP_ENGINES=1    skip the Docker, Podman and containerd step (quick local runs)
#   PYTEST_ARGS="..." extra arguments for both integration pytest runs (e.g. "-x -k reading")
#   PARITY_ARGS="..." extra arguments for the parity run (e.g. "--quick")
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

PYTHON=/usr/bin/python3  # Debian's python3 with python3-pytest, not a pyenv shim
read -r -a pytest_extra <<< "${PYTEST_ARGS:-}"
read -r -a parity_extra <<< "${PARITY_ARGS:-}"

results=()
failed=0
started=$SECONDS
# Each step's output is also kept here, so the summary can say why a step failed.
logs=$(mktemp -d /tmp/ecifs-test-logs.XXXXXX)
trap 'rm -rf "$logs"' EXIT
why=()

# step NAME CMD...: run a step, record PASS/FAIL with its duration.
step() {
  local name=$1; shift
  local t0=$SECONDS rc=0 log
  log="$logs/$(( ${#results[@]} + 1 )).log"
  echo
  echo "=================== test.sh: $name"
  "$@" 2>&1 | tee "$log" || rc=$?
  if (( rc == 0 )); then
    results+=("PASS  $name ($((SECONDS - t0))s)")
  else
    results+=("FAIL  $name (exit $rc, $((SECONDS - t0))s)")
    failed=$((failed + 1))
    remember_why "$name" "$log"
  fi
  return $rc
}

# remember_why NAME LOG: the lines of a failed step's output that name what failed
# (pytest's FAILED/ERROR lines, ctest's failed tests, compiler errors), else its last
# lines: a CI log that keeps only the end still shows the reason.
remember_why() {
  local lines
  lines=$(grep -E '^(FAILED|ERROR) |^E  +|[0-9]+ - .*\(Failed|error:|^FAIL' "$2" | grep -v '^=' | head -n 12)
  [[ -n "$lines" ]] || lines=$(tail -n 5 "$2")
  why+=("$1:")
  while IFS= read -r line; do why+=("    ${line:0:200}"); done <<< "$lines"
}

skip() {
  results+=("FAIL  $1 (not run: $2)")
  failed=$((failed + 1))
}

summary() {
  echo
  echo "=================== test.sh: summary ($((SECONDS - started))s)"
  printf '  %s\n' "${results[@]}"
  if (( ${#why[@]} )); then
    echo "  why:"
    printf '  %s\n' "${why[@]}"
  fi
  if (( failed == 0 )); then
    echo "test.sh: PASSED (${#results[@]} steps)"
  else
    echo "test.sh: FAILED ($failed of ${#results[@]} steps)"
  fi
}

ctest_run() {
  ctest --test-dir "$1" --output-on-failure --no-tests=error --timeout 300 -j"$(nproc)"
}

pytest_run() {
  local bin_dir=$1; shift
  # timeout: a hung FUSE request must not hang CI; pytest's exit 5 (nothing collected)
  # is a failure too.
  ECIFS_BIN_DIR="$repo/$bin_dir" timeout -k 30 1200 \
    "$PYTHON" -m pytest -p no:cacheprovider -v -rfE "$@" "${pytest_extra[@]}" tests/integration
}

# tests/parity: every workload under plain runc and under ecifs-runc, compared. The session
# cleans up after itself (also on SIGTERM from timeout); what a SIGKILL left is removed,
# and fails the step, by `parity.py --cleanup`.
parity_run() {
  local rc=0
  ECIFS_BIN_DIR="$repo/build" timeout -k 30 900 \
    "$PYTHON" -m pytest -p no:cacheprovider -v -rfEX "${parity_extra[@]}" tests/parity || rc=$?
  "$PYTHON" tests/parity/parity.py --cleanup || rc=1
  return $rc
}

if ! step "setup" bash scripts/setup.sh; then
  summary
  exit 1
fi

normal_built=0
asan_built=0
step "build (build/)" bash scripts/build.sh && normal_built=1
if [[ "${SKIP_ASAN:-0}" != 1 ]]; then
  SANITIZE=1 step "build ASan+UBSan (build-asan/)" bash scripts/build.sh && asan_built=1
fi

# Sanitizers: report everything, fail the process on any finding.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=23}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if (( normal_built )); then
  step "unit tests (build/)" ctest_run build
else
  skip "unit tests (build/)" "build failed"
fi
if [[ "${SKIP_ASAN:-0}" != 1 ]]; then
  if (( asan_built )); then
    step "unit tests (build-asan/)" ctest_run build-asan
  else
    skip "unit tests (build-asan/)" "build failed"
  fi
fi

# File and function lengths, and each layer linking alone (scripts/check-structure.sh).
if (( normal_built )); then
  step "structure (build/)" bash scripts/check-structure.sh build
else
  skip "structure (build/)" "build failed"
fi

# libFuzzer targets (fuzz/): every parser a container or a runtime feeds, 20 s each under
# ASan+UBSan in their own clang build; scripts/fuzz.sh runs them longer.
step "fuzz, 20 s each (build-fuzz/)" bash scripts/fuzz.sh --seconds 20

if (( normal_built )); then
  step "integration tests (build/)" pytest_run build
else
  skip "integration tests (build/)" "build failed"
fi
# tests/hostile: attacks from a container (issue 11); the daemon, the host and a
# neighbour must come through unharmed.
hostile_run() {
  ECIFS_BIN_DIR="$repo/build" timeout -k 30 900 \
    "$PYTHON" -m pytest -p no:cacheprovider -v -rfE "${pytest_extra[@]}" tests/hostile
}
if (( normal_built )); then
  step "hostile container (build/)" hostile_run
else
  skip "hostile container (build/)" "build failed"
fi
# tests/stress: every workload of scripts/stress.sh at its --quick sizes (STRESS.md), on
# the build above (no setup or build of its own); PASS needs 0 errors, 0 leftovers and
# the daemon's RSS and fds back near the start. It cleans up on SIGTERM from timeout.
stress_run() {
  ECIFS_BIN_DIR="$repo/build" timeout -k 30 600 "$PYTHON" tests/stress/stress.py --quick
}
if (( normal_built )); then
  step "stress --quick (build/)" stress_run
else
  skip "stress --quick (build/)" "build failed"
fi
if (( normal_built )); then
  step "parity with runc (build/)" parity_run
else
  skip "parity with runc (build/)" "build failed"
fi
# Docker, Podman and containerd each run a container through ecifs-runc (tests/engines).
# An engine that cannot run here fails the step with the reason; it is never skipped.
engines_run() {
  ECIFS_BIN_DIR="$repo/build" timeout -k 30 900 \
    "$PYTHON" -m pytest -p no:cacheprovider -v -rfE tests/engines
}
if [[ "${SKIP_ENGINES:-0}" != 1 ]]; then
  if (( normal_built )); then
    step "engines: Docker, Podman, containerd (build/)" engines_run
  else
    skip "engines: Docker, Podman, containerd (build/)" "build failed"
  fi
fi
# The Debian package (scripts/package.sh, from build/): installed with apt on this
# machine, a container run through the installed ecifs-runc, purged, nothing left
# (tests/package). It refuses a host where ecifs is installed already.
package_run() {
  BUILD_DIR=build bash scripts/package.sh &&
    ECIFS_DEB=$(ls "$repo"/build/package/ecifs_*.deb) timeout -k 30 900 \
      "$PYTHON" -m pytest -p no:cacheprovider -v -rfE tests/package
}
if (( normal_built )); then
  step "package: install, run, purge (build/)" package_run
else
  skip "package: install, run, purge (build/)" "build failed"
fi
# A real cgroup v2 kernel under qemu (this host is a v1/v2 hybrid); see tests/vm/README.md.
if ! (( normal_built )); then skip "cgroup v2 VM (qemu)" "build failed"
elif ! vm_why=$(bash scripts/vm-test.sh --can-run); then skip "cgroup v2 VM (qemu)" "this machine cannot: $vm_why"
else
  step "cgroup v2 VM (qemu)" bash scripts/vm-test.sh build
  # The trapper's mount work on Debian 12's 6.1 kernel (no PIDFD_THREAD, no mounts on a
  # detached mount): the kernel the step above cached.
  step "trapper on Linux 6.1 (qemu)" bash scripts/vm-trapper-test.sh build
fi
if [[ "${SKIP_ASAN:-0}" != 1 ]]; then
  if (( asan_built )); then
    step "integration tests, asan subset (build-asan/)" pytest_run build-asan -m asan
  else
    skip "integration tests, asan subset (build-asan/)" "build failed"
  fi
fi

summary
(( failed == 0 ))
