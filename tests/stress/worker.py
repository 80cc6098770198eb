#!/usr/bin/python3
"""The in-container side of scripts/stress.sh: one process per container (started with
`ecifs-runc exec -d ... python3 /tmp/stress_worker.py /tmp/stress-TAG.cfg`) running the
threads a workload asks for until its deadline or until /tmp/stress-TAG.stop exists.

It writes its figures to /tmp/stress-TAG.json (atomically, every half second and once
more at the end with "done": true), where the driver reads them from the host through
the bundle's rootfs. The driver imports this file too, for Stats (the same histogram
on both sides).

Every operation has a name (a view's path, or "sysctl-write kernel.panic", "sysinfo",
...) and a result: ok, error (counted, the first messages kept) or expected (a failure
the kernel is meant to give: EINVAL for an invalid sysctl value, EBUSY for an umount of
a view, SIGKILL of a memory hog at its limit).
"""
from __future__ import annotations

import ctypes
import errno
import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time

VIEWS = ["/proc/meminfo", "/proc/stat", "/proc/loadavg", "/proc/cpuinfo", "/proc/uptime",
         "/proc/sys/kernel/hostname", "/proc/sys/kernel/panic", "/sys/devices/system/cpu/online"]
BUCKET = math.log(1.05)  # latency histogram: buckets 5% wide


class Stats:
    """Counts and a latency histogram per operation name; merged by adding."""

    def __init__(self) -> None:
        self.ops: dict[str, dict] = {}
        self.lock = threading.Lock()

    def _op(self, name: str) -> dict:
        op = self.ops.get(name)
        if op is None:
            op = self.ops[name] = {"ok": 0, "errors": 0, "expected": 0, "max": 0.0, "hist": {}, "msgs": []}
        return op

    def add(self, name: str, seconds: float, result: str = "ok", msg: str = "") -> None:
        key = str(int(math.log(max(seconds, 1e-6) * 1e6) / BUCKET))
        with self.lock:
            op = self._op(name)
            op[result] += 1
            op["max"] = max(op["max"], seconds)
            op["hist"][key] = op["hist"].get(key, 0) + 1
            if result == "errors" and len(op["msgs"]) < 5:
                op["msgs"].append(msg[:300])

    def snapshot(self) -> dict:
        with self.lock:
            return json.loads(json.dumps(self.ops))

    def merge(self, ops: dict) -> None:
        with self.lock:
            for name, o in ops.items():
                op = self._op(name)
                for k in ("ok", "errors", "expected"):
                    op[k] += o[k]
                op["max"] = max(op["max"], o["max"])
                for b, n in o["hist"].items():
                    op["hist"][b] = op["hist"].get(b, 0) + n
                op["msgs"] = (op["msgs"] + o["msgs"])[:5]


def percentile(hist: dict, q: float) -> float:
    """The q-quantile (0..1) of a histogram, in seconds (the bucket's lower bound)."""
    total = sum(hist.values())
    if not total:
        return 0.0
    seen = 0
    for b in sorted(hist, key=int):
        seen += hist[b]
        if seen >= q * total:
            return math.exp(int(b) * BUCKET) / 1e6
    return 0.0


# ---------------------------------------------------------------------------------
# operations (each returns (result, message))

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def op_read(path: str):
    with open(path, "rb") as f:
        data = f.read()
    return ("ok", "") if data else ("errors", "empty read")


def sysctl_path(name: str) -> str:
    return "/proc/sys/" + name.replace(".", "/")


def op_sysctl_write(name: str, value: str, valid: bool):
    try:
        fd = os.open(sysctl_path(name), os.O_WRONLY)
    except PermissionError:
        # The kernel's rule for a UTS sysctl: only the host's root may write it (mode
        # bits against the global uid); a user-namespaced container's root gets EACCES.
        return ("expected", "") if name == "kernel.hostname" else ("errors", f"open {name}: EACCES")
    try:
        os.write(fd, value.encode() + b"\n")
    except OSError as e:
        if not valid and e.errno == errno.EINVAL:
            return "expected", ""
        return "errors", f"write {value!r}: {e}"
    finally:
        os.close(fd)
    return ("ok", "") if valid else ("errors", f"invalid {value!r} accepted")


def op_sethostname(name: str):
    """sethostname(2) (what may change kernel.hostname here), then the view shows it."""
    import socket
    socket.sethostname(name)
    with open("/proc/sys/kernel/hostname") as f:
        v = f.read().strip()
    return ("ok", "") if v == name else ("errors", f"hostname view {v!r}, set {name!r}")


