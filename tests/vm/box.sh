# box.sh MEM_BYTES INIT_PID: the checks inside container "box" (cgroup /box: memory.max
# 256M, cpu.max 1 CPU, cpuset 0), run by enter.sh with the views bound. Checks of views
# another issue is adding are conditional: SKIP while the prepare reply lacks the view.
# Debian's busybox-static runs its own applets before PATH (free, top, uptime, nproc are
# applets), so procps and coreutils tools are called by absolute path; `busybox X` is
# busybox's.
. /vm/lib.sh
MEM=$1 INIT=$2
MEMK=$((MEM / 1024))

# ---- memory ---------------------------------------------------------------------------
eq "/proc/meminfo MemTotal (kB)" "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)" $MEMK
eq "free -b total (procps)" "$(t /usr/bin/free -b | awk '/^Mem:/ {print $2}')" $MEM
bb=$(t busybox free -b | awk '/^Mem:/ {print $2}')
if [ "$bb" = "$MEM" ]; then ok "busybox free -b total = $bb"
else skip "busybox free -b total = $bb: busybox takes the totals from sysinfo(2), which only ecifs's seccomp trapper answers (not installed on this ecifsctl-only route)"; fi
eq "busybox top: used + free (kB)" "$(t busybox top -bn1 | awk '/^Mem:/ {print $2 + $4}')" $MEMK
eq "top -bn1 'MiB Mem' total" "$(t /usr/bin/top -bn1 | awk '/^MiB Mem/ {print $4}')" 256.0

# ---- uptime ---------------------------------------------------------------------------
read -r up idle < /proc/uptime
if num_ok "$up" 60 && num_ok "$up" "$HOST_UPTIME" && num_ok "$idle" "$(awk -v u=$up 'BEGIN {print u * 1 + 0.5}')"; then
    ok "/proc/uptime = $up $idle (container's, <= VM uptime $HOST_UPTIME, idle <= up x 1 CPU)"
else
    bad "/proc/uptime = '$up $idle' (VM uptime $HOST_UPTIME)"
fi

# ---- CPUs -----------------------------------------------------------------------------
eq "/sys/devices/system/cpu/online" "$(cat /sys/devices/system/cpu/online)" 0
eq "nproc" "$(t /usr/bin/nproc)" 1
eq "getconf _NPROCESSORS_ONLN" "$(t getconf _NPROCESSORS_ONLN)" 1
eq "python3 os.cpu_count()" "$(t python3 -c 'import os; print(os.cpu_count())')" 1
eq "lscpu On-line CPU(s) list" "$(t lscpu | sed -n 's/^On-line CPU(s) list: *//p')" 0
for f in present possible; do
    if cond_view /sys/devices/system/cpu/$f "/sys/devices/system/cpu/$f = $(cat /sys/devices/system/cpu/$f)"; then
        eq "/sys/devices/system/cpu/$f" "$(cat /sys/devices/system/cpu/$f)" 0
    fi
done
if cond_view /sys/devices/system/cpu/possible "getconf _NPROCESSORS_CONF = $(getconf _NPROCESSORS_CONF), nproc --all = $(/usr/bin/nproc --all), lscpu CPU(s) = $(lscpu | sed -n 's/^CPU(s): *//p')"; then
    eq "getconf _NPROCESSORS_CONF" "$(t getconf _NPROCESSORS_CONF)" 1
    eq "nproc --all" "$(t /usr/bin/nproc --all)" 1
    eq "lscpu CPU(s)" "$(t lscpu | sed -n 's/^CPU(s): *//p')" 1
fi
if cond_view /sys/devices/system/cpu/cpu0 "cpuN directories: $(ls -d /sys/devices/system/cpu/cpu[0-9]* | tr '\n' ' ')"; then
    eq "cpuN directories" "$(ls -d /sys/devices/system/cpu/cpu[0-9]* | tr '\n' ' ')" "/sys/devices/system/cpu/cpu0 "
fi
if cond_view /proc/cpuinfo "grep -c ^processor /proc/cpuinfo = $(grep -c ^processor /proc/cpuinfo)"; then
    eq "grep -c ^processor /proc/cpuinfo" "$(grep -c ^processor /proc/cpuinfo)" 1
    eq "/proc/cpuinfo processor/siblings/cpu cores" \
        "$(awk -F': ' '/^processor/ {p = $2} /^siblings/ {s = $2} /^cpu cores/ {c = $2} END {print p "/" s "/" c}' /proc/cpuinfo)" "0/1/1"
