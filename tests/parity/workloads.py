"""The parity corpus: each workload is a shell script run as a fresh container's process,
once under plain runc and once under ecifs-runc, with the same config.json.

Configurations (parity.CONFIGS): "docker" (Docker's capabilities, masked and read-only
paths, default seccomp profile, user namespace), "system" (every capability inside the
user namespace, nothing masked, no profile of its own) and "system-masked" (a system
container keeping Docker's masked and read-only paths). All have the user namespace
(host ids 100000+), a 256 MiB memory limit, one CPU of quota and a cgroup namespace.

/parity/probe is payload/probe.c (static, threads), /parity/pyprobe.py payload/pyprobe.py.
A workload's name says what it is; quick=True puts it in the --quick subset.

Writing a workload: print what a user would see, in a stable order (runc binds the /dev
nodes in a random order: sort mount lists); continue after an expected failure with
`; echo rc=$?` so that what follows is compared too. Pid numbers of the container's first
processes vary between two runs of plain runc (the first child is pid 6 or 7): rules.txt
accepts any pid of up to three digits where a tool prints them.
"""
from __future__ import annotations

from parity import Workload as W

PROBE = "/parity/probe"
PY = "python3 /parity/pyprobe.py"

# The sysctls some workload writes (inside its container). The session checks that the
# host's values are the same at the end as at the start.
WRITTEN_SYSCTLS = ["net.core.somaxconn", "kernel.hostname", "kernel.domainname", "net.ipv4.ip_forward",
                   "kernel.shmmax", "fs.mqueue.msg_max", "user.max_user_namespaces", "kernel.panic",
                   "vm.swappiness", "kernel.tainted", "kernel.cap_last_cap", "kernel.printk",
                   "kernel.pid_max"]

SYSCTL_KEYS = ("kernel.ostype kernel.osrelease kernel.hostname kernel.domainname net.core.somaxconn "
               "net.ipv4.ip_forward kernel.panic vm.swappiness fs.file-max kernel.shmmax "
               "fs.mqueue.msg_max user.max_user_namespaces kernel.cap_last_cap")
STAT = "stat -c '%n %F %a %u:%g %s'"
# What ecifs renders under /proc (its views).
PROC_VIEWS = ("/proc/meminfo /proc/uptime /proc/stat /proc/loadavg /proc/cpuinfo /proc/swaps /proc/diskstats "
              "/proc/vmstat /proc/pressure /proc/pressure/cpu /proc/pressure/io /proc/pressure/memory")
# /proc/sys, one of each policy of the sysctl table (emulated, synthesized, namespaced,
# read-only, host).
PROC_SYS = ("/proc/sys /proc/sys/kernel /proc/sys/kernel/panic /proc/sys/vm/swappiness /proc/sys/fs/file-max "
            "/proc/sys/kernel/random/boot_id /proc/sys/kernel/hostname /proc/sys/net/core/somaxconn "
            "/proc/sys/user/max_user_namespaces /proc/sys/kernel/ostype /proc/sys/kernel/cap_last_cap "
            "/proc/sys/kernel/tainted /proc/sys/kernel/cad_pid /proc/sys/vm/mmap_rnd_bits")
# Next to the views: masked, read-only and untouched /proc files.
PROC_OTHERS = "/proc /proc/kcore /proc/keys /proc/timer_list /proc/sysrq-trigger /proc/slabinfo /proc/version"
SYS_FILES = ("/sys /sys/devices/system/cpu /sys/devices/system/cpu/online /sys/devices/system/cpu/possible "
             "/sys/devices/system/cpu/cpu0 /sys/devices/system/cpu/cpu0/topology/core_id "
             "/sys/devices/system/node /sys/devices/system/node/node0/cpulist /sys/kernel /sys/kernel/mm "
             "/sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/security /sys/kernel/debug "
             "/sys/kernel/uevent_seqnum /sys/kernel/profiling")
WALK_PROC = f"{PY} walk --depth 1 --skip self --skip thread-self --skip sys --skip irq /proc /proc/pressure"


