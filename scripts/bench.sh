#!/bin/bash
# Benchmarks (issue 6): ecifs against native procfs, LXCFS and a bare libfuse server,
# side by side in one run. As root, from a fresh clone:
#
#   sudo bash scripts/bench.sh            # full run (a few minutes): writes BENCHMARKS.md's
#                                         # generated part and bench/results/latest.{csv,json}
#   sudo bash scripts/bench.sh --quick    # a smoke run (well under a minute): prints the
#                                         # tables, writes nothing in the tree
#
#   --profile      also strace -c each server during 2000 reads of meminfo
#                  (bench/results/strace-*.txt) and keep the bare servers' opcode counts
#   --no-install   do not apt-get anything (lxcfs must be there)
#   BENCH_BUILD_DIR=DIR   build directory (default build-bench/)
#   BENCH_BASELINE_BIN=DIR   also measure the ecifs built in DIR (another commit's build
#                  directory) as system "ecifs-before", side by side with this one
#
# It installs what it needs (scripts/setup.sh's packages and lxcfs), builds ecifs and the
# bench programs, then on temporary paths starts: the ecifs daemon (and the baseline's,
# if asked), LXCFS, and the bare server twice
# (libfuse's stock single-threaded loop; the ecifs-style loop: non-blocking fd, bounded
# spin, poll). A `sleep` in its own child cgroup (memory 1 GiB, 1 CPU where the
# controllers allow) is the pseudo-container's init. Everything it started is stopped by
# pid and every mountpoint it made is unmounted on exit, whatever happens.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

quick=0 profile=0 install=1
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --profile) profile=1 ;;
    --no-install) install=0 ;;
    -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "bench.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done
if (( EUID != 0 )); then
  echo "bench.sh: must run as root (FUSE mounts, cgroups, apt-get)" >&2
  exit 1
fi

say() { echo "bench.sh: $*" >&2; }

# ------------------------------------------------------------------ install
if (( install )); then
  bash scripts/setup.sh
  if ! command -v lxcfs > /dev/null; then
    lxcfs_before=$(pgrep -x lxcfs || true)
    say "installing lxcfs"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends lxcfs > /dev/null
    # The package enables and starts its own service (on /var/lib/lxcfs) where it can.
    # We installed it only to measure it: leave no service of it running.
    if [[ -d /run/systemd/system ]]; then
      systemctl disable --now lxcfs.service > /dev/null 2>&1 || true
    else
      lxcfs_after=$(pgrep -x lxcfs || true)
      if [[ -n "$lxcfs_after" && "$lxcfs_after" != "$lxcfs_before" ]]; then
        say "the lxcfs package started its service; stopping it"
        /etc/init.d/lxcfs stop > /dev/null 2>&1 || true
      fi
    fi
  fi
fi
command -v lxcfs > /dev/null || { say "lxcfs is not installed"; exit 1; }

# ------------------------------------------------------------------ build
build_dir=${BENCH_BUILD_DIR:-build-bench}
say "building into $build_dir"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$build_dir" -j"$(nproc)" --target ecifs ecifsctl ecifs_bench bare_fuse > "$build_dir/bench-build.log" 2>&1 ||
  { tail -40 "$build_dir/bench-build.log"; exit 1; }
bin=$repo/$build_dir
bench=$bin/bench/ecifs_bench
bare=$bin/bench/bare_fuse

