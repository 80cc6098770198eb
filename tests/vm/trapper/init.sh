#!/bin/busybox sh
# /init of the trapper's older-kernel VM (scripts/vm-trapper-test.sh): FUSE and cgroup2
# up, the daemon started, probe.c run, the daemon's log tail printed, power off.
/bin/busybox --install -s /bin
export PATH=/usr/bin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
exec </dev/console >/dev/console 2>&1
echo "=== GUEST UP: kernel $(uname -r)"
insmod /lib/modules/fuse.ko
mount -t cgroup2 none /sys/fs/cgroup
ecifs --foreground --state-dir /tmp/st --socket /tmp/ecifs.sock --log-level debug 2>/tmp/ecifs.log &
i=0
while [ ! -S /tmp/seccomp.sock ] && [ $i -lt 300 ]; do usleep 100000; i=$((i + 1)); done
/usr/bin/probe
# The probe ends from a thread whose main thread exited first: wait for the process.
while pidof probe >/dev/null; do usleep 100000; done
echo "=== the daemon's log, last lines"
tail -n 30 /tmp/ecifs.log
sync
poweroff -f
