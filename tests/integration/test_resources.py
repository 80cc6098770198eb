"""The resource views in real runc containers (issue 5, "done means" 2 and 4): CPU
topology, /proc/stat, loadavg, swaps, diskstats, pressure and vmstat, the tools that
read them, and the load sampler's cost with 100 containers. This machine's containers
run on cgroup v1 (with PSI in the hybrid unified hierarchy)."""
from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import MiB, meminfo_field, new_name, remove_cgroup_tree, wait_for

BUSY_LOOP = "sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &"
# A memory hog that an OOM kill restarts: 8 MiB of touched pages at a time.
MEMORY_HOG = ("sh -c 'while :; do python3 -c \"import itertools; "
              "b = [bytes(range(256)) * 32768 for _ in itertools.count()]\"; sleep 0.2; done'"
              " </dev/null >/dev/null 2>&1 &")


def stat_cpu(text: str) -> list[int]:
    """The `cpu` line of /proc/stat: user nice system idle ..."""
    line = next(l for l in text.splitlines() if l.startswith("cpu "))
    return [int(v) for v in line.split()[1:]]


def stat_value(text: str, key: str) -> int:
    m = re.search(rf"^{key} (\d+)$", text, re.M)
    assert m, f"no {key} in:\n{text}"
    return int(m.group(1))


def loadavg(c) -> tuple[list[float], str]:
    text = c.exec("cat /proc/loadavg")
    m = re.fullmatch(r"(\d+\.\d\d) (\d+\.\d\d) (\d+\.\d\d) (\d+)/(\d+) (\d+)\n", text)
    assert m, repr(text)
    return [float(m.group(i)) for i in (1, 2, 3)], text


def test_one_cpu_everywhere(containers):
    c = containers.start(memory=256 * MiB, cpus=1.0, cpuset="0")
    assert c.exec("grep -c ^processor /proc/cpuinfo") == "1\n"
    assert c.exec("nproc") == "1\n"
    assert c.exec("getconf _NPROCESSORS_CONF") == "1\n"
    assert c.exec("getconf _NPROCESSORS_ONLN") == "1\n"
    assert c.exec("python3 -c 'import os; print(os.cpu_count())'") == "1\n"
    lscpu = c.exec("lscpu")
    assert re.search(r"^CPU\(s\):\s+1$", lscpu, re.M), lscpu
    assert re.search(r"^On-line CPU\(s\) list:\s+0$", lscpu, re.M), lscpu
    if Path("/sys/devices/system/node/node0").is_dir():  # NUMA nodes list the same CPU
        assert re.search(r"^NUMA node0 CPU\(s\):\s+0$", lscpu, re.M), lscpu
        assert c.exec("cat /sys/devices/system/node/node0/cpulist") == "0\n"
    for name in ("online", "present", "possible"):
        assert c.exec(f"cat /sys/devices/system/cpu/{name}") == "0\n"
    assert c.exec("ls /sys/devices/system/cpu | grep -c '^cpu[0-9]'") == "1\n"
    stat = c.exec("cat /proc/stat")
    assert [l.split()[0] for l in stat.splitlines() if l.startswith("cpu")] == ["cpu", "cpu0"]
    cpuinfo = c.exec("cat /proc/cpuinfo")
    assert re.search(r"^processor\s+: 0$", cpuinfo, re.M) and re.search(r"^siblings\s+: 1$", cpuinfo, re.M)
    # The mirror is read-only and keeps the host's modes and owner (the kernel's: nobody).
    assert c.exec("stat -c '%u %a' /sys/devices/system/cpu/online") == "65534 444\n"
    r = containers.shim("exec", c.id, "sh", "-c", "echo 0 > /sys/devices/system/cpu/cpu0/online")
    assert r.returncode != 0


def test_top_and_vmstat_show_the_containers_memory(containers):
    c = containers.start(memory=256 * MiB, cpus=1.0, cpuset="0")
    top = c.exec("top -bn1")
    assert re.search(r"^MiB Mem :\s+256\.0 total", top, re.M), top
    assert re.search(r"^%Cpu\(s\):", top, re.M), top
    vmstat = c.exec("vmstat 1 2")
    rows = [l.split() for l in vmstat.splitlines()[2:]]
    assert len(rows) == 2 and all(len(r) == 17 for r in rows), vmstat
    for r in rows:
        assert all(int(v) >= 0 for v in r), vmstat
        assert int(r[3]) + int(r[4]) + int(r[5]) <= 262144, vmstat  # free + buff + cache, KiB
    assert re.search(r"^\s+262144 K total memory$", c.exec("vmstat -s"), re.M)


