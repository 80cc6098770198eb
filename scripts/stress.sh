#!/bin/bash
# Stress workloads for ecifs through real runc containers (issue 13; STRESS.md).
#   scripts/stress.sh --quick                    every workload at small sizes (< 3 min)
#   scripts/stress.sh readers --containers 8 --threads 4 --duration 60
#   scripts/stress.sh --soak 30m --json soak.json --plot soak.png
# Installs what is missing (scripts/setup.sh), builds (scripts/build.sh), then runs
# tests/stress/stress.py with the arguments given. Run as root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh > /dev/null
bash scripts/build.sh > /dev/null
exec /usr/bin/python3 tests/stress/stress.py "$@"
