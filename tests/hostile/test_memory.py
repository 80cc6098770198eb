"""Issue 11, item 3: what a container opens or names costs the daemon little and for a
bounded time. 500 handles open at once on the largest view file (the host's
/sys/kernel/btf/vmlinux, several MB) share one copy (fs/snapshots.hpp); interfaces
made and deleted by the thousand leave no inodes behind once the kernel forgets them
(fs/dynamic_nodes.hpp)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import MiB, assert_daemon_serves, wait_for

# The largest file a container can open through the views: /sys/kernel is the host's
# (handlers/registry.cpp), and its BTF is megabytes; the rendered files are kilobytes.
LARGEST = "/sys/kernel/btf/vmlinux"
OPENS = 500
CONF = "/proc/sys/net/ipv4/conf"
ROUNDS, PER_ROUND = 40, 50  # 2000 interfaces, 50 at a time

# Opens OPENS handles, reads one byte of each, keeps them all open until /tmp/done.
HOLDER = f"""
import os, sys, time
files = [open({LARGEST!r}, "rb", buffering=0) for _ in range({OPENS})]
assert all(len(f.read(1)) == 1 for f in files)
open("/tmp/ready", "w").close()
while not os.path.exists("/tmp/done"):
    time.sleep(0.05)
print(len(files), "held")
"""


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def test_five_hundred_opens_of_the_largest_view_file_hold_one_copy(daemon, containers):
    if not os.path.exists(LARGEST):
        pytest.skip(f"this kernel has no {LARGEST}")
    size = os.stat(LARGEST).st_size
    holder = containers.start(memory=256 * MiB)
    neighbour = containers.start(memory=256 * MiB)
    rootfs = holder.bundle / "rootfs"
    before, peak_before = rss_kib(daemon.pid), rss_kib(daemon.pid, "VmHWM")
    run = subprocess.Popen([str(containers.bin_dir / "ecifs-runc"), "--root", str(containers.root), "exec",
                            holder.id, "python3", "-c", HOLDER], env=containers.env(),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_for(lambda: (rootfs / "tmp/ready").exists() or run.poll() is not None, timeout=240)
        assert run.poll() is None, run.stdout.read()
        held = rss_kib(daemon.pid)
        meminfo = neighbour.exec("cat /proc/meminfo")
        assert meminfo.startswith("MemTotal:"), meminfo
        assert_daemon_serves(daemon)
    finally:
        (rootfs / "tmp/done").touch()
        try:
            out, _ = run.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            run.kill()  # ours, by its pid
            out, _ = run.communicate()
    assert out.strip().endswith(f"{OPENS} held"), out
    growth, peak_growth = held - before, rss_kib(daemon.pid, "VmHWM") - peak_before
    print(f"{OPENS} opens of {LARGEST} ({size} bytes, {size * OPENS // MiB} MiB if copied per open): "
          f"daemon RSS {before} -> {held} KiB (+{growth // 1024} MiB), peak +{peak_growth // 1024} MiB")
    assert growth * 1024 <= 64 * MiB
    assert peak_growth * 1024 <= 64 * MiB
    assert_daemon_serves(daemon)


# One round: make PER_ROUND bridges, list the conf directory, read each new one's
# forwarding (a LOOKUP of the name and of the file: inodes the kernel holds), delete them.
CHURN = f"""
set -e
for r in $(seq 0 {ROUNDS - 1}); do
  seq 0 {PER_ROUND - 1} | sed "s/.*/link add b$r-& type bridge/" | ip -batch -
  python3 -c '
import os, sys
names = [n for n in os.listdir("{CONF}") if n.startswith("b{{}}-".format(sys.argv[1]))]
assert len(names) == {PER_ROUND}, names
for n in names: open("{CONF}/" + n + "/forwarding").read()
' $r
  seq 0 {PER_ROUND - 1} | sed "s/.*/link del b$r-&/" | ip -batch -
done
echo churned
"""

# Every deleted name again: the kernel asks (its entries expired: dynamic_cache_seconds),
# learns the name is gone and drops it, which FORGETs the inodes it held.
REVISIT = f"""
python3 -c '
import os
gone = sum(not os.path.exists("{CONF}/b%d-%d" % (r, i)) for r in range({ROUNDS}) for i in range({PER_ROUND}))
print(gone)
'
"""


def test_interfaces_made_and_deleted_by_the_thousand_leave_no_inodes(daemon, containers):
    churner = containers.start(memory=256 * MiB, extra_caps=["CAP_NET_ADMIN"])
    neighbour = containers.start(memory=256 * MiB)

    def nodes() -> int:
        return daemon.request({"op": "inspect", "id": churner.id})["container"]["nodes"]

    churner.exec(f"ls {CONF} >/dev/null; cat {CONF}/lo/forwarding >/dev/null")
    start = nodes()
    assert churner.exec(CHURN, timeout=600).strip().endswith("churned")
    churned = nodes()
    assert neighbour.exec("cat /proc/meminfo").startswith("MemTotal:")
    revisits = [0]

    def settled() -> bool:
        revisits[0] += 1
        assert churner.exec(REVISIT, timeout=120).strip() == str(ROUNDS * PER_ROUND)
        return nodes() <= start + 8

    back = wait_for(settled, timeout=60, interval=0.5)
    print(f"{ROUNDS * PER_ROUND} interfaces made and deleted: the mount's inodes {start} at start, "
          f"{churned} after the churn, {nodes()} once the kernel forgot them ({revisits[0]} revisits)")
    assert back, f"inodes did not fall back: {nodes()} (start {start})"
    assert_daemon_serves(daemon)
