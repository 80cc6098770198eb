#!/bin/busybox sh
# /init of the ecifs cgroup v2 test VM (scripts/vm-test.sh builds the initramfs).
# Sets up cgroup v2 + FUSE, starts the ecifs daemon, prepares two containers by hand
# with ecifsctl (as ecifs-runc would), runs the checks inside each container's cgroup
# and private mount namespace with the views bound, boots a systemd container through
# runc + ecifs-runc (system.sh), prints RESULT: PASS|FAIL, powers off.
/bin/busybox --install -s /bin
export PATH=/usr/bin:/usr/sbin:/bin:/sbin TERM=linux HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
exec </dev/console >/dev/console 2>&1
. /vm/lib.sh
: > $RESULTS

echo "=== GUEST UP: kernel $(uname -r), uptime $(cut -d' ' -f1 /proc/uptime)s, $(grep -c ^processor /proc/cpuinfo) CPUs, $(grep MemTotal /proc/meminfo | tr -s ' ')"
echo "=== cmdline: $(cat /proc/cmdline)"

finish() {
    local fails skips
    fails=$(grep -c '^FAIL' $RESULTS)
    skips=$(grep -c '^SKIP' $RESULTS)
    if [ "$fails" -gt 0 ] && [ -f /tmp/ecifs.log ]; then
        echo "=== last lines of the daemon's log:"; tail -n 40 /tmp/ecifs.log
    fi
    echo "=== $(grep -c '^ok' $RESULTS) ok, $fails failed, $skips skipped; guest uptime $(cut -d' ' -f1 /proc/uptime)s"
    if [ "$fails" -eq 0 ] && [ "${1:-}" != abort ]; then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
    sync
    poweroff -f
}

# ---- cgroup v2 with controllers, FUSE ----------------------------------------------
CG=/sys/fs/cgroup
mount -t cgroup2 -o nsdelegate cgroup2 $CG || { bad "mount cgroup2"; finish abort; }
grep -q '^cgroup ' /proc/mounts && bad "a cgroup v1 hierarchy is mounted"
echo "+cpu +cpuset +memory +io +pids" > $CG/cgroup.subtree_control
eq "root cgroup.subtree_control" "$(cat $CG/cgroup.subtree_control)" "cpuset cpu io memory pids"
[ -e /dev/fuse ] || insmod /lib/modules/fuse.ko
[ -c /dev/fuse ] && ok "/dev/fuse after insmod fuse.ko" || { bad "/dev/fuse missing"; finish abort; }

# ---- the daemon ---------------------------------------------------------------------
export ECIFS_SOCKET=/tmp/ecifs.sock
ecifs --foreground --state-dir /tmp/st --socket $ECIFS_SOCKET 2>/tmp/ecifs.log &
DPID=$!
i=0
while [ ! -S $ECIFS_SOCKET ] && [ $i -lt 200 ] && kill -0 $DPID 2>/dev/null; do usleep 100000; i=$((i + 1)); done
if [ -S $ECIFS_SOCKET ]; then ok "ecifs daemon up (pid $DPID, socket after ~$((i / 10)).$((i % 10))s)"
else bad "ecifs daemon did not create its socket"; cat /tmp/ecifs.log; finish abort; fi

# ---- the containers' cgroups ----------------------------------------------------------
# box: 256M, 1 CPU of quota, cpuset 0. par (200M) / kid (300M): the ancestor is tighter.
B=$CG/box
mkdir $B
echo 256M > $B/memory.max
echo 0 > $B/memory.swap.max
echo "100000 100000" > $B/cpu.max
echo 0 > $B/cpuset.cpus
eq "box memory.max" "$(cat $B/memory.max)" 268435456
eq "box cpu.max" "$(cat $B/cpu.max)" "100000 100000"
eq "box cpuset.cpus" "$(cat $B/cpuset.cpus)" 0
P=$CG/par
mkdir $P
echo "+cpu +cpuset +memory +io +pids" > $P/cgroup.subtree_control
echo 200M > $P/memory.max
mkdir $P/kid
echo 300M > $P/kid/memory.max
eq "par memory.max" "$(cat $P/memory.max)" 209715200
eq "par/kid memory.max" "$(cat $P/kid/memory.max)" 314572800

# Each container's "init": a sleep inside its cgroup.
sh -c "echo \$\$ > $B/cgroup.procs && exec sleep 3600" & BPID=$!
sh -c "echo \$\$ > $P/kid/cgroup.procs && exec sleep 3600" & KPID=$!
usleep 200000
eq "box init's cgroup" "$(cat /proc/$BPID/cgroup)" "0::/box"
eq "kid init's cgroup" "$(cat /proc/$KPID/cgroup)" "0::/par/kid"

# prepare + start, as ecifs-runc and its hook do
for c in "box $BPID" "kid $KPID"; do
    set -- $c
    if t ecifsctl prepare $1 > /tmp/prepare-$1.json; then
        views_from_json /tmp/prepare-$1.json > /tmp/views-$1
        ok "ecifsctl prepare $1: $(wc -l < /tmp/views-$1) views: $(cut -d' ' -f1 /tmp/views-$1 | tr '\n' ' ')"
    else
        bad "ecifsctl prepare $1"; cat /tmp/prepare-$1.json; finish abort
    fi
    t ecifsctl start $1 $2 >/dev/null && ok "ecifsctl start $1 $2" || { bad "ecifsctl start $1 $2"; finish abort; }
done
echo "=== ecifsctl inspect box:"; t ecifsctl inspect box

# ---- checks inside the containers ------------------------------------------------------
export HOST_UPTIME=$(cut -d' ' -f1 /proc/uptime)
echo "=== box: checks in cgroup /box with its views bound (unshare -m); guest uptime $HOST_UPTIME s"
t2() { timeout 240 "$@"; }
t2 unshare -m sh /vm/enter.sh box $B sh /vm/box.sh 268435456 $BPID || bad "box checks ended with exit $?"
echo "=== kid: checks in cgroup /par/kid (ancestor par is tighter); guest uptime $(cut -d' ' -f1 /proc/uptime) s"
t2 unshare -m sh /vm/enter.sh kid $P/kid sh /vm/ancestor.sh 209715200 || bad "kid checks ended with exit $?"

# ---- a system container: systemd through runc + ecifs-runc ---------------------------------
echo "=== system container: Debian's systemd as PID 1 through runc + ecifs-runc; guest uptime $(cut -d' ' -f1 /proc/uptime) s"
. /vm/system.sh

# ---- teardown -------------------------------------------------------------------------
kill -0 $DPID 2>/dev/null && ok "daemon alive after all checks" || bad "daemon died"
for c in box kid; do
    t ecifsctl remove $c >/dev/null && ok "ecifsctl remove $c" || bad "ecifsctl remove $c"
    grep -q " /tmp/st/containers/$c/" /proc/mounts && bad "$c still mounted after remove"
done
kill $BPID $KPID
# SIGTERM leaves the containers to the next daemon (docs/restart.md); stop-all ends all.
t ecifsctl stop-all >/dev/null && ok "ecifsctl stop-all" || bad "ecifsctl stop-all"
wait $DPID; rc=$?
eq "daemon exit status after stop-all" $rc 0
left=$(awk '$3 ~ /^fuse/' /proc/mounts)
[ -z "$left" ] && ok "no FUSE mount left after stop-all" || bad "FUSE mounts left: $left"
# (busybox-static has no pgrep: the command lines, read from /proc)
grep -l __fd-holder /proc/[0-9]*/cmdline >/dev/null 2>&1 && bad "the fd holder still runs after stop-all" \
    || ok "no fd holder left"
finish
