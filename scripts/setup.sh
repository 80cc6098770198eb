#!/bin/bash
# Install what ecifs needs to build, test and demo on Debian 12 (run as root).
# Idempotent: skips apt entirely when everything is installed; --force always runs it.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libfuse3-dev fuse3
  libboost-dev libfmt-dev nlohmann-json3-dev libcli11-dev libspdlog-dev
  libgtest-dev libseccomp-dev
  runc busybox-static procps util-linux iproute2 coreutils
  python3 python3-pytest
  qemu-system-x86 cpio  # scripts/vm-test.sh: the cgroup v2 VM
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

if (( force == 0 && ${#missing[@]} == 0 )); then
  echo "setup.sh: all ${#PACKAGES[@]} packages installed"
  check_fuse
  exit 0
fi

if (( EUID != 0 )); then
  echo "setup.sh: must run as root to install: ${missing[*]:-${PACKAGES[*]}}" >&2
  exit 1
fi

echo "setup.sh: installing ${missing[*]:-(forced) ${PACKAGES[*]}}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${PACKAGES[@]}"
check_fuse
