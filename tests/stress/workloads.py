"""The named workloads of scripts/stress.sh. Each takes a harness.Run and the sizes
(argparse's namespace, already filled with the workload's defaults) and loads the
run's daemon through real runc containers; the Run counts and cleans up."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from harness import it

MiB = it.MiB
LIMIT = 128 * MiB
MEMTOTAL = "MemTotal: *131072 kB"  # a LIMIT container's /proc/meminfo
# Sizes per workload when not given: (containers, threads, duration s). Churn's
# containers is the number made in all, its --concurrency how many at a time.
DEFAULTS = {"churn": (500, 1, 0), "readers": (8, 4, 60), "sysctl-storm": (4, 4, 60),
            "trap-storm": (4, 4, 60), "oom": (4, 2, 60), "nested": (4, 2, 60),
            "restart": (8, 4, 60), "mixed": (6, 2, 120)}
QUICK = {"churn": (12, 1, 0), "readers": (2, 2, 8), "sysctl-storm": (2, 2, 8),
         "trap-storm": (2, 3, 8), "oom": (2, 1, 10), "nested": (2, 1, 8),
         "restart": (2, 2, 12), "mixed": (1, 1, 15)}
READ_VIEWS = "cat /proc/meminfo /proc/stat /proc/loadavg /proc/cpuinfo /proc/uptime " \
             "/proc/sys/kernel/hostname /proc/sys/kernel/panic /sys/devices/system/cpu/online >/dev/null"


def start_many(run, n: int, **kw) -> list:
    """n containers, two started at a time (runc's own work is the slow part)."""
    with ThreadPoolExecutor(2) as pool:
        cs = list(pool.map(lambda _: run.timed("container start", lambda: run.mgr.start(**kw)), range(n)))
    return [c for c in cs if c is not None]


def churn_one(run) -> None:
    # ecifs-runc refuses a create while no daemon runs (by design): churn waits out a
    # restart the workload makes on purpose.
    run.daemon_up.wait(60)
    restarts, t0 = run.restarts, time.monotonic()
    try:
        c = run.mgr.start(memory=64 * MiB)
    except Exception as e:  # noqa: BLE001
        # A create in flight when the daemon is killed is refused (its hook finds no
        # daemon): expected, not an error.
        overlapped = run.restarts != restarts or not run.daemon_up.is_set()
        run.stats.add("create", time.monotonic() - t0, "expected" if overlapped else "errors", str(e)[:300])
        return
    run.stats.add("create", time.monotonic() - t0)
    run.timed("exec + read every view", lambda: c.exec(READ_VIEWS, timeout=60))

    def delete():
        r = run.mgr.shim("delete", "-f", c.id, timeout=60)
        assert r.returncode == 0, r.stderr
    run.timed("delete", delete)


def churn(run, a, stop: threading.Event | None = None) -> None:
    """Create, read and delete a.containers containers, a.concurrency at a time (or,
    with stop, until it is set)."""
    with ThreadPoolExecutor(a.concurrency) as pool:
        if stop is None:
            list(pool.map(lambda _: churn_one(run), range(a.containers)))
            return

        def loop():
            while not stop.is_set():
                churn_one(run)
        for f in [pool.submit(loop) for _ in range(a.concurrency)]:
            f.result()


def readers(run, a) -> None:
    for c in start_many(run, a.containers, memory=LIMIT):
        run.worker(c, {"read": a.threads}, a.duration)
    run.wait_workers(a.duration + 60)


def sysctl_storm(run, a) -> None:
    cs = start_many(run, a.containers, memory=LIMIT, extra_caps=["CAP_SYS_ADMIN", "CAP_NET_ADMIN"])
    for c in cs:
        run.worker(c, {"sysctl": a.threads}, a.duration, unshare=True)
    run.wait_workers(a.duration + 60)


def trap_storm(run, a) -> None:
    for c in start_many(run, a.containers, memory=LIMIT, extra_caps=["CAP_SYS_ADMIN"]):
        run.worker(c, {"trap": a.threads}, a.duration)
    run.wait_workers(a.duration + 90)


def oom(run, a) -> None:
    """A memory hog in each of a.containers containers (64 MiB) killed at its limit
    again and again, while as many other containers read their views."""
    hogs = start_many(run, a.containers, memory=64 * MiB)
    quiet = start_many(run, a.containers, memory=LIMIT)
    for c in hogs:
        run.worker(c, {"hog": 1, "read": a.threads}, a.duration)
    for c in quiet:
        run.worker(c, {"read": a.threads}, a.duration)
    run.wait_workers(a.duration + 90)


def nested(run, a) -> None:
    for c in start_many(run, a.containers, memory=LIMIT, extra_caps=["CAP_SYS_ADMIN"]):
        run.worker(c, {"nested": a.threads}, a.duration, memtotal=MEMTOTAL, levels=a.levels)
    run.wait_workers(a.duration + 90)


def kill_and_restart(run) -> None:
    d = run.daemon
    run.daemon_up.clear()
    run.restarts += 1
    try:
        d.kill()
        d.proc.wait(10)
        time.sleep(0.3)  # the readers wait in the kernel meanwhile
        d.start(log_level="info")
    finally:
        run.daemon_up.set()


def restart(run, a) -> None:
    """readers, and one container of trapped calls, while the daemon is SIGKILLed and
    started again a.kills times."""
    for c in start_many(run, a.containers, memory=LIMIT):
        run.worker(c, {"read": a.threads}, a.duration)
    for c in start_many(run, 1, memory=LIMIT, extra_caps=["CAP_SYS_ADMIN"]):
        run.worker(c, {"trap": a.threads}, a.duration)
    gap = a.duration / (a.kills + 1)
    for _ in range(a.kills):
        time.sleep(gap)
        run.timed("daemon SIGKILL + restart", lambda: kill_and_restart(run))
    run.wait_workers(a.duration + 60)


def mixed(run, a) -> None:
    """Every kind at once: per a.containers, one container of readers, one of sysctl
    writers, one of trapped calls, one of nested namespaces and one with a memory hog,
    with churn beside them and one daemon restart half-way."""
    cs = []
    for _ in range(a.containers):
        kinds = [({"read": a.threads}, {}), ({"sysctl": a.threads}, {"unshare": True}),
                 ({"trap": a.threads}, {}), ({"nested": a.threads}, {"memtotal": MEMTOTAL, "levels": a.levels}),
                 ({"hog": 1, "read": 1}, {})]
        started = start_many(run, len(kinds), memory=LIMIT, extra_caps=["CAP_SYS_ADMIN", "CAP_NET_ADMIN"])
        cs += list(zip(started, kinds))
    for c, (threads, cfg) in cs:
        run.worker(c, threads, a.duration, **cfg)
    stop = threading.Event()
    churner = threading.Thread(target=churn, args=(run, _Sizes(concurrency=1), stop), daemon=True)
    churner.start()
    end = time.monotonic() + a.duration
    if a.duration >= 10:
        time.sleep(a.duration / 2)
        run.timed("daemon SIGKILL + restart", lambda: kill_and_restart(run))
    time.sleep(max(0.0, end - time.monotonic()))
    stop.set()
    churner.join(120)
    run.wait_workers(90)


class _Sizes:
    def __init__(self, **kw):
        self.__dict__.update(kw)


WORKLOADS = {"churn": churn, "readers": readers, "sysctl-storm": sysctl_storm, "trap-storm": trap_storm,
             "oom": oom, "nested": nested, "restart": restart, "mixed": mixed}