def test_busy_container_raises_its_load_and_user_time_the_idle_one_stays_low(containers):
    busy = containers.start(memory=256 * MiB, cpus=1.0, cpuset="0")
    idle = containers.start(memory=256 * MiB, cpus=1.0, cpuset="0")
    busy_before, idle_before = stat_cpu(busy.exec("cat /proc/stat")), stat_cpu(idle.exec("cat /proc/stat"))
    busy.exec(BUSY_LOOP)
    started = time.monotonic()
    # The sampler folds every 5 s: 1 running task gives 0.08, 0.16, 0.23 after 5, 10, 15 s.
    assert wait_for(lambda: loadavg(busy)[0][0] >= 0.15, 22, 1.0), loadavg(busy)[1]
    elapsed = time.monotonic() - started
    load, text = loadavg(busy)
    running, total = map(int, text.split()[3].split("/"))
    assert running >= 2 and total >= 3, text  # the loop and the reader; + init and sh
    busy_after, idle_after = stat_cpu(busy.exec("cat /proc/stat")), stat_cpu(idle.exec("cat /proc/stat"))
    # Ticks of 1/100 s: the loop got a fair share of CPU 0 (the host may be busy too),
    # the idle container next to it next to nothing.
    assert busy_after[0] - busy_before[0] >= 20 * elapsed, (busy_before, busy_after, elapsed)
    assert idle_after[0] - idle_before[0] <= 2 * elapsed, (idle_before, idle_after)
    # The idle container's own `runc exec` readers run in its cgroup, and the sampler
    # (like the kernel's) may catch one of them at a 5-s tick: one such sample is 0.08.
    idle_load, idle_text = loadavg(idle)
    assert max(idle_load) <= 0.12 and idle_load[0] <= load[0] / 2, (idle_text, text)
    # Each line adds up to the container's age: the idle container is almost all idle.
    idle_uptime = float(idle.exec("cat /proc/uptime").split()[0])
    assert abs(sum(idle_after) - idle_uptime * 100) <= 100, (idle_after, idle_uptime)
    assert stat_value(busy.exec("cat /proc/stat"), "procs_running") >= 2


def cgroup_cpu_seconds(c) -> float:
    """The CPU time the container's cgroup has used, as the host's cgroupfs counts it."""
    dirs = c.cgroup_dirs()
    for d in dirs:  # v1
        if (d / "cpuacct.usage").exists():
            return int((d / "cpuacct.usage").read_text()) / 1e9
    for d in dirs:  # v2
        if (d / "cpu.stat").exists():
            return int(re.search(r"^usage_usec (\d+)$", (d / "cpu.stat").read_text(), re.M).group(1)) / 1e6
    raise AssertionError(f"no CPU accounting for {c.id} in {c.cgroup_dirs()}")


def first_claim_on_cpu0(cfg: dict) -> None:
    """The most CPU weight a cgroup can have (v1 shares; runc maps it to v2's weight):
    the container's loop then gets nearly all of CPU 0 however busy the host is."""
    cfg["linux"]["resources"]["cpu"]["shares"] = 262144


def test_vmstat_rereads_show_the_busy_loop(containers):
    c = containers.start(memory=128 * MiB, cpus=1.0, cpuset="0", edit_config=first_claim_on_cpu0)
    c.exec(BUSY_LOOP)
    # vmstat keeps /proc/stat open and reads it again from offset 0 for every sample:
    # every 1-s sample shows the loop. The bar is half of the share of a CPU the cgroup
    # got over the run, as the host's cgroupfs counts it.
    used, started = cgroup_cpu_seconds(c), time.monotonic()
    out = c.exec("vmstat 1 4")
    share = (cgroup_cpu_seconds(c) - used) / (time.monotonic() - started)
    rows = [l.split() for l in out.splitlines() if re.match(r"\s*\d+\s+\d+\s+\d+\s+\d+", l)]
    assert len(rows) == 4, out
    for r in rows[1:]:  # us + sy of each second
        assert int(r[12]) + int(r[13]) >= max(1, 50 * share), (share, out)


