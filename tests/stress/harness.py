"""The driver's machinery for scripts/stress.sh: a run's daemon and containers (the
integration tests' classes, imported from tests/integration/conftest.py), the daemon's
figures sampled over time, in-container workers, and the leftovers a workload leaves."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests" / "integration"))
sys.path.insert(0, str(HERE))
import conftest as it  # noqa: E402  (Daemon, Containers, wait_for, ...)
from worker import Stats, percentile  # noqa: E402

WORKER = HERE / "worker.py"
HELPER_MARKS = (b"__ns-executor", b"__mount-helper")
# The verdict's slack on "back within 5% of the start" (STRESS.md).
RSS_SLACK, RSS_ABS = 0.05, 2 * it.MiB
FDS_SLACK, FDS_ABS = 0.05, 4


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for e in os.scandir("/proc"):
        if not e.name.isdigit():
            continue
        try:
            with open(f"/proc/{e.name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(e.name))
    return kids


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def helper_pids(root: int) -> list[int]:
    """Descendants of root whose cmdline names an ecifs helper."""
    kids, found, todo = _children(), [], [root]
    while todo:
        for k in kids.get(todo.pop(), []):
            todo.append(k)
            if any(m in _cmdline(k) for m in HELPER_MARKS):
                found.append(k)
    return found


def proc_figures(pid: int) -> dict | None:
    """The daemon's RSS (bytes), fds, threads and helper processes."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {"rss": int(fields["VmRSS"].split()[0]) * 1024, "fds": fds,
            "threads": int(fields["Threads"]), "helpers": len(helper_pids(pid))}