# ------------------------------------------------------------------ cleanup
tmp=$(mktemp -d /tmp/ecifs-bench.XXXXXX)
chmod 755 "$tmp"
pids=()          # every process we started, in start order
cgroups=()       # every cgroup directory we made
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  # Stop in reverse order: servers unmount themselves on SIGTERM; ecifs on stop-all (a
  # SIGTERM leaves its views to the next daemon: docs/restart.md).
  local sock
  for sock in "$tmp"/ecifs*/sock; do
    [[ -S "$sock" ]] && "$bin/ecifsctl" --socket "$sock" stop-all > /dev/null 2>&1
  done
  local i pid
  for (( i=${#pids[@]}-1; i>=0; i-- )); do
    pid=${pids[i]}
    kill -0 "$pid" 2> /dev/null && kill -TERM "$pid" 2> /dev/null
  done
  for (( i=0; i<50; i++ )); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2> /dev/null && alive=1; done
    (( alive )) || break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -0 "$pid" 2> /dev/null && kill -KILL "$pid" 2> /dev/null; done
  wait 2> /dev/null
  # Whatever is still mounted under our directory (deepest first).
  awk -v t="$tmp/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" 2> /dev/null
  done
  for cg in "${cgroups[@]}"; do rmdir "$cg" 2> /dev/null; done
  if ! awk -v t="$tmp/" 'index($5, t) == 1 { found=1 } END { exit !found }' /proc/self/mountinfo; then
    rm -rf "$tmp"
  else
    say "left $tmp: something is still mounted there"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for DESCRIPTION COMMAND...: up to 10 s.
wait_for() {
  local what=$1 i; shift
  for (( i=0; i<100; i++ )); do
    "$@" > /dev/null 2>&1 && return 0
    sleep 0.1
  done
  say "timed out waiting for $what"
  return 1
}

# ------------------------------------------------------------------ the pseudo-container's init
# Its own child cgroup: memory limited to 1 GiB, CPU quota of 1 CPU (cgroup v1 here, v2
# where the unified hierarchy has the controllers), and its own pids cgroup as runc gives
# a container (else /proc/stat and /proc/loadavg would count the parent's tasks, every
# host thread). Optional: without it ecifs shows the sleep's current cgroup.
make_cgroup() {
  local name=ecifs-bench-$$ dir
  if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then       # pure v2
    local own; own=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
    dir=/sys/fs/cgroup${own%/}/$name
    mkdir "$dir" 2> /dev/null || return 0
    cgroups+=("$dir")
    echo 1073741824 > "$dir/memory.max" 2> /dev/null
    echo "100000 100000" > "$dir/cpu.max" 2> /dev/null
    echo "$dir"
    return 0
  fi
  local controller own
  for controller in memory cpu pids; do
    [[ -d /sys/fs/cgroup/$controller ]] || continue
    own=$(awk -F: -v c="$controller" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' /proc/self/cgroup)
    dir=/sys/fs/cgroup/$controller${own%/}/$name
    mkdir "$dir" 2> /dev/null || continue
    cgroups+=("$dir")
    [[ $controller == memory ]] && echo 1073741824 > "$dir/memory.limit_in_bytes" 2> /dev/null
    [[ $controller == cpu ]] && echo 100000 > "$dir/cpu.cfs_period_us" 2> /dev/null &&
      echo 100000 > "$dir/cpu.cfs_quota_us" 2> /dev/null
    echo "$dir"
  done
}
mapfile -t init_cgroups < <(make_cgroup)
# make_cgroup ran in a subshell: record its directories here for cleanup.
cgroups+=("${init_cgroups[@]}")
( for cg in "${init_cgroups[@]}"; do echo "$BASHPID" > "$cg/cgroup.procs" 2> /dev/null; done
  exec sleep 100000 ) &
init_pid=$!
pids+=("$init_pid")
say "pseudo-container init: pid $init_pid in ${init_cgroups[*]:-the cgroups of its parent}"

# ------------------------------------------------------------------ servers
# start_ecifs NAME BIN_DIR: a daemon on temporary paths with container "bench".
declare -A server_pid
start_ecifs() {
  local name=$1 dir=$2
  mkdir -p "$tmp/$name"
  "$dir/ecifs" --foreground --state-dir "$tmp/$name/state" --socket "$tmp/$name/sock" \
    --log-level warn 2> "$tmp/$name/log" &
  server_pid[$name]=$!
  pids+=("$!")
  wait_for "$name's socket" "$dir/ecifsctl" --socket "$tmp/$name/sock" list
  "$dir/ecifsctl" --socket "$tmp/$name/sock" prepare bench > /dev/null
  "$dir/ecifsctl" --socket "$tmp/$name/sock" start bench "$init_pid" > /dev/null
  wait_for "$name's mount" test -e "$tmp/$name/state/containers/bench/proc/meminfo"
}
ecifs_names=(ecifs)
start_ecifs ecifs "$bin"
if [[ -n "${BENCH_BASELINE_BIN:-}" ]]; then
  [[ -x "$BENCH_BASELINE_BIN/ecifs" ]] || { say "no ecifs in BENCH_BASELINE_BIN=$BENCH_BASELINE_BIN"; exit 1; }
  baseline_commit=$(git -C "$BENCH_BASELINE_BIN" rev-parse --short HEAD 2> /dev/null || echo '?')
  start_ecifs ecifs-before "$BENCH_BASELINE_BIN"
  ecifs_names+=(ecifs-before)
fi

mkdir -p "$tmp/lxcfs"
lxcfs -f -p "$tmp/lxcfs.pid" "$tmp/lxcfs" > "$tmp/lxcfs.log" 2>&1 &
server_pid[lxcfs]=$!
pids+=("$!")
wait_for "LXCFS's mount" test -e "$tmp/lxcfs/proc/meminfo"

# The bare server serves a snapshot of each native file, under the same relative path.
files=(proc/meminfo proc/cpuinfo proc/stat proc/uptime proc/loadavg sys/devices/system/cpu/online
       proc/sys/kernel/panic proc/sys/net/ipv4/ip_forward)
bare_files=()
for f in "${files[@]}"; do [[ -r /$f ]] && bare_files+=(--file "$f=/$f"); done
# bare-cached: the floor of a one-round-trip read (content stored in the page cache at
# OPEN; see bench/bare_fuse.cpp), on libfuse's stock loop.
for variant in stock own cached; do
  case $variant in cached) how=(--loop stock --reply cached) ;; *) how=(--loop "$variant") ;; esac
  mkdir -p "$tmp/bare-$variant"
  "$bare" --mountpoint "$tmp/bare-$variant" "${how[@]}" "${bare_files[@]}" 2> "$tmp/bare-$variant.log" &
  server_pid[bare-$variant]=$!
  pids+=("$!")
  wait_for "bare-$variant's mount" test -e "$tmp/bare-$variant/proc/meminfo"
done

systems=(--system native=/)
for name in "${ecifs_names[@]}"; do
  systems+=(--system "$name=$tmp/$name/state/containers/bench@${server_pid[$name]}")
done
systems+=(--system "lxcfs=$tmp/lxcfs@${server_pid[lxcfs]}"
         --system "bare-stock=$tmp/bare-stock@${server_pid[bare-stock]}"
         --system "bare-own=$tmp/bare-own@${server_pid[bare-own]}"
         --system "bare-cached=$tmp/bare-cached@${server_pid[bare-cached]}")
quick_flag=()
(( quick )) && quick_flag=(--quick)

# ------------------------------------------------------------------ measure
# Other work on the machine moves every number: record how busy it was.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say "read path (interleaved rounds)"
"$bench" read "${systems[@]}" "${quick_flag[@]}" --out "$tmp/read.json"

say "trapped sysinfo (seccomp listener) against native"
"$bench" trap --socket "$tmp/ecifs/seccomp.sock" --id bench --daemon-pid "${server_pid[ecifs]}" \
  "${quick_flag[@]}" --out "$tmp/trap.json"

say "idle CPU ($( (( quick )) && echo 1 || echo 5 ) s)"
"$bench" idle "${systems[@]:2}" --seconds "$( (( quick )) && echo 1 || echo 5 )" --out "$tmp/idle.json"

say "lifecycle"
"$bench" lifecycle --socket "$tmp/ecifs/sock" --pid "$init_pid" --daemon-pid "${server_pid[ecifs]}" \
  --ecifs-root "$tmp/ecifs/state/containers/bench" "${quick_flag[@]}" --out "$tmp/lifecycle.json"

if (( profile )); then
  mkdir -p bench/results
  for name in "${ecifs_names[@]}" lxcfs bare-stock bare-own bare-cached; do
    case $name in
      ecifs*) path=$tmp/$name/state/containers/bench/proc/meminfo ;;
      *) path=$tmp/$name/proc/meminfo ;;
    esac
    strace -c -f -p "${server_pid[$name]}" -o "bench/results/strace-$name.txt" &
    strace_pid=$!
    sleep 0.5
    "$bench" loop --path "$path" --count 2000
    kill -INT "$strace_pid"
    wait "$strace_pid" 2> /dev/null || true
    say "strace -c of $name over 2000 reads: bench/results/strace-$name.txt"
  done