def write_back(keys: list[str], tool: str = "probe") -> str:
    """Write each sysctl's own value back and say how it went: the value read back is
    the same whoever refused or kept the write."""
    lines = []
    for key in keys:
        path = "/proc/sys/" + key.replace(".", "/")
        if tool == "probe":
            lines.append(f'printf "{key} "; {PROBE} write {path} "$(cat {path})"')
        else:
            lines.append(f'sysctl -w "{key}=$(cat {path})"; echo "{key} rc=$?"')
        lines.append(f"cat {path}")
    return "; ".join(lines)


# Two readers of a file whose figures move (read(2), busybox's sendfile): the second must
# see as many lines as the first, and some (issue 9 item 1), compared inside the container.
def same_lines(first: str, second: str) -> str:
    return (f"{first} > /tmp/1; {second} > /tmp/2; "
            '[ -s /tmp/2 ] && [ "$(wc -l < /tmp/1)" = "$(wc -l < /tmp/2)" ] && echo "same number of lines" '
            '|| echo "first $(wc -l < /tmp/1) lines, second $(wc -l < /tmp/2)"')


WORKLOADS = [
    # ---- busybox applets (every Alpine image) ------------------------------------
    W("bb-cat-meminfo", "busybox cat /proc/meminfo", quick=True),
    W("bb-cat-uptime", "busybox cat /proc/uptime"),
    W("bb-cat-stat", "busybox cat /proc/stat"),
    W("bb-cat-loadavg", "busybox cat /proc/loadavg"),
    W("bb-cat-cpuinfo", "busybox cat /proc/cpuinfo"),
    W("bb-cat-sysctls", "busybox cat /proc/sys/kernel/ostype /proc/sys/kernel/hostname "
                        "/proc/sys/kernel/panic /proc/sys/net/core/somaxconn /proc/sys/vm/swappiness", quick=True),
    W("bb-head", "busybox head -n 4 /proc/meminfo /proc/vmstat; busybox head -n 1 /proc/stat"),
    W("bb-free", "busybox free", quick=True),
    W("bb-free-m", "busybox free -m"),
    W("bb-top", "busybox top -bn1", quick=True),
    W("bb-uptime", "busybox uptime"),
    W("bb-ps", "busybox ps"),
    W("bb-mount", "busybox mount | sort"),  # runc binds the /dev nodes in a random order
    W("bb-umount-proc", "busybox umount /proc; echo rc=$?"),
    W("bb-sysctl", f"busybox sysctl {SYSCTL_KEYS}"),
    W("bb-sysctl-a", "busybox sysctl -a"),
    W("bb-nproc", "busybox nproc; busybox cat /sys/devices/system/cpu/online /sys/devices/system/cpu/present"),
    W("bb-mount-proc", "mkdir -p /mnt/p && busybox mount -t proc proc /mnt/p && busybox cat /mnt/p/sys/kernel/ostype"
                       " && busybox umount /mnt/p; echo rc=$?", config="system"),
    W("bb-umount-proc-system", "busybox umount /proc; echo rc=$?", config="system"),
    W("bb-sysctl-w", "busybox sysctl -w net.core.somaxconn=1000; echo rc=$?; busybox sysctl net.core.somaxconn",
      config="system"),

    # ---- procps ------------------------------------------------------------------
    W("procps-free", "free", quick=True),
    W("procps-free-wide", "free -w -m -t"),
    W("procps-top", "top -bn1"),
    W("procps-top-header", "top -bn1 | head -n 5", quick=True),
    W("procps-vmstat", "vmstat"),
    W("procps-vmstat-s", "vmstat -s"),
    W("procps-vmstat-d", "vmstat -d"),
    W("procps-ps-nopid", "ps -eo user,group,stat,nlwp,ni,comm,args", quick=True),
    W("procps-ps-ef", "ps -ef"),
    W("procps-ps-aux", "ps aux"),
    # A process's start time: /proc/PID/stat counts from the boot (btime of /proc/stat).
    W("procps-ps-start", 's=$(date -d "$(ps -o lstart= -p 1)" +%s); d=$(( $(date +%s) - s )); '
                         '[ $d -ge 0 ] && [ $d -lt 60 ] && echo "pid 1 started less than a minute ago" '
                         '|| echo "pid 1 started $d s ago"'),
    W("procps-sysctl", f"sysctl {SYSCTL_KEYS}", quick=True),
    W("procps-sysctl-a", "sysctl -a"),
    W("procps-sysctl-pattern", "sysctl -a --pattern '^net\\.core\\.'"),
    W("procps-sysctl-pid-max", "sysctl kernel.pid_max kernel.ns_last_pid"),
    # Both are the reader's pid namespace's (the kernel's own files, bound over the view).
    # (A container's first pids vary between two runs of runc: compared as a difference.)
    W("cu-cat-pid-ns-sysctls", "a=$(sh -c 'echo $$'); b=$(cat /proc/sys/kernel/ns_last_pid); echo $((b - a)); "
                               "cat /proc/sys/vm/memfd_noexec", quick=True),
    W("sysctl-w-ns-last-pid", "echo 500 > /proc/sys/kernel/ns_last_pid; echo rc=$?; sh -c 'echo $$'; "
                              "cat /proc/sys/kernel/ns_last_pid", config="system"),
    W("ul-umount-kernel-file", "umount /proc/sys/kernel/ns_last_pid; echo rc=$?; cat /proc/sys/kernel/ns_last_pid "
                               ">/dev/null; echo rc=$?", config="system"),
    W("procps-uptime", "uptime"),
    W("procps-uptime-ps", "uptime -p; uptime -s"),
    W("procps-w", "w"),
    W("procps-pgrep", "sleep 60 & until pgrep -x sleep >/dev/null; do :; done; pgrep -l sleep; pgrep -c sh; "
                      "pkill sleep; wait; echo done"),
    W("procps-slabtop", "slabtop -o; echo rc=$?"),

    # ---- util-linux ----------------------------------------------------------------
    W("ul-lscpu", "lscpu", quick=True),
    W("ul-lscpu-e", "lscpu -e"),
    W("ul-findmnt", "findmnt -r -o TARGET,SOURCE,FSTYPE,OPTIONS | sort", quick=True),
    W("ul-findmnt-proc-sys", "findmnt -o TARGET,SOURCE,FSTYPE,OPTIONS /proc; findmnt -o TARGET,SOURCE,FSTYPE,OPTIONS /sys"),
    W("ul-mount", "mount | sort"),
    W("ul-mount-proc-docker", "mkdir -p /mnt/p; mount -t proc proc /mnt/p; echo rc=$?"),
    W("ul-umount-proc-docker", "umount /proc; echo rc=$?"),
    W("ul-unshare-docker", "unshare -pf --mount-proc true; echo rc=$?"),
    W("ul-mount-proc", "mkdir -p /mnt/p && mount -t proc proc /mnt/p && findmnt -o TARGET,FSTYPE /mnt/p"
                       " && cat /mnt/p/sys/kernel/ostype && head -1 /mnt/p/meminfo", config="system", quick=True),
    W("ul-mount-proc-masked", "mkdir -p /mnt/p; mount -t proc proc /mnt/p; echo rc=$?; "
                              "stat -c '%n %F' /mnt/p/keys /mnt/p/timer_list /mnt/p/sysrq-trigger /mnt/p/kcore; "
                              "touch /mnt/p/sysrq-trigger; echo rc=$?", config="system-masked"),
    W("ul-mount-sysfs", "mkdir -p /mnt/s && mount -t sysfs -o ro sysfs /mnt/s && cat /mnt/s/devices/system/cpu/online"
                        " && ls /mnt/s/kernel/mm", config="system"),
    # The last pid of the container's namespace, never the host's; its exact value varies
    # between two runs of plain runc (see rules.txt, ns-last-pid).
    W("ul-mount-proc-ns-last-pid", "mkdir -p /mnt/p && mount -t proc proc /mnt/p && n=$(cat /mnt/p/sys/kernel/ns_last_pid) "
                                   "&& [ \"$n\" -lt 1000 ] && echo ns_last_pid below 1000 && cat /mnt/p/sys/vm/memfd_noexec "
                                   "&& umount /mnt/p; echo rc=$?", config="system"),
    W("ul-umount-own-proc", "mkdir -p /mnt/p && mount -t proc proc /mnt/p && umount /mnt/p; echo rc=$?; "
                            "findmnt -n -o TARGET /mnt/p; echo", config="system", quick=True),
    W("ul-umount-own-sysfs", "mkdir -p /mnt/s && mount -t sysfs -o ro sysfs /mnt/s && umount /mnt/s; echo rc=$?",
      config="system"),
    W("ul-umount-proc", "umount /proc; echo rc=$?", config="system"),
    W("ul-umount-sys", "umount /sys; echo rc=$?", config="system"),
    W("ul-umount-lazy-proc", "umount -l /proc; echo rc=$?", config="system"),
    W("ul-umount-view", "umount /proc/meminfo; echo rc=$?; umount /proc/sys; echo rc=$?", config="system"),
    W("ul-unshare-mount-proc", "unshare -pf --mount-proc sh -c 'echo $$; cat /proc/1/comm; "
                               "cat /proc/sys/kernel/ostype; head -1 /proc/meminfo; cat /proc/uptime'",
      config="system", quick=True),
    W("ul-unshare-pids", "unshare -pf --mount-proc sh -c 'sh -c \"echo \\$\\$\"; ls -d /proc/[0-9]*'",
      config="system"),
    W("ul-unshare-mount-proc-masked", "unshare -pf --mount-proc sh -c 'echo $$; cat /proc/1/comm'; echo rc=$?",
      config="system-masked"),
    W("ul-nsenter", "nsenter -t 1 -m -u -i -n -p sh -c 'hostname; head -1 /proc/meminfo; cat /proc/uptime'",
      config="system"),
    W("ul-nsenter-child", "unshare -pf --mount-proc sleep 60 & until pgrep -x sleep >/dev/null; do :; done; "
                          "nsenter -t $(pgrep -x sleep) -m -p sh -c 'cat /proc/1/comm /proc/sys/kernel/ostype; head -1 /proc/meminfo'; "
                          "pkill -KILL -x sleep; wait", config="system"),

    # ---- mount --bind / --rbind / --move of /proc and /sys (system container) ---------
    W("mnt-bind-proc", "mkdir -p /mnt/b && mount --bind /proc /mnt/b; echo rc=$?; cat /mnt/b/sys/kernel/ostype; "
                       "head -1 /mnt/b/meminfo", config="system", quick=True),
    W("mnt-rbind-proc", "mkdir -p /mnt/b && mount --rbind /proc /mnt/b; echo rc=$?; cat /mnt/b/sys/kernel/ostype; "
                        "head -1 /mnt/b/meminfo", config="system"),
    W("mnt-move-proc", "mkdir -p /mnt/m && mount --move /proc /mnt/m; echo rc=$?", config="system"),
    W("mnt-bind-sys", "mkdir -p /mnt/b && mount --bind /sys /mnt/b; echo rc=$?; cat /mnt/b/devices/system/cpu/online",
      config="system"),
    W("mnt-sysfs-twice", "mkdir -p /mnt/s; for i in 1 2; do mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /mnt/s; "
                         "echo rc=$?; done; findmnt -n -o FSTYPE /mnt/s", config="system"),
    W("mnt-rbind-sys", "mkdir -p /mnt/b && mount --rbind /sys /mnt/b; echo rc=$?; "
                       "cat /mnt/b/devices/system/cpu/online", config="system"),
    W("mnt-move-sys", "mkdir -p /mnt/m && mount --move /sys /mnt/m; echo rc=$?", config="system"),
    # Onto /proc/self/fd/N of a descriptor of the target: runc's procfs mount, systemd's binds.
    W("py-mount-proc-on-fd", f"mkdir -p /mnt/p && {PY} mount-on-fd proc /mnt/p proc nosuid,nodev,noexec; "
                             "cat /mnt/p/sys/kernel/ostype; head -1 /mnt/p/meminfo", config="system", quick=True),
    W("py-bind-proc-on-fd", f"mkdir -p /mnt/b && {PY} mount-on-fd /proc /mnt/b - bind,rec; "
                            "cat /mnt/b/sys/kernel/ostype; head -1 /mnt/b/meminfo", config="system"),
    W("mnt-bind-proc-sys", "mkdir -p /mnt/b && mount --bind /proc/sys /mnt/b; echo rc=$?; cat /mnt/b/kernel/ostype",
      config="system"),
    W("mnt-move-view", "mkdir -p /mnt/m && touch /mnt/f && mount --move /proc/meminfo /mnt/f; echo rc=$?",
      config="system"),
    W("mnt-move-own-proc", "mkdir -p /mnt/p /mnt/q && mount -t proc proc /mnt/p && mount --move /mnt/p /mnt/q; "
                           "echo rc=$?; cat /mnt/q/sys/kernel/ostype", config="system"),
    W("mnt-bind-own-proc", "mkdir -p /mnt/p /mnt/q && mount -t proc proc /mnt/p && mount --bind /mnt/p /mnt/q; "
                           "echo rc=$?; cat /mnt/q/sys/kernel/ostype", config="system"),

    # ---- nested pid namespaces with their own procfs ----------------------------------
    W("nest-unshare-twice", "unshare -pf --mount-proc unshare -pf --mount-proc sh -c "
                            "'echo $$; cat /proc/1/comm; cat /proc/sys/kernel/ostype; head -1 /proc/meminfo; "
                            "findmnt -n -o TARGET,FSTYPE /proc'", config="system", quick=True),
    W("nest-unshare-twice-umount", "unshare -pf --mount-proc unshare -pf --mount-proc sh -c "
                                   "'umount /proc; echo rc=$?'", config="system"),

    # ---- coreutils -------------------------------------------------------------------
    W("cu-cat-meminfo", "cat /proc/meminfo", quick=True),
    W("cu-cat-uptime", "cat /proc/uptime"),
    W("cu-cat-stat", "cat /proc/stat"),
    W("cu-cat-loadavg", "cat /proc/loadavg"),
    W("cu-cat-swaps-diskstats", "cat /proc/swaps /proc/diskstats"),
    W("cu-cat-pressure", "cat /proc/pressure/cpu /proc/pressure/memory /proc/pressure/io; echo rc=$?"),
    W("cu-head", "head -n 5 /proc/meminfo /proc/vmstat /proc/cpuinfo; head -n 1 /proc/stat"),
    W("cu-dd", "dd if=/proc/meminfo bs=100 status=none | head -n 5; "
               "dd if=/proc/sys/kernel/osrelease bs=1 status=none", quick=True),
    W("cu-nproc", 'for c in nproc "nproc --all" "getconf _NPROCESSORS_ONLN" "getconf _NPROCESSORS_CONF"; do '
                  'echo "$c: $($c)"; done', quick=True),
    W("cu-wc", "wc -l /proc/meminfo /proc/vmstat /proc/swaps /proc/diskstats /proc/loadavg /proc/uptime"),
    W("cu-stat-views", f"{STAT} {PROC_VIEWS}", quick=True),
    W("cu-stat-proc-sys", f"{STAT} {PROC_SYS}"),
    W("cu-stat-proc-others", f"{STAT} {PROC_OTHERS}"),
    # Root-only (0600) host sysctls: only the host's root reads them (vm.stat_refresh's
    # read makes the kernel work on every CPU); a container's root gets EACCES.
    W("cu-cat-root-only-sysctls", "for f in vm/mmap_rnd_bits vm/mmap_rnd_compat_bits vm/stat_refresh "
                                  "kernel/cad_pid kernel/usermodehelper/bset kernel/usermodehelper/inheritable; "
                                  "do cat /proc/sys/$f; echo \"$f: $?\"; done", quick=True),
    W("cu-stat-sys", f"{STAT} {SYS_FILES}"),
    W("cu-stat-views-system", f"{STAT} {PROC_VIEWS} {PROC_OTHERS}", config="system"),
    W("cu-statfs", "stat -f -c '%n %T' /proc /proc/meminfo /proc/uptime /proc/sys /proc/sys/kernel/ostype /sys "
                   "/sys/kernel /sys/devices/system/cpu /sys/devices/system/cpu/online /sys/fs/cgroup"),
    W("ul-mountpoint", "for p in /proc /proc/meminfo /proc/sys /sys/kernel /proc/cpuinfo /proc/version; do "
                       "mountpoint $p; done; echo done"),
    W("cu-ls-proc", "ls /proc | grep -v '^[0-9]'; ls /proc/sys /proc/sys/kernel /proc/sys/net/core"),
    W("cu-ls-sys", "ls /sys /sys/devices/system/cpu /sys/devices/system/node"),
    W("cu-ls-sys-kernel", "ls /sys/kernel"),

    # ---- python3 -----------------------------------------------------------------------
    W("py-cpu-count", "python3 -c 'import os, multiprocessing; print(\"os.cpu_count:\", os.cpu_count()); "
                      "print(\"multiprocessing.cpu_count:\", multiprocessing.cpu_count()); "
                      "print(\"sched_getaffinity:\", len(os.sched_getaffinity(0)))'", quick=True),
    W("py-loadavg", "python3 -c 'import os; print(os.getloadavg())'"),
    W("py-walk-proc", WALK_PROC, quick=True),
    W("py-walk-proc-system", WALK_PROC, config="system"),
    W("py-walk-proc-sys", f"{PY} walk /proc/sys"),
    W("py-walk-proc-self", f"{PY} walk --depth 1 /proc/self/"),
    W("py-sysconf", "python3 -c 'import os, platform; "
                    "[print(n, os.sysconf(n)) for n in (\"SC_NPROCESSORS_ONLN\", \"SC_NPROCESSORS_CONF\", "
                    "\"SC_PHYS_PAGES\", \"SC_AVPHYS_PAGES\", \"SC_PAGE_SIZE\", \"SC_CLK_TCK\")]; "
                    "print(platform.node(), platform.release(), platform.machine())'"),
    W("py-walk-sys-cpu", f"{PY} walk /sys/devices/system/cpu /sys/devices/system/node"),
    W("py-walk-sys-kernel", f"{PY} walk --skip slab /sys/kernel"),
    W("py-namespaced-sysctls", f"{PY} walk --content /proc/sys/net/core /proc/sys/net/ipv4/conf/lo "
                               "/proc/sys/user /proc/sys/fs/mqueue /proc/sys/kernel/hostname "
                               "/proc/sys/kernel/domainname /proc/sys/kernel/shmmax /proc/sys/kernel/msgmax "
                               "/proc/sys/kernel/sem"),
    W("py-threads-sysctl", f"{PY} threads-read 8 /proc/sys/kernel/hostname /proc/sys/net/core/somaxconn",
      quick=True),
    W("py-threads-sysctl-emulated", f"{PY} threads-read 8 /proc/sys/kernel/panic /proc/sys/vm/swappiness "
                                    "/proc/sys/kernel/ostype"),
    W("py-threads-sysinfo", f"{PY} threads-sysinfo 8"),
    W("py-threads-write", f"{PY} threads-write 4 /proc/sys/net/core/somaxconn 1000; "
                          "cat /proc/sys/net/core/somaxconn", config="system"),
    W("py-read-then-sendfile", f"{PY} read-then-sendfile /proc/sys/kernel/ostype", quick=True),
    W("py-sendfile-then-read", f"{PY} sendfile-then-read /proc/sys/kernel/ostype"),
    W("py-read-then-splice", f"{PY} read-then-splice /proc/sys/kernel/osrelease"),
    W("py-splice-then-read", f"{PY} splice-then-read /proc/sys/kernel/osrelease"),
    W("py-read-then-sendfile-meminfo", f"{PY} read-then-sendfile /proc/meminfo | grep -c kB"),

    # ---- the static multi-threaded C probe ------------------------------------------------
    W("probe-sysinfo", f"{PROBE} sysinfo", quick=True),
    W("probe-sysinfo-thread", f"{PROBE} --thread sysinfo"),
    W("probe-sysinfo-orphan", f"{PROBE} --orphan sysinfo"),
    W("probe-sysinfo-threads", f"{PROBE} --threads 16 sysinfo"),
    W("probe-read-sysctl-thread", f"{PROBE} --thread read /proc/sys/kernel/hostname"),
    W("probe-read-sysctl-orphan", f"{PROBE} --orphan read /proc/sys/net/core/somaxconn"),
    W("probe-write-sysctl-thread", f"{PROBE} --thread write /proc/sys/net/core/somaxconn 999; "
                                   "cat /proc/sys/net/core/somaxconn", config="system"),
    W("probe-mount-docker", f"mkdir -p /mnt/p; {PROBE} --thread mount-proc /mnt/p"),
    W("probe-mount-main", f"mkdir -p /mnt/p && {PROBE} mount-proc /mnt/p && cat /mnt/p/sys/kernel/ostype",
      config="system"),
    W("probe-mount-thread", f"mkdir -p /mnt/p && {PROBE} --thread mount-proc /mnt/p && cat /mnt/p/sys/kernel/ostype",
      config="system", quick=True),
    W("probe-mount-orphan", f"mkdir -p /mnt/p && {PROBE} --orphan mount-proc /mnt/p && cat /mnt/p/sys/kernel/ostype",
      config="system"),
    W("probe-mount-threads", f"mkdir -p /mnt/s; {PROBE} --threads 4 mount-sysfs /mnt/s; findmnt -n -o FSTYPE /mnt/s",
      config="system"),
    W("probe-umount-tmpfs-thread", f"mkdir -p /mnt/t && mount -t tmpfs t /mnt/t && {PROBE} --thread umount /mnt/t",
      config="system"),
    # The new mount API: ecifs's profile answers it ENOSYS (a way around mount(2)).
    W("probe-fsopen", f"{PROBE} fsopen tmpfs; {PROBE} fsopen proc; echo done", config="system"),
    W("probe-fsopen-docker", f"{PROBE} fsopen tmpfs"),
    W("probe-rbind-thread", f"mkdir -p /mnt/b && {PROBE} --thread rbind /proc /mnt/b && "
                            "cat /mnt/b/sys/kernel/ostype", config="system"),

    # ---- mixed readers of the same file (read(2) vs busybox's sendfile) -----------------
    W("mix-cat-bbcat-panic", "cat /proc/sys/kernel/panic >/dev/null; busybox cat /proc/sys/kernel/panic", quick=True),
    W("mix-cat-bbcat-ostype", "cat /proc/sys/kernel/ostype; busybox cat /proc/sys/kernel/ostype"),
    W("mix-cat-bbcat-uptime", same_lines("cat /proc/uptime", "busybox cat /proc/uptime")),
    W("mix-cat-bbcat-meminfo", same_lines("cat /proc/meminfo", "busybox cat /proc/meminfo")),
    W("mix-cat-bbcat-stat", same_lines("cat /proc/stat", "busybox cat /proc/stat")),
    W("mix-bbcat-cat-ostype", "busybox cat /proc/sys/kernel/ostype; cat /proc/sys/kernel/ostype; "
                              "busybox cat /proc/sys/kernel/ostype"),
    W("mix-bbcat-cat-meminfo", same_lines("busybox cat /proc/meminfo", "cat /proc/meminfo")),
    W("mix-dd-bbcat-loadavg", same_lines("dd status=none bs=7 if=/proc/loadavg", "busybox cat /proc/loadavg")),
    W("mix-two-readers", "for i in 1 2 3; do busybox cat /proc/meminfo > /tmp/a$i & cat /proc/meminfo > /tmp/b$i; "
                         "done; wait; wc -l /tmp/a* /tmp/b*"),
    W("mix-head-c", "head -c 3 /proc/sys/kernel/ostype; echo; busybox cat /proc/sys/kernel/ostype; "
                    "busybox head -c 3 /proc/sys/kernel/ostype; echo"),
    W("mix-dd-bbcat", "dd if=/proc/sys/kernel/osrelease bs=4 status=none; busybox cat /proc/sys/kernel/osrelease"),

    # ---- sysctl writes: namespaced ones (the kernel lets a userns root), others --------------
    W("sysctl-w-somaxconn", "sysctl -w net.core.somaxconn=1024; echo rc=$?; sysctl net.core.somaxconn",
      config="system", quick=True),
    W("sysctl-w-hostname", "sysctl -w kernel.hostname=changed; echo rc=$?; hostname; uname -n", config="system"),
    W("sysctl-w-domainname", "sysctl -w kernel.domainname=example.org; echo rc=$?; domainname", config="system"),
    W("sysctl-w-ip-forward", "sysctl -w net.ipv4.ip_forward=1; echo rc=$?; cat /proc/sys/net/ipv4/ip_forward",
      config="system"),
    W("sysctl-w-shmmax", "sysctl -w kernel.shmmax=1073741824; echo rc=$?; cat /proc/sys/kernel/shmmax",
      config="system"),
    W("sysctl-w-mqueue", "sysctl -w fs.mqueue.msg_max=20; echo rc=$?; cat /proc/sys/fs/mqueue/msg_max",
      config="system"),
    W("sysctl-w-user-ns", "sysctl -w user.max_user_namespaces=100; echo rc=$?; "
                          "cat /proc/sys/user/max_user_namespaces", config="system"),
    W("sysctl-w-invalid", "sysctl -w net.core.somaxconn=abc; echo rc=$?; sysctl -w net.ipv4.ip_forward=7; "
                          "echo rc=$?; cat /proc/sys/net/ipv4/ip_forward", config="system"),
    W("sysctl-w-emulated", write_back(["kernel.panic", "vm.swappiness", "kernel.printk"], tool="sysctl"),
      config="system", quick=True),
    W("sysctl-w-host-only", write_back(["kernel.tainted"], tool="sysctl"), config="system"),
    W("sysctl-w-uts", write_back(["kernel.hostname", "kernel.domainname"], tool="sysctl"), config="system"),
    W("sysctl-w-read-only", "echo 40 > /proc/sys/kernel/cap_last_cap; echo rc=$?", config="system"),
    W("sysctl-w-probe", write_back(["net.core.somaxconn", "kernel.hostname", "kernel.panic", "kernel.tainted",
                                    "kernel.cap_last_cap"]), config="system"),
    W("sysctl-w-unshare-net", "unshare -n sh -c 'sysctl -w net.core.somaxconn=77; sysctl net.core.somaxconn'; "
                              "sysctl net.core.somaxconn", config="system"),
    W("sysctl-w-unshare-uts", "unshare -u sh -c 'hostname inner; cat /proc/sys/kernel/hostname'; "
                              "cat /proc/sys/kernel/hostname", config="system"),
    W("sysctl-p", "printf 'net.core.somaxconn = 1000\\nnet.ipv4.ip_forward = 1\\n' > /tmp/s.conf; "
                  "sysctl -p /tmp/s.conf; echo rc=$?", config="system"),
    W("sysctl-conntrack-max", "ls -l /proc/sys/net/netfilter/nf_conntrack_max | cut -d' ' -f1; "
                              + write_back(["net.netfilter.nf_conntrack_max"]), config="system"),
    W("py-psi-trigger", "python3 -c 'import os, select; "
                        "fd = os.open(\"/proc/pressure/memory\", os.O_RDWR | os.O_NONBLOCK); "
                        "os.write(fd, b\"some 150000 2000000\\0\"); p = select.poll(); p.register(fd, select.POLLPRI); "
                        "print(\"trigger set, poll:\", p.poll(10))'; echo rc=$?", config="system"),
    W("sysctl-w-drop-caches", f"{PROBE} write /proc/sys/vm/drop_caches 1", config="system"),
    W("cu-random-ids", "a=$(cat /proc/sys/kernel/random/boot_id); b=$(cat /proc/sys/kernel/random/boot_id); "
                       "u=$(cat /proc/sys/kernel/random/uuid); v=$(cat /proc/sys/kernel/random/uuid); "
                       '[ "$a" = "$b" ] && echo "boot_id: the same twice"; [ "$u" != "$v" ] && echo "uuid: fresh"; '
                       "echo ${#a} ${#u}"),
    W("sys-hashsize", "f=/sys/module/nf_conntrack/parameters/hashsize; stat -c '%n %a %u:%g' $f; "
                      f"{PROBE} write $f 65536; echo done", config="system"),
    W("sysctl-w-docker", write_back(["net.core.somaxconn", "kernel.panic", "kernel.hostname", "kernel.tainted"])),
]
