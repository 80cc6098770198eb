"""Owners, modes, types and links of the views are the kernel's (issue 9, item 7): the
same bundle run by plain runc and by ecifs-runc shows the same `stat` of every view,
but for the entries ecifs keeps as the container's own (emulated sysctls and sysfs
parameters), which are its root's so that it may write them. (Sizes: procfs's 0 for
every view, also in /sys: see fs/operations.hpp, KernelSizes.)"""
from __future__ import annotations

# Views of every kind, and directories of the subtrees.
PATHS = [
    "/proc/meminfo", "/proc/uptime", "/proc/stat", "/proc/loadavg", "/proc/cpuinfo", "/proc/swaps",
    "/proc/diskstats", "/proc/vmstat", "/proc/pressure/cpu",
    "/proc/sys", "/proc/sys/kernel", "/proc/sys/kernel/osrelease", "/proc/sys/kernel/hostname",
    "/proc/sys/kernel/shmmax", "/proc/sys/net", "/proc/sys/net/core/somaxconn", "/proc/sys/net/ipv4/ip_forward",
    "/proc/sys/vm/overcommit_memory", "/proc/sys/fs/file-max",
    "/sys/kernel", "/sys/kernel/mm", "/sys/kernel/mm/transparent_hugepage/enabled", "/sys/kernel/btf/vmlinux",
    "/sys/kernel/security", "/sys/devices/system/cpu", "/sys/devices/system/cpu/online",
    "/sys/devices/system/cpu/cpu0/topology/core_id",
]
# Emulated: the container's own value, owned by its root (under runc: the kernel's).
CONTAINERS_OWN = {"/proc/sys/vm/overcommit_memory", "/proc/sys/fs/file-max"}
FORMAT = "%n %u %g %a %F %h"


def stat_all(c) -> dict:
    out = c.exec(f"stat -c '{FORMAT}' " + " ".join(PATHS))
    return {line.split()[0]: line for line in out.splitlines()}


def test_stat_of_every_view_is_the_kernels(containers):
    ecifs_container = containers.start()
    plain_container = containers.start_plain()
    plain = stat_all(plain_container)
    ecifs = stat_all(ecifs_container)
    # sysfs shows a page as an attribute's size, the views 0 (fs/page_cache.hpp): stat's
    # %F then says "regular empty file".
    for path in plain:
        if path.startswith("/sys/"):
            plain[path] = plain[path].replace("regular file", "regular empty file")
    assert sorted(plain) == sorted(ecifs) == sorted(PATHS)
    differ = []
    for path in PATHS:
        if path in CONTAINERS_OWN:
            name, uid, gid, *rest = ecifs[path].split()
            assert (uid, gid) == ("0", "0"), ecifs[path]  # its root, seen from inside
            assert rest == plain[path].split()[3:], (plain[path], ecifs[path])
        elif plain[path] != ecifs[path]:
            differ.append(f"runc:  {plain[path]}\necifs: {ecifs[path]}")
    assert not differ, "stat -c '%s' differs:\n" % FORMAT + "\n".join(differ)
