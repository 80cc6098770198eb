#!/bin/bash
# Install what ecifs needs to build, test and demo on Debian 12 (run as root).
# Idempotent: skips apt entirely when everything is installed; --force always runs it.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  clang-tidy  # scripts/check-structure.sh: function lengths
  clang libclang-rt-14-dev  # scripts/fuzz.sh: libFuzzer, ASan, UBSan
  libfuse3-dev fuse3
  libboost-dev libfmt-dev nlohmann-json3-dev libcli11-dev libspdlog-dev
  libgtest-dev libseccomp-dev
  systemd  # tests/integration/test_service.py: systemd-analyze verify of the unit
  runc busybox-static procps util-linux iproute2 coreutils
  python3 python3-pytest
  python3-yaml  # tests/integration/test_recipes.py: the Kubernetes manifests
  python3-matplotlib  # scripts/stress.sh --plot
  groff-base  # tests/integration/test_man_pages.py: the man pages format cleanly
  man-db  # systemd-analyze verify finds the unit's Documentation= pages; tests/package
  qemu-system-x86 cpio  # scripts/vm-test.sh: the cgroup v2 VM
  # tests/engines: each engine runs containers through ecifs-runc; mmdebstrap builds
  # their image from Debian's archive (no registry needed).
  docker.io containerd podman mmdebstrap
)

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) echo "usage: $0 [--force]"; exit 0 ;;
    *) echo "setup.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [[ "$status" == ii* ]] || missing+=("$p")
done

check_fuse() {
  # The daemon needs the kernel's FUSE device.
  if [[ ! -e /dev/fuse ]]; then
    modprobe fuse 2>/dev/null || true
  fi
  [[ -e /dev/fuse ]] || echo "setup.sh: warning: /dev/fuse is missing (no FUSE in this kernel?)" >&2
}

# Docker's "userns-remap": "default" maps containers to the subordinate ids of the
# user dockremap. Made here, once, as dockerd would make it on its first start (a
# system user and the first free 65536 ids from 100000), so that starting dockerd
# changes nothing on the host.
ensure_dockremap() {
  if ! getent passwd dockremap >/dev/null; then
    useradd --system --no-create-home --shell /bin/false --user-group dockremap
  fi
  if ! grep -q '^dockremap:' /etc/subuid 2>/dev/null || ! grep -q '^dockremap:' /etc/subgid 2>/dev/null; then
    usermod --add-subuids 100000-165535 --add-subgids 100000-165535 dockremap
  fi
}

# Installing docker.io or containerd must not start the host's own daemons (on a host
# with an init that runs services): invoke-rc.d asks policy-rc.d, 101 means "no".
without_service_starts() {
  if [[ -e /usr/sbin/policy-rc.d ]]; then "$@"; return; fi
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  local rc=0
  "$@" || rc=$?
  rm -f /usr/sbin/policy-rc.d
  return $rc
}

if (( force == 0 && ${#missing[@]} == 0 )); then
  echo "setup.sh: all ${#PACKAGES[@]} packages installed"
  check_fuse
  if (( EUID == 0 )); then ensure_dockremap; fi
  exit 0
fi

if (( EUID != 0 )); then
  echo "setup.sh: must run as root to install: ${missing[*]:-${PACKAGES[*]}}" >&2
  exit 1
fi

echo "setup.sh: installing ${missing[*]:-(forced) ${PACKAGES[*]}}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
without_service_starts apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 "${PACKAGES[@]}"
check_fuse
ensure_dockremap
