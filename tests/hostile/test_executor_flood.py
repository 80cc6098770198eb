"""Issue 11, item 2: a container that makes a new user namespace per read (the
`for i in $(seq 3000); do unshare -Ur cat /proc/sys/kernel/hostname; done` loop, as a
static probe that forks, unshares and reads without exec) makes the daemon start an
executor per namespace set; it keeps at most NsExecutors::max_executors of them, its
neighbour keeps reading its own hostname meanwhile, and nothing of the flooder's is
left once it is deleted. ECIFS_EXECUTOR_FLOOD sets the count (3000, the full run)."""
from __future__ import annotations

import os
import threading
from pathlib import Path

from conftest import MiB, assert_daemon_serves, build_probe, install

COUNT = int(os.environ.get("ECIFS_EXECUTOR_FLOOD", "3000"))
CAP = 32  # ns/executor.hpp: NsExecutors::max_executors
# Evicted executors still answering a request end when it does: one per serving thread.
MARGIN = 4


def executors_of(daemon_pid: int) -> dict[int, int]:
    """The daemon's live executor children: pid -> inode of the user namespace."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            if ppid != daemon_pid or b"__ns-executor" not in (entry / "cmdline").read_bytes():
                continue
            found[int(entry.name)] = os.stat(entry / "ns" / "user").st_ino
        except (OSError, ValueError):  # gone meanwhile, or a zombie
            continue
    return found


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def sample_while(flood: threading.Thread, daemon_pid: int, neighbour, hostname: str) -> tuple[int, int]:
    """Until the flood ends: the most executors seen at once, and the neighbour's reads
    (each asserted to show its own hostname)."""
    most, reads = 0, 0
    while flood.is_alive():
        most = max(most, len(executors_of(daemon_pid)))
        assert neighbour.exec("cat /proc/sys/kernel/hostname").strip() == hostname
        reads += 1
    return most, reads


def test_a_namespace_per_read_keeps_executors_bounded(make_daemon, work_dir):
    from conftest import integration

    daemon = make_daemon(log_level="info")
    containers = integration.Containers(work_dir, daemon.socket, daemon)
    try:
        flooder = containers.start(memory=256 * MiB)
        neighbour = containers.start(memory=256 * MiB)
        neighbour_name = neighbour.id[-20:]
        probe = install(flooder, build_probe(work_dir, "unshare_flood"))
        assert neighbour.exec("cat /proc/sys/kernel/hostname").strip() == neighbour_name
        neighbours_own = set(executors_of(daemon.pid).values())
        fds_before = fd_count(daemon.pid)
        result: list[str] = []
        flood = threading.Thread(target=lambda: result.append(flooder.exec(f"{probe} {COUNT}", timeout=600)))
        flood.start()
        try:
            most, reads = sample_while(flood, daemon.pid, neighbour, neighbour_name)
        finally:
            flood.join()
        fds_after = fd_count(daemon.pid)
        print(f"{COUNT} unshare+reads: {result[0].strip() if result else 'no result'}; most executors at once "
              f"{most} (cap {CAP}); neighbour read its hostname {reads} times meanwhile; daemon fds "
              f"{fds_before} -> {fds_after}")
        assert result and result[0].startswith(f"{COUNT} of {COUNT} read {flooder.id[-20:]}"), result
        assert most <= CAP + MARGIN
        assert fds_after <= fds_before + CAP + MARGIN
        assert_daemon_serves(daemon)
        containers.shim("delete", "-f", flooder.id, timeout=30)
        daemon_left = integration.wait_for(
            lambda: not set(executors_of(daemon.pid).values()) - neighbours_own, 10)
        assert daemon_left, f"executors of the deleted flooder left: {executors_of(daemon.pid)}"
        assert neighbour.exec("cat /proc/sys/kernel/hostname").strip() == neighbour_name
        assert_daemon_serves(daemon)
    finally:
        problems = containers.cleanup()
        assert not problems, "; ".join(problems)