fi

# ------------------------------------------------------------------ report
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
meta=(--meta "date=$(date -u +%Y-%m-%dT%H:%MZ)"
      --meta "host=$(hostname)"
      --meta "CPU=$(nproc) × $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
      --meta "kernel=$(uname -r)"
      --meta "libfuse=$(pkg-config --modversion fuse3)"
      --meta "LXCFS=$(lxcfs --version 2>&1 | head -1) (started with -f only, as Debian's service does)"
      --meta "ecifs=$(git rev-parse --short HEAD 2> /dev/null || echo '?')$(git diff --quiet HEAD -- 2> /dev/null || echo ' + local changes'), $build_dir (RelWithDebInfo), default --threads ($(nproc))"
      --meta "baseline=$(if [[ -n "${baseline_commit:-}" ]]; then echo "ecifs-before: $baseline_commit, $BENCH_BASELINE_BIN"; else echo none; fi)"
      --meta "cgroups=$(if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then echo v2; else echo v1/v2 hybrid; fi)"
      --meta "load average (1/5/15 min)=$load_before before, $load_after after (other work on the machine)"
      --meta "mode=$( (( quick )) && echo quick || echo full)")
report_in=(--in "read=$tmp/read.json" --in "trap=$tmp/trap.json" --in "idle=$tmp/idle.json"
           --in "lifecycle=$tmp/lifecycle.json")
