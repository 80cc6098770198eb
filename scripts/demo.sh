#!/bin/bash
# The README's main command: install, build, start the ecifs daemon, run a real runc
# container through ecifs-runc (user namespace, 256 MiB memory limit, 1.5 CPUs) and
# show what it sees next to what the host sees. Everything is cleaned up on exit: the
# container, its cgroups, the daemon, its mounts and the temporary directories.
#
#   ECIFS_BIN_DIR=DIR  use binaries from DIR instead of building into build/
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

if [[ -z "${ECIFS_BIN_DIR:-}" ]]; then
  bash scripts/setup.sh
  bash scripts/build.sh
  bin=$repo/build
else
  bin=$(cd "$ECIFS_BIN_DIR" && pwd)
fi
# shellcheck source=lib/rootfs.sh
source scripts/lib/rootfs.sh

MEMORY=$((256 * 1024 * 1024))
CPUS=1.5
cid=ecifs-demo-$$
tmp=$(mktemp -d /tmp/ecifs-demo.XXXXXX)
chmod 755 "$tmp"  # the container's root (host uid 100000) must traverse it
state=$tmp/state
sock=$tmp/run/ecifs.sock
runc_root=$tmp/runc
mkdir -p "$state" "$tmp/run" "$runc_root"
chmod 755 "$state" "$tmp/run"
daemon_pid=

export ECIFS_SOCKET=$sock
shim() { "$bin/ecifs-runc" --root "$runc_root" "$@"; }

mounts_under() {  # mount points below $1, deepest first
  awk -v base="$1" '{ if ($5 == base || index($5, base "/") == 1) print $5 }' /proc/self/mountinfo |
    awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2-
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if runc --root "$runc_root" state "$cid" >/dev/null 2>&1; then
    shim delete -f "$cid" >/dev/null 2>&1 || runc --root "$runc_root" delete -f "$cid" >/dev/null 2>&1
  fi
  if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    # The full stop: a plain SIGTERM would leave the views for the next daemon
    # (docs/restart.md); stop-all unmounts them and ends the fd holder too.
    "$bin/ecifs" --stop-all --socket "$sock" >/dev/null || kill -TERM "$daemon_pid"
    for _ in $(seq 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$daemon_pid" 2>/dev/null; then
      echo "demo: ecifs did not stop on SIGTERM, killing it" >&2
      kill -KILL "$daemon_pid"
    fi
    wait "$daemon_pid" 2>/dev/null
  fi
  local left=()
  while read -r m; do
    [[ -n "$m" ]] && left+=("$m") && umount -l "$m"
  done < <(mounts_under "$tmp")
  for cg in /sys/fs/cgroup/*/"$cid"; do
    [[ -d "$cg" ]] && left+=("$cg") && rmdir "$cg"
  done
  if [[ -z "$(mounts_under "$tmp")" ]]; then
    rm -rf "$tmp"
  else
    echo "demo: still mounted under $tmp, not deleting it" >&2
  fi
  if (( ${#left[@]} )); then
    echo "demo: had to remove leftovers: ${left[*]}" >&2
  else
    echo "demo: cleaned up: no container, mount, cgroup or process left"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "demo: starting ecifs (state $state, socket $sock)"
"$bin/ecifs" --foreground --state-dir "$state" --socket "$sock" --log-level info \
  </dev/null 2>"$tmp/ecifs.log" &
daemon_pid=$!
for _ in $(seq 100); do
  "$bin/ecifsctl" --socket "$sock" list >/dev/null 2>&1 && break
  if ! kill -0 "$daemon_pid" 2>/dev/null; then
    echo "demo: ecifs exited while starting:" >&2; cat "$tmp/ecifs.log" >&2; exit 1
  fi
  sleep 0.1
done
"$bin/ecifsctl" --socket "$sock" list >/dev/null || { cat "$tmp/ecifs.log" >&2; exit 1; }

echo "demo: building a rootfs and running container $cid (user namespace, 256 MiB, $CPUS CPUs)"
ecifs_make_bundle "$tmp/bundle" --memory "$MEMORY" --cpus "$CPUS" --cgroups-path "/$cid"
if ! shim run -d -b "$tmp/bundle" "$cid" </dev/null >"$tmp/container.log" 2>&1; then
  echo "demo: ecifs-runc run failed:" >&2
  cat "$tmp/container.log" >&2
  echo "--- ecifs log ---" >&2; tail -n 50 "$tmp/ecifs.log" >&2
  exit 1
fi

show() {
  echo
  echo "\$ $1"
  echo "  host:"
  sh -c "$1" 2>&1 | sed 's/^/    /'
  echo "  container (256 MiB, $CPUS CPUs):"
  shim exec "$cid" sh -c "$1" 2>&1 | sed 's/^/    /'
}
show "free -m"
show "cat /proc/meminfo | head -n 5"
show "cat /proc/uptime"
show "cat /sys/devices/system/cpu/online"
show "nproc"
echo
echo "(nproc counts the CPUs a process may run on, which a quota does not change;"
echo " /sys/devices/system/cpu/online is capped at ceil(quota/period).)"
