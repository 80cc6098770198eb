#!/bin/bash
# The cgroup v2 test route: boot a real Debian kernel with cgroup_no_v1=all under qemu
# (software emulation) and run ecifs's binaries and the checks of tests/vm/ inside it.
#
#   scripts/vm-test.sh [BIN_DIR]   BIN_DIR holds ecifs, ecifsctl and ecifs-runc (default: build)
#   scripts/vm-test.sh --can-run   exit 0 if this machine can run the route, else say why
#
# Exits 0 only if the guest printed "RESULT: PASS". The serial console goes to stdout and
# to build-vm/serial.log. Nothing is installed: the kernel package is fetched with
# `apt-get download` and unpacked with `dpkg -x` into a cache that later runs reuse.
#
#   VM_CACHE=DIR     kernel cache (default /var/cache/ecifs-vm, or build-vm/cache if that
#                    is not writable)
#   VM_KPKG=NAME     kernel package (default: the newest cached, else the newest
#                    linux-image-6.1.0-N-cloud-amd64 apt offers)
#   VM_TIMEOUT=SECS  deadline for the guest (default 300)
#   VM_SMP=2 VM_MEM=1536    (the system container's image lives in the initramfs)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
t_start=$SECONDS

log() { echo "vm-test.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# Tools that the route needs on the host; host tools are copied into the guest with
# their libraries.
HOST_TOOLS=(/usr/bin/free /usr/bin/top /usr/bin/vmstat /usr/bin/uptime /usr/bin/lscpu
            /usr/bin/getconf /usr/bin/nproc)
PYTHON=/usr/bin/python3.11

# can_run: print why this machine cannot run the route (and return 1), or return 0.
can_run() {
  local missing=() c
  for c in qemu-system-x86_64 cpio gzip gcc ldd objcopy dpkg apt-get apt-cache timeout flock runc mmdebstrap; do
    command -v "$c" >/dev/null || missing+=("$c")
  done
  for c in "${HOST_TOOLS[@]}"; do [[ -x $c ]] || missing+=("$c"); done
  if [[ ! -x /bin/busybox ]]; then
    missing+=("/bin/busybox")
  elif ldd /bin/busybox >/dev/null 2>&1; then
    missing+=("a static /bin/busybox (package busybox-static)")
  fi
  if (( ${#missing[@]} )); then
    echo "missing ${missing[*]} (sudo bash scripts/setup.sh installs them)"
    return 1
  fi
  if ! ls "$(cache_dir)"/debs/linux-image-*.deb >/dev/null 2>&1 && [[ -z "$(kernel_package)" ]] && (( EUID != 0 )); then
    echo "no cached kernel and apt offers no linux-image-6.1.0-*-cloud-amd64 (run apt-get update as root)"
    return 1
  fi
  return 0
}

cache_dir() {
  if [[ -n "${VM_CACHE:-}" ]]; then echo "$VM_CACHE"
  elif mkdir -p /var/cache/ecifs-vm 2>/dev/null && [[ -w /var/cache/ecifs-vm ]]; then echo /var/cache/ecifs-vm
  else echo "$repo/build-vm/cache"; fi
}

# kernel_package: VM_KPKG, or the newest linux-image-6.1.0-N-cloud-amd64 apt knows.
kernel_package() {
  if [[ -n "${VM_KPKG:-}" ]]; then echo "$VM_KPKG"; return; fi
  apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' 2>/dev/null \
    | awk '{print $1}' | sort -V | tail -n 1
}

if [[ "${1:-}" == --can-run ]]; then
  why=$(can_run) && exit 0
  echo "$why"
  exit 1
fi
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 0
fi

bin_dir=${1:-build}
[[ $bin_dir == /* ]] || bin_dir=$repo/$bin_dir
for b in ecifs ecifsctl ecifs-runc; do [[ -x $bin_dir/$b ]] || die "no $bin_dir/$b (build first: bash scripts/build.sh)"; done
if ! why=$(can_run); then die "cannot run: $why"; fi

cache=$(cache_dir)
mkdir -p "$cache/debs" "$repo/build-vm"
serial_log=$repo/build-vm/serial.log
work=$(mktemp -d "${TMPDIR:-/tmp}/ecifs-vm.XXXXXX")
pidfile=$work/qemu.pid

cleanup() {
  local pid
  if [[ -s $pidfile ]]; then
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [[ -n $pid && "$(cat /proc/"$pid"/comm 2>/dev/null)" == qemu-system-* ]]; then
      kill "$pid" 2>/dev/null || true
      for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. the kernel: cached .deb -> cached vmlinuz + fuse.ko ------------------------------
# flock: concurrent runs share the cache.
exec 9>"$cache/.lock"
flock 9
deb=""
if [[ -n "${VM_KPKG:-}" ]]; then
  deb=$(ls "$cache/debs/${VM_KPKG}"_*.deb 2>/dev/null | sort -V | tail -n 1 || true)
else
  deb=$(ls "$cache"/debs/linux-image-6.1.0-*-cloud-amd64_*.deb 2>/dev/null | sort -V | tail -n 1 || true)
fi
if [[ -z $deb ]]; then
  kpkg=$(kernel_package)
  if [[ -z $kpkg ]]; then
    log "apt knows no linux-image-6.1.0-*-cloud-amd64: apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    kpkg=$(kernel_package)
  fi
  [[ -n $kpkg ]] || die "apt offers no linux-image-6.1.0-*-cloud-amd64 package"
  log "downloading $kpkg (apt-get download, cached in $cache/debs)"
  # a directory apt's sandbox user may write (else apt warns and downloads as root)
  mkdir -p "$work/dl"
  if (( EUID == 0 )) && id _apt >/dev/null 2>&1; then chmod 755 "$work"; chown _apt "$work/dl"; fi
  (cd "$work/dl" && apt-get download -q "$kpkg" >&2) || {
    apt-get update -qq >&2 && (cd "$work/dl" && apt-get download -q "$kpkg" >&2)
  } || die "apt-get download $kpkg failed"
  mv "$work/dl/$kpkg"_*.deb "$cache/debs/"
  deb=$(ls "$cache/debs/$kpkg"_*.deb | sort -V | tail -n 1)
fi
kdir=$cache/kernel/$(basename "$deb" .deb)
if [[ ! -s $kdir/vmlinuz || ! -s $kdir/fuse.ko ]]; then
  log "unpacking $(basename "$deb") (dpkg -x, nothing installed)"
  dpkg -x "$deb" "$work/kpkg"
  mkdir -p "$kdir.tmp"
  cp "$work"/kpkg/boot/vmlinuz-* "$kdir.tmp/vmlinuz"
  fuseko=$(find "$work/kpkg/lib/modules" -name 'fuse.ko*' | head -n 1)
  [[ -n $fuseko ]] || die "no fuse.ko in $(basename "$deb")"
  case $fuseko in
    *.ko) cp "$fuseko" "$kdir.tmp/fuse.ko" ;;
    *.ko.xz) xz -dc "$fuseko" > "$kdir.tmp/fuse.ko" ;;
    *.ko.zst) zstd -dcq "$fuseko" > "$kdir.tmp/fuse.ko" ;;
    *) die "cannot unpack $fuseko" ;;
  esac
  rm -rf "$kdir" "$work/kpkg"
  mv "$kdir.tmp" "$kdir"
fi
flock -u 9
exec 9>&-
log "kernel: $(basename "$deb")"

# ---- 2. the initramfs -------------------------------------------------------------------
R=$work/root
mkdir -p "$R"/{bin,sbin,dev,proc,sys,tmp,run,root,etc,vm,usr/bin,usr/sbin,lib/modules}
cp /bin/busybox "$R/bin/busybox"
cp "$kdir/fuse.ko" "$R/lib/modules/fuse.ko"
for b in ecifs ecifsctl ecifs-runc; do objcopy --strip-debug "$bin_dir/$b" "$R/usr/bin/$b"; done
for tool in "${HOST_TOOLS[@]}"; do cp -L "$tool" "$R/usr/bin/"; done
# The system container (tests/vm/system.sh): runc, Debian's systemd image as its rootfs,
# its config.json, and the failed units README.md explains.
cp -L "$(command -v runc)" "$R/usr/bin/runc"
mkdir -p "$R/system/rootfs"
systemd_rootfs=$("$PYTHON" tests/engines/image.py --systemd --rootfs) || die "cannot build the systemd image"
tar -xf "$systemd_rootfs" -C "$R/system/rootfs" \
  --exclude='./dev/*' --exclude='./usr/share/locale/*' --exclude='./usr/share/i18n/*'
"$PYTHON" tests/vm/system_bundle.py "$R/system/config.json"
sed -n '/^## System containers/,/^## [^S]/p' README.md | sed -n 's/^| `\([^`]*\)` |.*/\1/p' > "$R/system/explained"
gcc -O2 -static -o "$R/usr/bin/memhog" tests/vm/memhog.c
# Everything else is copied at its host path: one list, one `cpio -p` (dereferencing).
copy_list=$work/copy.list
: > "$copy_list"
if [[ -x $PYTHON ]]; then
  # python3 and only the standard library modules its start-up and `import os` load
  # (what python3 -c 'import os; print(os.cpu_count())' needs), with their .pyc.
  cp -L "$PYTHON" "$R/usr/bin/python3"
  mkdir -p "$R/usr/lib/python3.11/lib-dynload"
  env -i "$PYTHON" -c '
import os, sys, encodings.ascii, encodings.latin_1
os.cpu_count()
for m in list(sys.modules.values()):
    for f in (getattr(m, "__file__", None), getattr(m, "__cached__", None)):
        if f and f.startswith("/usr/lib/python3.11/") and os.path.exists(f):
            print(f)
print("/usr/lib/python3.11/os.py")' >> "$copy_list"
else
  log "no $PYTHON: the guest's python3 check will fail"
fi
# shared libraries at the paths ldd names, the loader included
ldd "$R"/usr/bin/* 2>/dev/null | grep -o '/[^ ]*' | grep -v "^$R" >> "$copy_list" || true
for ti in /lib/terminfo/l/linux /lib/terminfo/d/dumb /usr/share/terminfo/l/linux /usr/share/terminfo/d/dumb; do
  [[ -e $ti ]] && echo "$ti" >> "$copy_list"
done
sort -u "$copy_list" | cpio -pdmL --quiet "$R"
echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"
echo 'root:x:0:' > "$R/etc/group"
cp tests/vm/init.sh "$R/init"
cp tests/vm/lib.sh tests/vm/enter.sh tests/vm/box.sh tests/vm/ancestor.sh tests/vm/system.sh "$R/vm/"
chmod 755 "$R/init"
# uncompressed: the kernel unpacks it faster than it would gunzip it under emulation
(cd "$R" && find . | cpio -o -H newc -R 0:0 --quiet) > "$work/initramfs.cpio"
log "initramfs: $(du -m "$work/initramfs.cpio" | cut -f1) MiB, ready after $((SECONDS - t_start)) s"

# ---- 3. boot --------------------------------------------------------------------------
append="console=ttyS0 panic=-1 quiet cgroup_no_v1=all psi=1 rdinit=/init"
t_boot=$SECONDS
set +e
timeout -k 5 "${VM_TIMEOUT:-300}" qemu-system-x86_64 \
  -accel tcg,thread=multi -cpu max -smp "${VM_SMP:-2}" -m "${VM_MEM:-1536}" \
  -nodefaults -no-user-config -display none -serial stdio -no-reboot \
  -kernel "$kdir/vmlinuz" -initrd "$work/initramfs.cpio" -append "$append" \
  -pidfile "$pidfile" </dev/null 2>&1 | tr -d '\r' | tee "$serial_log"
qemu_rc=${PIPESTATUS[0]}
set -e
(( qemu_rc == 124 )) && log "the guest did not finish within ${VM_TIMEOUT:-300} s: qemu killed"
log "qemu exit $qemu_rc; boot+checks $((SECONDS - t_boot)) s, total $((SECONDS - t_start)) s; log: build-vm/serial.log"
if grep -q '^RESULT: PASS' "$serial_log"; then
  log "PASS"
  exit 0
fi
log "FAIL (no 'RESULT: PASS' from the guest)"
exit 1
