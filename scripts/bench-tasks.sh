#!/bin/bash
# The cost of a container's task count to each read of /proc/stat, /proc/loadavg and a
# trapped sysinfo(2), /proc/meminfo as the control (issue 14; bench/tasks.py): a
# container of a few tasks against one of 5000 threads, same daemon, taking turns.
# usage: sudo bash scripts/bench-tasks.sh [--threads N] [--count N] [--rounds N] [--json FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[[ $EUID -eq 0 ]] || { echo "bench-tasks.sh: run as root (FUSE mounts, runc containers)" >&2; exit 1; }
bash scripts/setup.sh
bash scripts/build.sh > /dev/null
# bench/tasks.py deletes its containers and stops its daemon on any exit.
ECIFS_BIN_DIR=$PWD/build exec python3 bench/tasks.py "$@"
