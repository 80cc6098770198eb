#!/usr/bin/env python3
"""What a container's own cgroups cost its neighbours (issue 15): a container owns its
cgroup's subtree (shim/cgroup_delegation.hpp) and may make any number of cgroups, and
the load sampler walks the container's cgroup tree for its tasks every 5 s, on a FUSE
thread all containers share. Run by scripts/bench-cgroup-walk.sh.

Two runc containers through ecifs-runc, one daemon: a neighbour reads /proc/loadavg
every 50 ms for SECONDS while the other container makes no cgroups, then again after
the other has made CGROUPS empty ones in its v1 pids hierarchy (or its cgroup2 tree) and
reads its own /proc/loadavg every 50 ms meanwhile (each read past 5 s takes a sample).
Prints the neighbour's and the maker's read latencies, median and max, in ms."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
import integration_fixtures  # noqa: E402

it = integration_fixtures.load()

# Runs in a container: reads of /proc/loadavg every 50 ms for SECONDS, latencies as JSON.
READER = r"""
import json, sys, time
samples, end = [], time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    t = time.perf_counter()
    with open("/proc/loadavg") as f:
        f.read()
    samples.append(time.perf_counter() - t)
    time.sleep(0.05)
print(json.dumps(samples))
"""
# Runs in a container: CGROUPS empty cgroups below its own.
MAKER = r"""
import os, sys
top = "/sys/fs/cgroup/pids" if os.path.isdir("/sys/fs/cgroup/pids") else "/sys/fs/cgroup"
for i in range(int(sys.argv[1])):
    os.mkdir(f"{top}/ecifs-walk-{i}")
"""


def with_cgroup_mount(cfg: dict) -> None:
    cfg["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                          "options": ["ro", "nosuid", "noexec", "nodev"]})


def start(mgr):
    c = mgr.start(memory=1024 * it.MiB, edit_config=with_cgroup_mount)
    for name, text in (("reader.py", READER), ("maker.py", MAKER)):
        (c.bundle / "rootfs" / "tmp" / name).write_text(text)
    return c


def latencies(c, seconds: float) -> dict:
    s = sorted(json.loads(c.exec(f"python3 /tmp/reader.py {seconds}", timeout=seconds + 60)))
    return {"median_ms": s[len(s) // 2] * 1e3, "max_ms": s[-1] * 1e3, "reads": len(s)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cgroups", type=int, default=20000, help="cgroups the maker makes (default 20000)")
    ap.add_argument("--seconds", type=float, default=12, help="seconds of reads (default 12: two samples)")
    a = ap.parse_args()
    # On exit runc removes the maker's cgroup with every cgroup below it.
    with integration_fixtures.daemon_and_containers("walk") as mgr:
        neighbour, maker = start(mgr), start(mgr)
        before = {"neighbour": latencies(neighbour, a.seconds), "maker": latencies(maker, a.seconds)}
        maker.exec(f"python3 /tmp/maker.py {a.cgroups}", timeout=600)
        after = {"maker": latencies(maker, a.seconds), "neighbour": latencies(neighbour, a.seconds)}
    print(f"/proc/loadavg reads every 50 ms for {a.seconds:.0f} s; host load {open('/proc/loadavg').read().split()[0]}")
    print(f"| reader | maker has 0 cgroups: median / max ms | maker has {a.cgroups}: median / max ms |")
    print("|---|---:|---:|")
    for who in ("maker", "neighbour"):
        b, f = before[who], after[who]
        print(f"| {who} | {b['median_ms']:.2f} / {b['max_ms']:.1f} | {f['median_ms']:.2f} / {f['max_ms']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
