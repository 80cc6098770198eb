"""Copies of /proc and /sys made inside a container (issue 9, items 4-6), each case run in
the same bundle under plain runc and through ecifs-runc, with CAP_SYS_ADMIN in the
container's user namespace (the root of a "small VM"):

 - a bind (`mount --bind /proc /x`), an rbind and a move work as under runc, and the copy
   carries the views, so it is never a way around them;
 - what the container mounted itself (a procfs, a sysfs, a bind) it may unmount, views
   and all; the runtime's /proc, /sys and the views stay locked;
 - a procfs or sysfs mounted inside carries the runtime's maskedPaths and readonlyPaths,
   as the container's /proc and /sys do (plain runc leaves them off: a difference on
   purpose, or a new procfs would be a way around the OCI config).
"""
from __future__ import annotations

import os

import pytest

from conftest import MiB, Container, meminfo_field
from plain_runc import run_both, start_pair

LIMIT = 256 * MiB

# What Docker (moby's oci/defaults.go) puts into config.json.
DOCKER_MASKED = ["/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
                 "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                 "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"]
DOCKER_READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def docker_paths(config: dict) -> None:
    config["linux"]["maskedPaths"] = list(DOCKER_MASKED)
    config["linux"]["readonlyPaths"] = list(DOCKER_READONLY)


@pytest.fixture
def pair(containers):
    """(ecifs, plain): one bundle with Docker's masks and CAP_SYS_ADMIN, under both."""
    return start_pair(containers, memory=LIMIT, extra_caps=["CAP_SYS_ADMIN"], edit_config=docker_paths)


def mounts(c: Container) -> list[dict]:
    """The container's /proc/self/mountinfo: [{"id", "parent", "point", "fstype", "options"}]."""
    out = []
    for line in c.exec("cat /proc/self/mountinfo").splitlines():
        pre, _, post = line.partition(" - ")
        fields = pre.split(" ")
        out.append({"id": int(fields[0]), "parent": int(fields[1]), "point": fields[4].replace("\\040", " "),
                    "options": fields[5], "fstype": post.split(" ")[0]})
    return out


def below(c: Container, base: str) -> dict:
    """The mounts below `base` (not base itself), by their path below it: (fstype, ro?)."""
    return {m["point"][len(base) + 1:]: (m["fstype"], "ro" in m["options"].split(","))
            for m in mounts(c) if m["point"].startswith(base + "/")}


def same_everywhere(ecifs: Container, plain: Container, script: str) -> tuple[int, str, str]:
    """Run under both; exit code, stdout and stderr must agree. Returns ecifs's."""
    mine, theirs = run_both(ecifs, plain, script)
    assert mine == theirs, f"{script!r}:\n  ecifs-runc: {mine}\n  plain runc: {theirs}"
    return mine


def carries_views(c: Container, base: str, fstype: str) -> None:
    views = {path for path, (kind, _) in below(c, base).items() if kind == "fuse.ecifs"}
    expected = {"meminfo", "uptime", "sys", "stat", "cpuinfo"} if fstype == "proc" else {"kernel"}
    assert expected <= views, (base, views)
    if fstype == "proc":
        assert meminfo_field(c.exec(f"cat {base}/meminfo"), "MemTotal") == LIMIT // 1024


# ---------------------------------------------------------------------------------
# 4. bind, rbind and move


@pytest.mark.asan
def test_bind_of_proc_and_sys_carries_the_views(pair):
    ecifs, plain = pair
    same_everywhere(ecifs, plain, "mkdir -p /mnt/b /mnt/s /mnt/r /mnt/v /mnt/bb /mnt/self")
    for script, base, fstype in [("mount --bind /proc /mnt/b", "/mnt/b", "proc"),
                                 ("mount --bind /sys /mnt/s", "/mnt/s", "sysfs"),
                                 ("mount --rbind /proc /mnt/r", "/mnt/r", "proc"),
                                 ("busybox mount -o bind /proc /mnt/bb", "/mnt/bb", "proc")]:
        assert same_everywhere(ecifs, plain, script)[0] == 0, script
        carries_views(ecifs, base, fstype)
    # A view itself, and a part of procfs with nothing of ours below: the kernel's binds.
    assert same_everywhere(ecifs, plain, "mount --bind /proc/sys /mnt/v")[0] == 0
    assert below(ecifs, "/mnt")["v"] == ("fuse.ecifs", False)
    assert same_everywhere(ecifs, plain, "mount --bind /proc/1 /mnt/self && cat /mnt/self/comm")[0] == 0


def test_move_of_what_the_container_mounted(pair):
    ecifs, plain = pair
    same_everywhere(ecifs, plain, "mkdir -p /mnt/b /mnt/m /mnt/p /mnt/q")
    assert same_everywhere(ecifs, plain, "mount --bind /proc /mnt/b && mount --move /mnt/b /mnt/m")[0] == 0
    carries_views(ecifs, "/mnt/m", "proc")
    assert same_everywhere(ecifs, plain, "mount -t proc proc /mnt/p && mount --move /mnt/p /mnt/q")[0] == 0
    carries_views(ecifs, "/mnt/q", "proc")
    # A view cannot be moved away (the kernel refuses that too: it is no mount point
    # under plain runc, a locked one under ecifs).
    rc, _, _ = same_everywhere(ecifs, plain, "mount --move /proc/meminfo /mnt/b")
    assert rc != 0


# ---------------------------------------------------------------------------------
# 5. what the container mounted, it may unmount


UNMOUNTS = [
    "mount -t proc proc /mnt/u && umount /mnt/u",
    "mount -t sysfs -o ro sysfs /mnt/u && umount /mnt/u",
    "mount --bind /proc /mnt/u && umount /mnt/u",
    "mount --bind /sys /mnt/u && umount /mnt/u",
    "mount --rbind /proc /mnt/u && umount -R /mnt/u",
    "mount --rbind /sys /mnt/u && umount -R /mnt/u",
    "mount -t proc proc /mnt/u && umount -l /mnt/u",
    "mount -t proc proc /mnt/u && busybox umount /mnt/u",
    "unshare -m sh -c 'mount -t proc proc /mnt/u && umount /mnt/u'",
    "unshare -pf --mount-proc sh -c 'umount /proc && ls /proc/meminfo /proc/sys/kernel/ostype'",  # not a count of /proc: pids come and go
]


@pytest.mark.parametrize("script", UNMOUNTS)
def test_what_the_container_mounted_it_may_unmount(pair, script):
    ecifs, plain = pair
    same_everywhere(ecifs, plain, "mkdir -p /mnt/u")
    assert same_everywhere(ecifs, plain, script)[0] == 0
    assert not [m for m in mounts(ecifs) if m["point"].startswith("/mnt/u")]


@pytest.mark.asan
def test_a_busy_procfs_stays_with_its_views(pair):
    ecifs, plain = pair
    same_everywhere(ecifs, plain, "mkdir -p /mnt/p && mount -t proc proc /mnt/p")
    # Something open in it (a working directory in a view, then in the procfs itself):
    # busy, as under runc, and nothing of it is gone.
    for cwd in ("/mnt/p/sys", "/mnt/p/self"):
        rc, _, err = same_everywhere(ecifs, plain, f"cd {cwd} && umount /mnt/p")
        assert rc != 0 and "busy" in err, err
        carries_views(ecifs, "/mnt/p", "proc")
    assert same_everywhere(ecifs, plain, "umount /mnt/p")[0] == 0


def test_mount_namespaces_the_container_left_are_let_go(daemon, pair):
    """The daemon holds each mount namespace it remembers mounts in (so that their ids
    cannot be taken by another), but only while a thread of the container is in it."""
    ecifs, _ = pair

    def held() -> int:
        count = 0
        for fd in os.listdir(f"/proc/{daemon.pid}/fd"):
            try:
                count += os.readlink(f"/proc/{daemon.pid}/fd/{fd}").startswith("mnt:")
            except OSError:
                pass
        return count

    before = held()
    ecifs.exec("mkdir -p /mnt/u && for i in $(seq 20); do unshare -m sh -c 'mount -t proc proc /mnt/u'; done")
    assert held() <= before + 1
    # One the container is in stays held, and what it made there stays its own.
    ecifs.exec("mount -t proc proc /mnt/u")
    assert held() == before + 1
    ecifs.exec("unshare -m sh -c 'mount -t proc proc /mnt/u' && umount /mnt/u")


def test_the_runtimes_mounts_stay_locked(pair):
    ecifs, _ = pair
    for target in ("/proc", "/sys", "/proc/meminfo", "/proc/sys", "/sys/kernel"):
        r = ecifs.mgr.shim("exec", ecifs.id, "umount", target)
        assert r.returncode != 0 and "busy" in r.stderr, (target, r.stderr)
    # Also their copies in a mount namespace of the container's own.
    for script in ("unshare -m umount /proc/meminfo", "unshare -m umount -l /proc",
                   "unshare -m mount --move /proc/sys /mnt"):
        r = ecifs.mgr.shim("exec", ecifs.id, "sh", "-c", script)
        assert r.returncode != 0, (script, r.stdout, r.stderr)
    assert meminfo_field(ecifs.exec("cat /proc/meminfo"), "MemTotal") == LIMIT // 1024


# ---------------------------------------------------------------------------------
# 6. the runtime's masks on a procfs or sysfs mounted inside


# The kernel's own files bound back over the /proc/sys view (docs/sysctl.md, "The
# kernel's own files"): neither views nor masks.
KERNEL_FILES = {"sys/kernel/ns_last_pid", "sys/vm/memfd_noexec"}


def masks(c: Container, base: str) -> dict:
    """Mounts below base that are not views: the masks and read-only paths."""
    return {path: kind for path, kind in below(c, base).items()
            if kind[0] != "fuse.ecifs" and path not in KERNEL_FILES}


def test_kernel_files_are_bound_over_the_views(pair):
    """Wherever the /proc/sys view goes, the kernel's ns_last_pid goes on top of it."""
    ecifs, _ = pair
    ecifs.exec("mkdir -p /mnt/p /mnt/b && mount -t proc proc /mnt/p && mount --bind /proc /mnt/b")
    for base in ("/proc", "/mnt/p", "/mnt/b"):
        assert below(ecifs, base)["sys/kernel/ns_last_pid"][0] == "proc", base
        pids = ecifs.exec(f"sh -c 'echo $$'; cat {base}/sys/kernel/ns_last_pid").split()
        assert int(pids[1]) == int(pids[0]) + 1, (base, pids)


@pytest.mark.asan
@pytest.mark.parametrize("how", ["mount -t proc proc /mnt/p", "mount --bind /proc /mnt/p"])
def test_new_procfs_gets_the_runtimes_masks(pair, how):
    ecifs, plain = pair
    runtime = masks(ecifs, "/proc")
    views = {path for path, (kind, _) in below(ecifs, "/proc").items() if kind == "fuse.ecifs"}
    assert runtime == {p: k for p, k in masks(plain, "/proc").items() if p not in views}, "runc placed the same masks"
    assert {"keys", "timer_list", "acpi", "bus", "irq"} <= set(runtime), runtime
    ecifs.exec(f"mkdir -p /mnt/p && {how}")
    assert masks(ecifs, "/mnt/p") == runtime
    # What they do: a masked file reads empty, a masked directory is empty, a read-only
    # path refuses writes, exactly as under /proc.
    for script in ("cat {}/keys {}/timer_list | wc -c", "ls {}/acpi | wc -l",
                   "(echo 1 > {}/irq/default_smp_affinity) 2>&1 | sed 's,^.*: ,,'"):
        assert ecifs.exec(script.format("/mnt/p", "/mnt/p")) == ecifs.exec(script.format("/proc", "/proc")), script


def test_new_sysfs_and_unshare_mount_proc_get_the_masks(pair):
    ecifs, _ = pair
    ecifs.exec("mkdir -p /mnt/s && mount -t sysfs -o ro sysfs /mnt/s")
    assert masks(ecifs, "/mnt/s") == masks(ecifs, "/sys")
    assert "firmware" in masks(ecifs, "/mnt/s")
    # A new pid namespace's /proc, as `unshare --mount-proc` makes it.
    inside = ecifs.exec("unshare -pf --mount-proc sh -c 'cat /proc/keys /proc/timer_list | wc -c'")
    assert inside.split() == ["0"], inside