# The reader below: /proc/stat read again and again from one descriptor, as vmstat and
# top do; prints every counter of a cpu line that went down from one read to the next.
STAT_REREADER = r"""
import os, sys, time
f = open("/proc/stat", "rb", buffering=0)
last, reads = None, 0
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    f.seek(0)
    text, reads = f.read().decode(), reads + 1
    now = {l.split()[0]: [int(v) for v in l.split()[1:]] for l in text.splitlines() if l.startswith("cpu")}
    for name, values in (last or {}).items():
        for i, (a, b) in enumerate(zip(values, now.get(name, values))):
            if b < a:
                print(f"{name} field {i}: {a} -> {b}")
    last = now
    time.sleep(0.05)
print(f"reads {reads}")
"""


def test_stat_counters_never_go_backwards(containers):
    # A counter of a cpu line that goes down makes procps (libproc2's
    # stat_derive_unique) take the CPU for one brought back online and zero every delta
    # of that sample: vmstat then shows a busy second as 100% idle. Busy time that keeps
    # pace with the clock (a loop with all of its CPU) is where that happened.
    c = containers.start(memory=128 * MiB, cpus=1.0, cpuset="0", edit_config=first_claim_on_cpu0)
    c.exec(BUSY_LOOP)
    out = c.exec(f"python3 -c '{STAT_REREADER}' 20", timeout=60)
    lines = out.splitlines()
    assert lines[-1].startswith("reads ") and int(lines[-1].split()[1]) >= 50, out
    assert lines == lines[-1:], out


def assert_sane(what: str, text: str) -> None:
    assert not re.search(r"(?<![\w-])-\d", text), f"negative value in {what}:\n{text}"
    assert not re.search(r"\d{16,}", text), f"absurd value in {what}:\n{text}"


def test_tools_stay_sane_while_memory_use_rises_past_the_limit(containers):
    limit = 96 * MiB
    c = containers.start(memory=limit, cpus=1.0, cpuset="0")
    c.exec(MEMORY_HOG)
    deadline = time.monotonic() + 12
    samples = 0
    while time.monotonic() < deadline:
        out = c.exec("free -b; echo ==; top -bn1 | head -5; echo ==; uptime; echo ==; vmstat; echo ==;"
                     " lscpu | head -8; echo ==; cat /proc/meminfo /proc/swaps /proc/loadavg /proc/stat",
                     check=False, timeout=30)
        parts = out.split("==\n")
        if len(parts) < 6:  # the exec itself met the OOM killer: sample again
            continue
        free, top, uptime, vmstat, lscpu, files = parts
        for name, text in (("free", free), ("top", top), ("uptime", uptime), ("vmstat", vmstat),
                           ("lscpu", lscpu), ("proc files", files)):
            assert_sane(name, text)
        mem = next(l.split() for l in free.splitlines() if l.startswith("Mem:"))
        total, used, free_b = int(mem[1]), int(mem[2]), int(mem[3])
        assert total == limit and 0 <= used <= total and 0 <= free_b <= total, free
        assert int(mem[-1]) <= total, free  # available
        m = re.search(r"MiB Mem :\s+([\d.]+) total,\s+([\d.]+) free,\s+([\d.]+) used", top)
        assert m and float(m.group(1)) == 96.0 and float(m.group(2)) <= 96.0 and float(m.group(3)) <= 96.0, top
        loads = re.search(r"load average: ([\d.]+), ([\d.]+), ([\d.]+)", uptime)
        assert loads and all(0 <= float(v) < 50 for v in loads.groups()), uptime
        row = vmstat.splitlines()[-1].split()
        assert int(row[3]) <= limit // 1024, vmstat
        assert re.search(r"^CPU\(s\):\s+1$", lscpu, re.M), lscpu
        assert meminfo_field(files, "MemAvailable") <= meminfo_field(files, "MemTotal")
        samples += 1
        time.sleep(0.3)
    assert samples >= 3
    # The hog did push the cgroup into its limit (v1: memory.failcnt counts the hits).
    failcnt = Path(f"/sys/fs/cgroup/memory/{c.id}/memory.failcnt")
    if failcnt.exists():
        assert int(failcnt.read_text()) > 0


def whole_disk_of(path: Path) -> tuple[int, int] | None:
    """major, minor of the disk (not the partition) holding path; None off block devices."""
    dev = os.stat(path).st_dev
    sys_dev = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
    if not sys_dev.exists():
        return None
    disk = sys_dev.resolve()
    if (disk / "partition").exists():
        disk = disk.parent
    major, minor = (disk / "dev").read_text().split(":")
    return int(major), int(minor)