def op_sysctl_read(name: str):
    with open(sysctl_path(name)) as f:
        v = f.read().strip()
    if name == "kernel.hostname":
        return ("ok", "") if v else ("errors", "empty hostname")
    return ("ok", "") if v.lstrip("-").isdigit() else ("errors", f"not a number: {v!r}")


def op_sh(script: str, want: str | None = None, timeout: float = 30):
    r = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        return "errors", f"rc={r.returncode} {r.stdout[-200:]} {r.stderr[-200:]}"
    if want is not None and want not in r.stdout:
        return "errors", f"{want!r} not in {r.stdout[-300:]!r}"
    return "ok", ""


def op_sysinfo():
    buf = ctypes.create_string_buffer(128)
    if libc.sysinfo(buf) != 0:
        return "errors", os.strerror(ctypes.get_errno())
    totalram = int.from_bytes(buf.raw[32:40], "little") * int.from_bytes(buf.raw[104:108], "little")
    return ("ok", "") if totalram > 0 else ("errors", "sysinfo: no totalram")


def op_mount_proc(target: str):
    os.makedirs(target, exist_ok=True)
    if libc.mount(b"proc", target.encode(), b"proc", 0, None) != 0:
        return "errors", f"mount: {os.strerror(ctypes.get_errno())}"
    try:
        with open(target + "/meminfo") as f:
            if not f.read().startswith("MemTotal:"):
                return "errors", "mounted proc: no MemTotal"
    finally:
        if libc.umount2(target.encode(), 2) != 0:  # MNT_DETACH: the views on it too
            return "errors", f"umount: {os.strerror(ctypes.get_errno())}"
    return "ok", ""


def op_umount_view(path: str):
    if libc.umount2(path.encode(), 0) == 0:
        return "errors", f"umount {path} succeeded"
    e = ctypes.get_errno()
    return ("expected", "") if e == errno.EBUSY else ("errors", f"umount {path}: {os.strerror(e)}")


# oom_score_adj 1000 (raising it needs no privilege): the OOM killer takes the hog, not
# the worker beside it (seen: a worker of 6 MiB killed while a new hog was still small).
HOG = "open('/proc/self/oom_score_adj', 'w').write('1000')\nb = []\nwhile True:\n    b.append(b'x' * (1 << 20))\n"


# The shell raises the hog's oom_score_adj before it execs python, so the hog is the OOM
# killer's choice over the worker from its first page on (a CI run lost a worker in a
# hog's container; whether to the OOM killer is not known: this closes the one window
# where it could be). Not preexec_fn: unsafe in a process with threads.
HOG_START = 'echo 1000 > /proc/self/oom_score_adj && exec "$0" -c "$1"'