class Worker:
    """One stress_worker.py process in a container (a detached exec)."""

    def __init__(self, c, tag: str, threads: dict, duration: float, **cfg):
        self.c, self.tag = c, tag
        self.tmp = c.bundle / "rootfs" / "tmp"
        shutil.copyfile(WORKER, self.tmp / "stress_worker.py")
        cfg.update(tag=tag, threads=threads, duration=duration)
        (self.tmp / f"stress-{tag}.cfg").write_text(json.dumps(cfg))
        r = c.mgr.shim("exec", "-d", c.id, "python3", "/tmp/stress_worker.py", f"/tmp/stress-{tag}.cfg",
                       capture_output=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError(f"starting the worker in {c.id}: rc={r.returncode}")

    def result(self) -> dict:
        try:
            return json.loads((self.tmp / f"stress-{self.tag}.json").read_text())
        except (OSError, ValueError):
            return {"ops": {}, "done": False}

    def stop(self) -> None:
        try:
            (self.tmp / f"stress-{self.tag}.stop").write_text("")
        except OSError:
            pass

    def alive(self) -> bool:
        """It wrote its figures in the last 15 s (it does every half second)."""
        try:
            return time.time() - (self.tmp / f"stress-{self.tag}.json").stat().st_mtime < 15
        except OSError:
            return True  # not started writing yet

    def wait(self, timeout: float) -> dict:
        it.wait_for(lambda: self.result()["done"] or not self.alive(), timeout, 0.2)
        return self.result()


ACTIVE: list["Run"] = []  # runs not finished yet: cleaned up by the driver on any exit


class Run:
    """One workload's daemon, containers, figures and leftovers."""

    def __init__(self, work: Path, name: str, log=print):
        self.name, self.log = name, log
        self.daemon = it.Daemon(work)
        ACTIVE.append(self)
        self.daemon.start(log_level="info")
        self.mgr = it.Containers(work, self.daemon.socket, self.daemon)
        self.stats = Stats()          # what the driver measures itself (churn, restart)
        self.workers: list[Worker] = []
        self.samples: list[dict] = []  # over time: daemon figures, cumulative ops, latency
        self.started = time.monotonic()
        self.figures: dict = {}
        self._stop = threading.Event()
        self._prev_hist: dict = {}
        self._sampler: threading.Thread | None = None
        self.notes: list[str] = []
        self.daemon_up = threading.Event()  # cleared while a workload restarts the daemon
        self.daemon_up.set()
        self.restarts = 0

    # -- figures over time
    def warm_up(self) -> None:
        """One container created, read and deleted: the daemon's one-time setup is not
        counted as growth ("before" is taken after it)."""
        c = self.mgr.start(memory=64 * it.MiB)
        c.exec("cat /proc/meminfo /proc/stat /proc/uptime /proc/sys/kernel/panic >/dev/null")
        self.mgr.shim("delete", "-f", c.id, timeout=30)
        it.wait_for(lambda: not it.fuse_mounts_under(self.daemon.containers_dir), 10)
        time.sleep(0.5)
        self.figures["before"] = proc_figures(self.daemon.pid)
        self.state_before = self.state_entries()
        self.started = time.monotonic()

    def merged(self) -> Stats:
        s = Stats()
        s.merge(self.stats.snapshot())
        for w in self.workers:
            s.merge(w.result()["ops"])
        return s

    def sample(self) -> dict:
        fig = proc_figures(self.daemon.pid) if self.daemon.running() else None
        ops = self.merged().ops
        window = {}
        for name, o in ops.items():
            prev = self._prev_hist.get(name, {})
            window[name] = {b: n - prev.get(b, 0) for b, n in o["hist"].items() if n - prev.get(b, 0) > 0}
        self._prev_hist = {n: dict(o["hist"]) for n, o in ops.items()}
        all_window: dict = {}
        for h in window.values():
            for b, n in h.items():
                all_window[b] = all_window.get(b, 0) + n
        s = {"t": round(time.monotonic() - self.started, 2), "daemon": fig,
             "ops": sum(o["ok"] + o["expected"] for o in ops.values()),
             "errors": sum(o["errors"] for o in ops.values()),
             "p50": percentile(all_window, 0.5), "p99": percentile(all_window, 0.99)}
        self.samples.append(s)
        return s

    def start_sampling(self, every: float = 1.0, on_sample=None) -> None:
        def loop():
            while not self._stop.wait(every):
                try:
                    s = self.sample()
                    if on_sample:
                        on_sample(self, s)
                except Exception as e:  # noqa: BLE001 - sampling must not end the run
                    self.notes.append(f"sampling: {e}")
        self._sampler = threading.Thread(target=loop, daemon=True)
        self._sampler.start()

    def peak(self) -> dict:
        figs = [s["daemon"] for s in self.samples if s["daemon"]]
        if not figs:
            return {}
        return {k: max(f[k] for f in figs) for k in figs[0]}

    # -- containers and workers
    def worker(self, c, threads: dict, duration: float, **cfg) -> Worker:
        w = Worker(c, f"{self.name}-{len(self.workers)}", threads, duration, **cfg)
        self.workers.append(w)
        return w

    def wait_workers(self, timeout: float) -> None:
        for w in self.workers:
            t0 = time.monotonic()
            r = w.wait(timeout)
            if not r["done"]:
                why = "did not finish" if w.alive() else "died (no figures for 15 s)"
            elif r.get("stuck"):
                why = f"operations still running after 75 s: {', '.join(r['stuck'])}"
            else:
                continue
            self.stats.add("worker finished", time.monotonic() - t0, "errors", f"{w.c.id}: worker {why}")

    def timed(self, name: str, fn):
        """Run fn(), count it under name; returns its value or None when it raised."""
        t0 = time.monotonic()
        try:
            v = fn()
        except Exception as e:  # noqa: BLE001
            self.stats.add(name, time.monotonic() - t0, "errors", f"{type(e).__name__}: {str(e)[:300]}")
            return None
        self.stats.add(name, time.monotonic() - t0)
        return v

    # -- the end
    def state_entries(self) -> set[str]:
        # containers/: the names only (each is a live FUSE mount: never walked into);
        # records/: every file.
        out = set()
        containers = self.daemon.state_dir / "containers"
        if containers.is_dir():
            out.update(f"containers/{name}" for name in os.listdir(containers))
        records = self.daemon.state_dir / "records"
        for root, _dirs, files in os.walk(records):
            out.update(str((Path(root) / f).relative_to(self.daemon.state_dir)) for f in files)
        return out

    def finish(self) -> dict:
        """Delete the containers the normal way, count what is left, then stop the
        daemon (stop-all) and count what that leaves. Always cleans up."""
        self._stop.set()
        if self._sampler:
            self._sampler.join(5)
        try:
            self.sample()  # the last figures (a short workload may have had no sample)
        except Exception as e:  # noqa: BLE001
            self.notes.append(f"sampling: {e}")
        for w in self.workers:
            w.stop()
        leftovers: list[str] = []
        try:
            leftovers += self.mgr.cleanup()
            it.wait_for(lambda: not it.fuse_mounts_under(self.daemon.dir), 10)
            leftovers += [f"FUSE mount: {m}" for m in it.fuse_mounts_under(self.daemon.dir)]
            leftovers += [f"runc container: {c}" for c in self.mgr.runc_ids()]
            if self.daemon.running():
                pid = self.daemon.pid
                it.wait_for(lambda: (proc_figures(pid) or {}).get("helpers", 0) <= self.figures["before"]["helpers"], 10)
                time.sleep(0.5)
                self.figures["after"] = proc_figures(pid)
                if self.figures["after"]["helpers"] > self.figures["before"]["helpers"]:
                    leftovers.append(f"helper processes: {helper_pids(pid)}")
            new_state = self.state_entries() - getattr(self, "state_before", set())
            leftovers += [f"state-dir entry: {e}" for e in sorted(new_state)]
        finally:
            holder = self.daemon.holder_pid() if self.daemon.running() else None
            self.daemon.cleanup()
            if holder and it.wait_for(lambda: not it.pid_alive(holder), 5) is False:
                leftovers.append(f"fd holder {holder} still running after stop-all")
            leftovers += [f"FUSE mount after stop-all: {m}" for m in it.unmount_all_under(self.daemon.dir)]
            for p in it.cgroup_dirs(it.NAME_PREFIX):
                leftovers.append(f"cgroup: {p}")
                it.remove_cgroup_tree(p)
            leftovers += [f"process: {pid} {_cmdline(pid)[:80]!r}" for pid in stray_processes()]
            if self in ACTIVE:
                ACTIVE.remove(self)
        self.figures["peak"] = self.peak()
        self.leftovers = leftovers
        return self.report()

    def abandon(self) -> None:
        """Cleanup only, no figures: containers deleted, daemon stopped."""
        self._stop.set()
        try:
            self.mgr.cleanup()
        finally:
            self.daemon.cleanup()
            if self in ACTIVE:
                ACTIVE.remove(self)

    def report(self) -> dict:
        s = self.merged()
        elapsed = max(time.monotonic() - self.started, 1e-3)
        ops = {}
        for name, o in sorted(s.ops.items()):
            ops[name] = {"ok": o["ok"], "expected": o["expected"], "errors": o["errors"],
                         "p50_ms": percentile(o["hist"], 0.5) * 1e3, "p99_ms": percentile(o["hist"], 0.99) * 1e3,
                         "max_ms": o["max"] * 1e3, "messages": o["msgs"]}
        total = sum(o["ok"] + o["expected"] for o in ops.values())
        errors = sum(o["errors"] for o in ops.values())
        before, after = self.figures.get("before") or {}, self.figures.get("after") or {}
        problems = []
        if errors:
            problems.append(f"{errors} errors")
        if self.leftovers:
            problems.append(f"{len(self.leftovers)} leftovers ({'; '.join(self.leftovers)[:300]})")
        if not before or not after:
            problems.append("no daemon figures before/after")
        else:
            if after["rss"] > before["rss"] * (1 + RSS_SLACK) + RSS_ABS:
                problems.append(f"RSS {before['rss'] // 1024} -> {after['rss'] // 1024} KiB")
            if after["fds"] > before["fds"] * (1 + FDS_SLACK) + FDS_ABS:
                problems.append(f"fds {before['fds']} -> {after['fds']}")
        return {"workload": self.name, "seconds": round(elapsed, 1), "ops": total, "errors": errors,
                "ops_per_s": total / elapsed, "errors_per_s": errors / elapsed, "per_op": ops,
                "daemon": self.figures, "leftovers": self.leftovers, "notes": self.notes,
                "samples": self.samples, "verdict": "PASS" if not problems else "FAIL",
                "problems": problems}


def stray_processes() -> list[int]:
    """Processes whose command line names this run (its container ids, its work dir)."""
    me = os.getpid()
    out = []
    for e in os.scandir("/proc"):
        if e.name.isdigit() and int(e.name) != me and it.NAME_PREFIX.encode() in _cmdline(int(e.name)):
            out.append(int(e.name))
    return out
