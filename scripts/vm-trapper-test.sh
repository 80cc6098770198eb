#!/bin/bash
# The seccomp trapper's mount work on Debian 12's kernel (6.1) under qemu: a procfs, a
# sysfs, binds and unmounts with the views and masks, from threads too, where the
# kernel lacks what 6.9 (pidfd_open of a thread) and 6.15 (mounting on a detached mount)
# bring. See tests/vm/trapper/probe.c.
#
#   scripts/vm-trapper-test.sh [BIN_DIR]   ecifs from BIN_DIR (default: build)
#
# Uses the kernel scripts/vm-test.sh caches (run that once first). Exits 0 only if the
# guest printed "PROBE PASS"; the serial console goes to build-vm/trapper-serial.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
bin_dir=${1:-build}
[[ $bin_dir == /* ]] || bin_dir=$repo/$bin_dir
[[ -x $bin_dir/ecifs ]] || { echo "vm-trapper-test.sh: no $bin_dir/ecifs (build first)" >&2; exit 1; }
cache=${VM_CACHE:-/var/cache/ecifs-vm}
[[ -d $cache/kernel ]] || cache=$repo/build-vm/cache
kdir=$(ls -d "$cache"/kernel/linux-image-6.1.0-*-cloud-amd64_* 2>/dev/null | sort -V | tail -n 1 || true)
[[ -n $kdir && -s $kdir/vmlinuz && -s $kdir/fuse.ko ]] ||
  { echo "vm-trapper-test.sh: no cached 6.1 kernel in $cache (run scripts/vm-test.sh once)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/ecifs-vm-trapper.XXXXXX")
trap 'rm -rf "$work"' EXIT
R=$work/root
mkdir -p "$R"/{bin,dev,proc,sys,tmp,usr/bin,lib/modules,etc} "$repo/build-vm"
cp /bin/busybox "$R/bin/busybox"
cp "$kdir/fuse.ko" "$R/lib/modules/"
objcopy --strip-debug "$bin_dir/ecifs" "$R/usr/bin/ecifs"
gcc -O2 -static -pthread -Wall -Wextra -Werror -o "$R/usr/bin/probe" tests/vm/trapper/probe.c
ldd "$R/usr/bin/ecifs" | grep -o '/[^ ]*' | sort -u | cpio -pdmL --quiet "$R"
cp tests/vm/trapper/init.sh "$R/init"
chmod 755 "$R/init"
echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"
(cd "$R" && find . | cpio -o -H newc -R 0:0 --quiet) > "$work/initramfs.cpio"
log=$repo/build-vm/trapper-serial.log
timeout -k 5 "${VM_TIMEOUT:-300}" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 1024 \
  -nodefaults -no-user-config -display none -serial stdio -no-reboot \
  -kernel "$kdir/vmlinuz" -initrd "$work/initramfs.cpio" -append "console=ttyS0 panic=-1 quiet rdinit=/init" \
  </dev/null 2>&1 | tr -d '\r' | tee "$log" | grep -E '^(=== GUEST|CHECK|PROBE)' || true
grep -q '^PROBE PASS' "$log"