def test_swaps_diskstats_vmstat_and_pressure_are_the_containers(containers, work_dir):
    # cgroup v1 on Linux >= 6.10 counts a disk's I/O per cgroup only once blk-throttle is
    # active on it: a limit no write reaches (1 TiB/s), as `docker --device-write-bps`.
    disk = whole_disk_of(work_dir)

    def throttle(cfg: dict) -> None:
        if disk:
            cfg["linux"]["resources"]["blockIO"] = {"throttleWriteBpsDevice": [
                {"major": disk[0], "minor": disk[1], "rate": 1 << 40}]}
    c = containers.start(memory=256 * MiB, cpus=1.0, cpuset="0", edit_config=throttle)
    host_swaps = Path("/proc/swaps").read_text()
    swaps = c.exec("cat /proc/swaps")
    assert swaps.splitlines()[0] == host_swaps.splitlines()[0]
    if len(host_swaps.splitlines()) == 1:  # no swap on the host: none in the container
        assert swaps == host_swaps
    # Same devices as the host, the container's own counters: a direct write shows up.
    host_devices = [l.split()[:3] for l in Path("/proc/diskstats").read_text().splitlines()]
    before = c.exec("cat /proc/diskstats")
    assert [l.split()[:3] for l in before.splitlines()] == host_devices
    c.exec("dd if=/dev/zero of=/root/f bs=1M count=4 oflag=direct 2>/dev/null; rm -f /root/f")
    after = c.exec("cat /proc/diskstats")
    written = sum(int(l.split()[9]) for l in after.splitlines()) - sum(int(l.split()[9]) for l in before.splitlines())
    if disk:
        assert written >= 8192, (before, after)  # sectors
    vmstat = c.exec("cat /proc/vmstat")
    host_vmstat = Path("/proc/vmstat").read_text()
    assert [l.split()[0] for l in vmstat.splitlines()] == [l.split()[0] for l in host_vmstat.splitlines()]
    assert stat_value(vmstat, "pgfault") < stat_value(host_vmstat, "pgfault")
    if Path("/proc/pressure").is_dir():
        names = c.exec("ls /proc/pressure").split()
        unified = Path(f"/sys/fs/cgroup/unified/{c.id}")
        if unified.is_dir():  # hybrid: PSI of the container's unified cgroup
            assert names == ["cpu", "io", "memory"]
            for name in names:
                text = c.exec(f"cat /proc/pressure/{name}")
                assert re.fullmatch(r"some avg10=\d+\.\d\d avg60=\d+\.\d\d avg300=\d+\.\d\d total=\d+\n"
                                    r"full avg10=\d+\.\d\d avg60=\d+\.\d\d avg300=\d+\.\d\d total=\d+\n", text), text
    # /proc/slabinfo is the kernel's own, which a user-namespaced root cannot open.
    r = containers.shim("exec", c.id, "cat", "/proc/slabinfo")
    assert r.returncode != 0 and not r.stdout


def test_load_sampler_cost_with_100_containers(make_daemon, work_dir):
    """100 pseudo-containers, each a `sleep` alone in its own pids cgroup; the daemon logs
    every sampler tick's cost at trace level."""
    pids_root = Path("/sys/fs/cgroup/pids")
    if not (pids_root / "cgroup.procs").exists():
        pytest.skip("needs the v1 pids hierarchy")
    daemon = make_daemon(log_level="trace")
    sleeps, cgroups, ids = [], [], []
    try:
        for _ in range(100):
            p = subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL)
            sleeps.append(p)
            cg = pids_root / new_name("l")
            cg.mkdir()
            cgroups.append(cg)
            (cg / "cgroup.procs").write_text(str(p.pid))
            cid = new_name("p")
            daemon.ctl_json("prepare", cid)
            ids.append(cid)
            daemon.ctl_json("start", cid, str(p.pid))
        ticks = re.compile(r"load sampler: 100 containers, (\d+) threads in (\d+) us")

        def full_ticks():  # ticks that folded (nearly) every container: one may be due just after
            return [(int(t), int(us)) for t, us in ticks.findall(daemon.log_path.read_text())
                    if int(t) >= 90]
        assert wait_for(lambda: len(full_ticks()) >= 2, 16, 0.5), daemon.log_tail(20)
        costs = [us for _, us in full_ticks()]
        print(f"load sampler, 100 containers of 1 thread: {costs} us per tick")
        assert max(costs) < 100_000, costs  # well under one tick's 5 s, as a bound
    finally:
        for cid in ids:
            daemon.ctl("remove", cid)
        for p in sleeps:
            p.kill()
            p.wait(10)
        for cg in cgroups:
            remove_cgroup_tree(cg)