def op_hog():
    """A memory hog that must be killed by the cgroup's OOM killer (SIGKILL)."""
    p = subprocess.Popen(["sh", "-c", HOG_START, sys.executable, HOG], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        rc = p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return "errors", "hog not killed within 60 s"
    return ("expected", "") if rc == -signal.SIGKILL else ("errors", f"hog exited with {rc}")


KILLED_MID_CALL = r"""
import ctypes, threading
libc = ctypes.CDLL(None)
def spin():
    buf = ctypes.create_string_buffer(128)
    while True:
        libc.sysinfo(buf)
for _ in range(4):
    threading.Thread(target=spin, daemon=True).start()
print("go", flush=True)
threading.Event().wait()
"""


def op_killed_mid_call():
    """Threads in trapped sysinfo calls, the process SIGKILLed at a random moment."""
    p = subprocess.Popen([sys.executable, "-c", KILLED_MID_CALL], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    line = p.stdout.readline()
    time.sleep(random.uniform(0.0, 0.05))
    p.kill()
    p.wait()
    p.stdout.close()
    return ("ok", "") if line == b"go\n" else ("errors", f"child said {line!r}")


def nested_pid(levels: int, want: str) -> str:
    inner = f"grep -q '{want}' /proc/meminfo && cat /proc/uptime /proc/stat /proc/loadavg >/dev/null"
    for _ in range(levels):
        inner = f"unshare -pf --mount-proc sh -c {sh_quote(inner)}"
    return inner


def nested_user(levels: int, want: str) -> str:
    inner = f"grep -q '{want}' /proc/meminfo && cat /proc/sys/kernel/panic /proc/cpuinfo >/dev/null"
    for _ in range(levels):
        inner = f"unshare -Ur sh -c {sh_quote(inner)}"
    return inner


def sh_quote(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def make_ops(kind: str, cfg: dict, index: int):
    """A list of (name, callable) the thread cycles through."""
    if kind == "read":
        return [(v, lambda v=v: op_read(v)) for v in cfg.get("views", VIEWS)]
    if kind == "sysctl":
        ops = []
        for name, good, bad in (("kernel.panic", ["0", "5", "17"], ["abc", "1x"]),
                                ("vm.swappiness", ["10", "60", "100"], ["-1", "201", "x"]),
                                ("net.core.somaxconn", ["128", "4096"], ["abc"]),
                                ("kernel.hostname", [f"stress-{index}"], [])):
            for v in good:
                ops.append((f"sysctl-write {name}", lambda n=name, v=v: op_sysctl_write(n, v, True)))
            for v in bad:
                ops.append((f"sysctl-write {name} (invalid)", lambda n=name, v=v: op_sysctl_write(n, v, False)))
            ops.append((f"sysctl-read {name}", lambda n=name: op_sysctl_read(n)))
        ops.append(("sethostname + kernel.hostname", lambda: op_sethostname(f"stress-{cfg['tag']}")))
        if cfg.get("unshare"):
            ops.append(("unshare -n somaxconn", lambda: op_sh(
                "unshare -n sh -c 'echo 333 > /proc/sys/net/core/somaxconn && cat /proc/sys/net/core/somaxconn'",
                "333")))
            ops.append(("unshare -u hostname", lambda: op_sh(
                "unshare -u sh -c 'busybox hostname inner$$ && echo inner$$ && cat /proc/sys/kernel/hostname' "
                "| uniq | wc -l | grep -qx 1 && echo same",
                "same")))
        return ops
    if kind == "trap":
        target = f"/mnt/x{index}"
        return [("sysinfo", op_sysinfo),
                ("busybox free", lambda: op_sh("busybox free", "Mem:")),
                ("mount proc + umount", lambda: op_mount_proc(target)),
                ("umount /proc/meminfo (EBUSY)", lambda: op_umount_view("/proc/meminfo")),
                ("sysinfo threads killed mid-call", op_killed_mid_call)]
    if kind == "hog":
        return [("memory hog (OOM-killed)", op_hog)]
    if kind == "nested":
        want = cfg["memtotal"]
        levels = cfg.get("levels", 3)
        return [(f"unshare -pf --mount-proc x{levels}", lambda: op_sh(nested_pid(levels, want))),
                (f"unshare -Ur x{levels}", lambda: op_sh(nested_user(levels, want)))]
    raise ValueError(kind)


def run_thread(kind: str, cfg: dict, index: int, stats: Stats, stop: threading.Event,
               busy: dict) -> None:
    """Runs the kind's operations in turn until stop; busy[index] names the one running."""
    ops = make_ops(kind, cfg, index)
    i = index
    pause = cfg.get("pause", 0.0)
    while not stop.is_set():
        name, fn = ops[i % len(ops)]
        i += 1
        t0 = time.monotonic()
        busy[index] = (name, t0)
        try:
            result, msg = fn()
        except Exception as e:  # noqa: BLE001 - every failure is a figure
            result, msg = "errors", f"{type(e).__name__}: {e}"
        stats.add(name, time.monotonic() - t0, result, msg)
        busy.pop(index, None)
        if pause:
            stop.wait(pause)


def main() -> None:
    cfg = json.load(open(sys.argv[1]))
    tag = cfg["tag"]
    out, stop_file = f"/tmp/stress-{tag}.json", f"/tmp/stress-{tag}.stop"
    deadline = time.monotonic() + cfg["duration"]
    stats, stop, busy = Stats(), threading.Event(), {}
    threads = []
    n = 0
    for kind, count in cfg["threads"].items():
        for _ in range(count):
            t = threading.Thread(target=run_thread, args=(kind, cfg, n, stats, stop, busy), daemon=True)
            t.start()
            threads.append(t)
            n += 1

    def write(done: bool) -> None:
        # stuck: the operations still running at the end, with their seconds so far
        now = time.monotonic()
        stuck = [f"{name} ({now - t0:.0f} s)" for name, t0 in list(busy.values())] if done else []
        with open(out + ".new", "w") as f:
            json.dump({"ops": stats.snapshot(), "done": done, "stuck": stuck}, f)
        os.rename(out + ".new", out)

    while time.monotonic() < deadline and not os.path.exists(stop_file):
        write(False)
        time.sleep(0.5)
    stop.set()
    # The figures go on being written while the last operations end, so a slow one
    # is told from a dead worker.
    finish_by = time.monotonic() + 75
    while any(t.is_alive() for t in threads) and time.monotonic() < finish_by:
        write(False)
        time.sleep(0.5)
    write(True)


if __name__ == "__main__":
    main()
