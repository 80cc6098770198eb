#!/usr/bin/env python3
"""What the number of tasks in a container costs each read of its views (issue 14):
/proc/stat, /proc/loadavg and a trapped sysinfo(2) count the container's tasks, and
/proc/meminfo, which does not, is the control. Run by scripts/bench-tasks.sh.

Two runc containers through ecifs-runc, one daemon: one with a handful of tasks, one
with THREADS more (a python process of sleeping threads). In each, a timer process
(python3 from the host's /usr, bound read-only) opens, reads to EOF and closes each file
COUNT times, and calls sysinfo COUNT times; the two containers take turns for ROUNDS
rounds, so machine noise hits both alike. Medians and p99 in microseconds, per
container, and their ratio."""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
import integration_fixtures  # noqa: E402

it = integration_fixtures.load()

FILES = ["/proc/stat", "/proc/loadavg", "/proc/meminfo"]

# Runs in the container: COUNT reads of each file and COUNT sysinfo calls, as JSON.
TIMER = r"""
import ctypes, json, os, sys, time
count = int(sys.argv[1])
files = sys.argv[2:]
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(256)
out = {}
for path in files:
    samples = []
    for _ in range(count):
        t = time.perf_counter_ns()
        fd = os.open(path, os.O_RDONLY)
        while os.read(fd, 65536):
            pass
        os.close(fd)
        samples.append(time.perf_counter_ns() - t)
    out[path] = samples
samples = []
for _ in range(count):
    t = time.perf_counter_ns()
    if libc.sysinfo(buf) != 0:
        raise OSError(ctypes.get_errno(), "sysinfo")
    samples.append(time.perf_counter_ns() - t)
out["sysinfo(2)"] = samples
print(json.dumps(out))
"""

# Runs in the container, detached: N sleeping threads, until killed with the container.
SLEEPERS = r"""
import sys, threading, time
threading.stack_size(64 * 1024)
for _ in range(int(sys.argv[1])):
    threading.Thread(target=time.sleep, args=(86400,), daemon=True).start()
open("/tmp/sleepers.ready", "w").close()
time.sleep(86400)
"""


def tasks_of(c) -> int:
    return int(c.exec("cat /proc/loadavg").split()[3].split("/")[1])


def start(mgr, extra_threads: int):
    c = mgr.start(memory=1024 * it.MiB)
    (c.bundle / "rootfs" / "tmp" / "timer.py").write_text(TIMER)
    if extra_threads:
        (c.bundle / "rootfs" / "tmp" / "sleepers.py").write_text(SLEEPERS)
        r = mgr.shim("exec", "-d", c.id, "python3", "/tmp/sleepers.py", str(extra_threads), capture_output=False,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert r.returncode == 0, "starting the sleepers"
        ready = c.bundle / "rootfs" / "tmp" / "sleepers.ready"
        assert it.wait_for(ready.exists, 120), "the sleepers did not start"
    return c


def measure(containers: dict, count: int, rounds: int) -> dict:
    samples = {name: {} for name in containers}
    for _ in range(rounds):
        for name, c in containers.items():
            out = json.loads(c.exec(f"python3 /tmp/timer.py {count} {' '.join(FILES)}", timeout=600))
            for what, ns in out.items():
                samples[name].setdefault(what, []).extend(ns)
    return samples


def summary(ns: list[int]) -> dict:
    ns = sorted(ns)
    return {"median_us": statistics.median(ns) / 1000, "p99_us": ns[int(len(ns) * 0.99) - 1] / 1000, "n": len(ns)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=5000, help="threads of the big container (default 5000)")
    ap.add_argument("--count", type=int, default=200, help="reads per file per round (default 200)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds, the containers taking turns (default 5)")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args()
    with integration_fixtures.daemon_and_containers("tasks") as mgr:
        containers = {"small": start(mgr, 0), "big": start(mgr, a.threads)}
        tasks = {name: tasks_of(c) for name, c in containers.items()}
        load = open("/proc/loadavg").read().split()[:3]
        t0 = time.monotonic()
        samples = measure(containers, a.count, a.rounds)
        took = time.monotonic() - t0
        figures = {name: {what: summary(ns) for what, ns in s.items()} for name, s in samples.items()}
    print(f"tasks per container: small {tasks['small']}, big {tasks['big']}; host load {' '.join(load)}; "
          f"{a.rounds} rounds x {a.count} per file, {took:.0f} s")
    print(f"| what | {tasks['small']} tasks: median / p99 µs | {tasks['big']} tasks: median / p99 µs | big/small (medians) |")
    print("|---|---:|---:|---:|")
    for what in [*FILES, "sysinfo(2)"]:
        s, b = figures["small"][what], figures["big"][what]
        print(f"| {what} | {s['median_us']:.0f} / {s['p99_us']:.0f} | {b['median_us']:.0f} / {b['p99_us']:.0f} | "
              f"{b['median_us'] / s['median_us']:.1f} |")
    if a.json:
        Path(a.json).write_text(json.dumps({"tasks": tasks, "load": load, "figures": figures}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