if (( quick )); then
  "$bench" report "${report_in[@]}" "${meta[@]}" --markdown "$tmp/report.md"
else
  mkdir -p bench/results
  "$bench" report "${report_in[@]}" "${meta[@]}" --markdown "$tmp/report.md" \
    --csv bench/results/latest.csv --json bench/results/latest.json > /dev/null
  begin='<!-- bench.sh: generated from here -->'
  end='<!-- bench.sh: generated up to here -->'
  [[ -f BENCHMARKS.md ]] || printf '# Benchmarks\n\n%s\n%s\n' "$begin" "$end" > BENCHMARKS.md
  if ! grep -qF "$begin" BENCHMARKS.md; then printf '\n%s\n%s\n' "$begin" "$end" >> BENCHMARKS.md; fi
  awk -v b="$begin" -v e="$end" -v f="$tmp/report.md" '
    $0 == b { print; while ((getline l < f) > 0) print l; skip = 1; next }
    $0 == e { skip = 0 }
    !skip { print }' BENCHMARKS.md > "$tmp/BENCHMARKS.md"
  cat "$tmp/BENCHMARKS.md" > BENCHMARKS.md
  cat "$tmp/report.md"
  say "wrote BENCHMARKS.md and bench/results/latest.{csv,json}"
fi
# The bare servers print their opcode counts when stopped (see cleanup); keep them.
if (( profile )); then
  for loop in stock own cached; do
    kill -TERM "${server_pid[bare-$loop]}"
    wait "${server_pid[bare-$loop]}" 2> /dev/null || true
    cp "$tmp/bare-$loop.log" "bench/results/opcodes-bare-$loop.txt"
  done
fi