fi

# ---- top, vmstat ----------------------------------------------------------------------
t /usr/bin/top -bn1 > /tmp/top.out; rc=$?
[ $rc -eq 0 ] && ok "top -bn1 exits 0" || bad "top -bn1 exit $rc"
head -n 5 /tmp/top.out | sed 's/^/    | /'
t /usr/bin/vmstat 1 2 > /tmp/vmstat.out; rc=$?
[ $rc -eq 0 ] && ok "vmstat 1 2 exits 0" || bad "vmstat 1 2 exit $rc"
sed 's/^/    | /' /tmp/vmstat.out

# ---- other views: readable, kernel format ----------------------------------------------
if cond_view /proc/stat "/proc/stat"; then
    eq "/proc/stat cpuN lines" "$(grep -c '^cpu[0-9]' /proc/stat)" 1
    grep -q '^btime ' /proc/stat && ok "/proc/stat has btime" || bad "/proc/stat: no btime"
fi
# busybox cat reads with sendfile: on this kernel (6.1) through read_iter, not the page
# cache, whatever a plain read did before (fs/page_cache.hpp).
if cond_view /proc/uptime "/proc/uptime"; then
    /usr/bin/cat /proc/uptime > /dev/null
    a=$(busybox cat /proc/uptime); b=$(busybox cat /proc/uptime)
    echo "$a" | grep -Eq '^[0-9]+\.[0-9]{2} [0-9]+\.[0-9]{2}$' && [ -n "$b" ] \
        && ok "busybox cat after cat: /proc/uptime = $a" || bad "busybox cat after cat: '$a' '$b'"
fi
if cond_view /proc/loadavg "/proc/loadavg"; then
    grep -Eq '^[0-9]+\.[0-9]{2} [0-9]+\.[0-9]{2} [0-9]+\.[0-9]{2} [0-9]+/[0-9]+ [0-9]+$' /proc/loadavg \
        && ok "/proc/loadavg format: $(cat /proc/loadavg)" || bad "/proc/loadavg = '$(cat /proc/loadavg)'"
fi
if cond_view /proc/swaps "/proc/swaps"; then
    eq "/proc/swaps header" "$(head -n 1 /proc/swaps | awk '{print $1}')" Filename
fi
if cond_view /proc/diskstats "/proc/diskstats"; then
    cat /proc/diskstats > /dev/null && ok "/proc/diskstats readable ($(wc -l < /proc/diskstats) lines)" || bad "/proc/diskstats unreadable"
fi
if cond_view /proc/vmstat "/proc/vmstat"; then
    grep -q '^nr_free_pages [0-9]' /proc/vmstat && ok "/proc/vmstat has nr_free_pages" || bad "/proc/vmstat: no nr_free_pages"
fi
for f in cpu memory io; do
    if cond_view /proc/pressure/$f "/proc/pressure/$f"; then
        grep -Eq '^some avg10=[0-9.]+ avg60=[0-9.]+ avg300=[0-9.]+ total=[0-9]+$' /proc/pressure/$f \
            && ok "/proc/pressure/$f: $(head -n 1 /proc/pressure/$f)" || bad "/proc/pressure/$f = '$(cat /proc/pressure/$f)'"
    fi
done

