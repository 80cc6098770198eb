#!/bin/bash
# Restart survival, measured (issue 12, docs/restart.md): kill -9 of a daemon serving
# 100 and 1000 containers, and how long until it serves them all again (bench/restart.py).
# usage: sudo bash scripts/bench-restart.sh [--quick] [--json FILE]
#   --quick   10 and 100 containers
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=(100 1000)
json=()
while (( $# )); do
  case "$1" in
    --quick) sizes=(10 100) ;;
    --json) json=(--json "$(realpath -m "$2")"); shift ;;
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-restart.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $EUID -eq 0 ]] || { echo "bench-restart.sh: run as root (FUSE mounts, the fd holder)" >&2; exit 1; }
bash scripts/setup.sh
bash scripts/build.sh > /dev/null

work=$(mktemp -d /tmp/ecifs-bench-restart.XXXXXX)
chmod 755 "$work"
cleanup() {
  local rc=$? m
  set +e
  # bench/restart.py stops each daemon with stop-all; what a failure left is removed here.
  for holder in "$work"/n*/state/holder.sock; do
    [[ -S "$holder" ]] && python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1]); s.send(b"quit"); s.recv(64)' "$holder"
  done
  while read -r m; do [[ -n "$m" ]] && umount -l "$m"; done < <(awk -v b="$work" 'index($5, b "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT INT TERM
python3 bench/restart.py --bin-dir build --work "$work" --containers "${sizes[@]}" "${json[@]}"
