#!/bin/bash
# Build an OCI bundle for a small runc container: BUNDLE/rootfs (a skeleton with
# proc sys dev tmp etc usr root, the merged-/usr symlinks bin sbin lib lib64, a minimal
# /etc) and BUNDLE/config.json, which bind-mounts the host's /usr read-only onto /usr
# (procps, busybox-static, python3, util-linux are then there). With a user namespace
# (the default) container ids 0..65535 are host 100000..165535 and the rootfs is owned
# by 100000; every directory above BUNDLE must be traversable by that uid.
#
# Source it and call  ecifs_make_bundle BUNDLE [options] [-- ARGS...]  or run it:
#   scripts/lib/rootfs.sh BUNDLE [--memory BYTES] [--cpus 1.5] [--cgroups-path /name]
#                         [--no-userns] [--host-id 100000] [--hostname NAME] [-- ARGS...]
# (default ARGS: sleep infinity). The work is done by tests/integration/ecifs_bundle.py,
# which the integration tests use too.

ECIFS_REPO=${ECIFS_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

ecifs_make_bundle() {
  /usr/bin/python3 "$ECIFS_REPO/tests/integration/ecifs_bundle.py" "$@"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  ecifs_make_bundle "$@"
fi
