"""ecifsctl stats, and its Prometheus text, against known traffic from a real container:
N opens of a view, M refused sysctl writes, K trapped sysinfo calls; the daemon's own
figures against what /proc says of it."""
from __future__ import annotations

import json
import os
import re
import subprocess

from conftest import ECIFSCTL, MiB, proc_env, wait_for

READS, BAD_WRITES, SYSINFOS = 50, 7, 5


def stats(daemon, *args: str) -> dict:
    return daemon.ctl_json("stats", *args)


def view(container_stats: dict, path: str) -> dict:
    return next((v for v in container_stats["views"] if v["path"] == path), {"requests": {}})


def answered(container_stats: dict, path: str, kind: str, field: str = "answered") -> int:
    return view(container_stats, path)["requests"].get(kind, {}).get(field, 0)


def loop(times: int, command: str) -> str:
    return f"i=0; while [ $i -lt {times} ]; do {command}; i=$((i+1)); done"


def test_stats_count_a_containers_requests_errors_and_trapped_calls(daemon, containers):
    c = containers.start(memory=128 * MiB)
    before = stats(daemon, c.id)["containers"][0]
    c.exec(loop(READS, "cat /proc/meminfo >/dev/null"))
    c.exec(loop(BAD_WRITES, "echo not-a-number > /proc/sys/kernel/panic 2>/dev/null || true"))
    c.exec(loop(SYSINFOS, "busybox uptime >/dev/null"))

    def after():
        return stats(daemon, c.id)["containers"][0]
    # RELEASE comes after close(2), asynchronously: wait for the last ones.
    assert wait_for(lambda: answered(after(), "/proc/meminfo", "release") - answered(before, "/proc/meminfo", "release")
                    >= READS, 10)
    now = after()
    assert answered(now, "/proc/meminfo", "open") - answered(before, "/proc/meminfo", "open") == READS
    assert answered(now, "/proc/meminfo", "open", "errors") == 0
    panic = "/proc/sys/kernel/panic"
    assert answered(now, panic, "write", "errors") - answered(before, panic, "write", "errors") == BAD_WRITES
    assert view(now, "/proc/meminfo")["answered"] >= 2 * READS  # open and release at least
    opens = now["latency"]["open"]
    assert opens["answered"] >= READS + BAD_WRITES and 0 < opens["p50_us"] <= opens["p99_us"] and opens["seconds"] > 0
    trapped = now["trapped_calls"]["answered"] - before["trapped_calls"]["answered"]
    assert trapped == SYSINFOS
    assert now["seccomp_notify_fds"] >= 1
    assert now["open_files"] == 0  # every cat closed its file


def test_stats_of_the_daemon_are_what_proc_says(daemon, containers):
    containers.start(memory=64 * MiB)
    d = stats(daemon)["daemon"]
    status = open(f"/proc/{daemon.pid}/status").read()
    rss_kib = int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1))
    threads = int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))
    assert abs(d["rss_bytes"] / 1024 - rss_kib) <= 512, (d, rss_kib)
    assert d["threads"] == threads
    fds = len(os.listdir(f"/proc/{daemon.pid}/fd"))
    assert abs(d["fds"] - fds) <= 2, (d, fds)  # the stats request's own connection
    assert 0 < d["uptime_seconds"] < 600


def test_stats_as_prometheus_text(daemon, containers):
    c = containers.start(memory=64 * MiB)
    c.exec(loop(3, "cat /proc/uptime >/dev/null"))
    r = subprocess.run([str(ECIFSCTL), "--socket", str(daemon.socket), "stats", "--prometheus"], capture_output=True,
                       text=True, timeout=30, env=proc_env())
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    # Every line is a comment (HELP or TYPE) or a sample: name{labels} value.
    sample = re.compile(r'^[a-z_]+(\{([a-z_]+="[^"]*",?)+\})? [0-9.e+-]+$')
    assert all(line.startswith("# HELP ") or line.startswith("# TYPE ") or sample.match(line) for line in lines), \
        [line for line in lines if not sample.match(line) and not line.startswith("#")]
    assert f'ecifs_requests_total{{container="{c.id}",view="/proc/uptime",kind="open"}} 3' in lines
    assert "# TYPE ecifs_request_duration_seconds summary" in lines
    assert any(line.startswith("ecifs_daemon_rss_bytes ") for line in lines)
    # Each family's TYPE comes once, before its samples.
    types = [line.split()[2] for line in lines if line.startswith("# TYPE ")]
    assert len(types) == len(set(types))


def test_stats_of_an_unknown_container_is_an_error(daemon):
    r = daemon.ctl("stats", "no-such-container")
    assert r.returncode == 1 and "unknown container no-such-container" in r.stderr
    assert json.loads(daemon.ctl("stats").stdout)["containers"] == []