# ---- a busy loop raises the container's user time and load; the idle one beside stays ---
KID=/tmp/st/containers/kid   # the idle container's own mount: read it directly
stat_user() { awk '/^cpu / {print $2}' "$1"; }
load1() { cut -d' ' -f1 "$1"; }
if has_view /proc/stat || has_view /proc/loadavg; then
    has_view /proc/stat && { u0=$(stat_user /proc/stat); ku0=$(stat_user $KID/proc/stat); }
    has_view /proc/loadavg && l0=$(load1 /proc/loadavg)
    ( while :; do :; done ) & busy=$! b0=$(date +%s)
    i=0
    while [ $i -lt 20 ]; do
        sleep 1; i=$((i + 1))
        [ $i -ge 3 ] || continue
        has_view /proc/loadavg || break
        awk -v a="$(load1 /proc/loadavg)" -v b="$l0" 'BEGIN { exit !(a > b) }' && break
    done
    # Every 1-s sample shows the loop (vmstat re-reads /proc/stat from offset 0; a counter
    # that stepped back made procps zero a sample: handlers/stat.cpp).
    has_view /proc/stat && { t /usr/bin/vmstat 1 4 > /tmp/vmstat-busy.out; sed 's/^/    | /' /tmp/vmstat-busy.out; }
    # /proc/stat re-read from one descriptor for 5 s: no counter of a cpu line goes down.
    has_view /proc/stat && back=$(t python3 -c '
import time
f, last, down = open("/proc/stat", "rb", buffering=0), None, 0
for _ in range(100):
    f.seek(0)
    now = [[int(v) for v in l.split()[1:]] for l in f.read().decode().splitlines() if l.startswith("cpu")]
    down += sum(b < a for old, new in zip(last or now, now) for a, b in zip(old, new))
    last = now
    time.sleep(0.05)
print(down)')
    has_view /proc/stat && u1=$(stat_user /proc/stat) && ku1=$(stat_user $KID/proc/stat) && b1=$(date +%s)
    has_view /proc/loadavg && { l1=$(load1 /proc/loadavg); kl1=$(load1 $KID/proc/loadavg); }
    kill $busy; wait $busy 2>/dev/null
    if has_view /proc/stat; then
        num_ok "$u0" 1e18 && num_ok "$u1" 1e18 && [ $((u1 - u0)) -ge 100 ] && ok "busy loop: /proc/stat user $u0 -> $u1 (+$((u1 - u0)) ticks in ~$((b1 - b0)) s)" \
            || bad "busy loop: /proc/stat user $u0 -> $u1"
        num_ok "$ku0" 1e18 && num_ok "$ku1" 1e18 && [ $((ku1 - ku0)) -lt 50 ] \
            && ok "idle container kid: /proc/stat user $ku0 -> $ku1" \
            || bad "idle container kid: /proc/stat user '$ku0' -> '$ku1'"
        [ "$back" = 0 ] && ok "busy loop: no /proc/stat counter went down in 100 re-reads" \
            || bad "busy loop: /proc/stat counters went down $back times in 100 re-reads"
        us=$(tail -n 3 /tmp/vmstat-busy.out | awk '{ v = $13 + $14; if (NR == 1 || v < m) m = v } END { print m + 0 }')
        [ "${us:-0}" -ge 50 ] && ok "vmstat during the busy loop: us+sy >= $us% in every second" \
            || bad "vmstat during the busy loop: us+sy = $us% in one second"
    else
        skip "busy loop vs /proc/stat (no view of /proc/stat in the prepare reply yet)"
    fi
    if has_view /proc/loadavg; then
        num_ok "$l0" 1e6 && num_ok "$l1" 1e6 && awk -v a="$l1" -v b="$l0" 'BEGIN { exit !(a > b) }' && ok "busy loop: load1 $l0 -> $l1 after ${i}s" \
            || bad "busy loop: load1 $l0 -> $l1 after ${i}s"
        num_ok "$kl1" 0.5 && ok "idle container kid: load1 $kl1" || bad "idle container kid: load1 '$kl1'"
    else
        skip "busy loop vs /proc/loadavg (no view of /proc/loadavg in the prepare reply yet)"
    fi
else
    skip "busy loop raises /proc/stat user time and load1 (no view of /proc/stat or /proc/loadavg yet)"
fi

# ---- a PSI trigger fires for box's own CPU pressure, not for kid's -----------------------
# Written as root of the VM (CAP_SYS_RESOURCE: a 1-s window is allowed), on box's view and
# on kid's own mount, while two loops share box's one CPU; kid stays idle.
POLLER='
import os, select, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NONBLOCK)
os.write(fd, b"some 150000 1000000\0")
p = select.poll()
p.register(fd, select.POLLPRI)
n, end = 0, time.monotonic() + float(sys.argv[2])
while (left := end - time.monotonic()) > 0:
    n += sum(1 for _, e in p.poll(int(left * 1000)) if e & select.POLLPRI)
