#!/bin/bash
# What a container's own cgroups cost /proc/loadavg readers, its own and a neighbour's
# (issue 15; bench/cgroup_walk.py): reads every 50 ms before and after one container
# makes 20,000 empty cgroups below its own, same daemon.
# usage: sudo bash scripts/bench-cgroup-walk.sh [--cgroups N] [--seconds S]
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[[ $EUID -eq 0 ]] || { echo "bench-cgroup-walk.sh: run as root (FUSE mounts, runc containers)" >&2; exit 1; }
bash scripts/setup.sh
bash scripts/build.sh > /dev/null
# bench/cgroup_walk.py deletes its containers and stops its daemon on any exit.
ECIFS_BIN_DIR=${ECIFS_BIN_DIR:-$PWD/build} exec /usr/bin/python3 bench/cgroup_walk.py "$@"