print(n)'
if cond_view /proc/pressure/cpu "PSI trigger on /proc/pressure/cpu"; then
    t python3 -c "$POLLER" /proc/pressure/cpu 8 > /tmp/psi-box.out 2>&1 & pbox=$!
    t python3 -c "$POLLER" $KID/proc/pressure/cpu 8 > /tmp/psi-kid.out 2>&1 & pkid=$!
    usleep 500000
    ( while :; do :; done ) & l1=$!
    ( while :; do :; done ) & l2=$!
    wait $pbox $pkid
    kill $l1 $l2; wait $l1 $l2 2>/dev/null
    pb=$(cat /tmp/psi-box.out) pk=$(cat /tmp/psi-kid.out)
    num_ok "$pb" 1e6 && [ "$pb" -ge 1 ] && ok "PSI trigger on box's /proc/pressure/cpu: $pb events" \
        || bad "PSI trigger on box's /proc/pressure/cpu: '$pb'"
    [ "$pk" = 0 ] && ok "PSI trigger on kid's /proc/pressure/cpu: no event" || bad "PSI trigger on kid's /proc/pressure/cpu: '$pk'"
fi

# ---- memory pressure up to the OOM kill: free/uptime/vmstat stay sane -------------------
# free: every Mem figure in [0, total]; uptime: no negative, load < 100; vmstat: every field
# a non-negative integer, free <= limit, CPU percentages <= 100.
sample() {
    local fr up vm err=""
    fr=$(t /usr/bin/free -b | awk '/^Mem:/')
    up=$(t /usr/bin/uptime)
    vm=$(t /usr/bin/vmstat | tail -n 1)
    echo "$fr" | awk -v m=$MEM '{ if ($2 != m) exit 1; for (i = 2; i <= 7; i++) if ($i !~ /^[0-9]+$/ || $i + 0 > m) exit 1 }' \
        || err="$err free:[$fr]"
    echo "$up" | awk -F'load average: ' '{ if ($0 ~ /-/) exit 1; n = split($2, l, ", "); if (n != 3) exit 1;
        for (i = 1; i <= 3; i++) if (l[i] + 0 >= 100 || l[i] + 0 < 0) exit 1 }' || err="$err uptime:[$up]"
    echo "$vm" | awk -v k=$MEMK '{ if (NF < 17) exit 1; for (i = 1; i <= NF; i++) if ($i !~ /^[0-9]+$/) exit 1;
        if ($4 > k) exit 1; for (i = 13; i <= 17; i++) if ($i > 100) exit 1 }' || err="$err vmstat:[$vm]"
    echo "$fr" | awk '{printf "    sample: used %d MiB, available %d MiB", $3 / 1048576, $7 / 1048576}'
    echo " | $(echo "$up" | sed 's/.*load average/load/') | vmstat free $(echo "$vm" | awk '{print $4}') kB"
    [ -z "$err" ] || { echo "    bad sample:$err"; return 1; }
}
info "memory hog: from container uptime $(cut -d' ' -f1 /proc/uptime) s"
n=0 nbad=0
sample || nbad=$((nbad + 1)); n=$((n + 1))
t memhog 400 150 & hog=$!
while kill -0 $hog 2>/dev/null && [ $n -lt 60 ]; do
    sample || nbad=$((nbad + 1)); n=$((n + 1))
done
wait $hog; hogrc=$?
sample || nbad=$((nbad + 1)); n=$((n + 1))
info "memory hog: done at container uptime $(cut -d' ' -f1 /proc/uptime) s"
oom=$(awk '/^oom_kill / {print $2}' /sys/fs/cgroup/box/memory.events)
[ "$hogrc" -ne 0 ] && [ "${oom:-0}" -ge 1 ] && ok "memhog 400 MiB OOM-killed at the 256M limit (exit $hogrc, oom_kill $oom)" \
    || bad "memhog: exit $hogrc, oom_kill ${oom:-?}"
[ $nbad -eq 0 ] && ok "$n samples of free/uptime/vmstat while memory rose to the OOM kill: none negative or absurd" \
    || bad "$nbad of $n samples of free/uptime/vmstat negative or absurd"
kill -0 $INIT 2>/dev/null && ok "the container's init survived the OOM kill" || bad "the container's init was killed"
eq "/proc/meminfo MemTotal after the OOM kill (kB)" "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)" $MEMK
