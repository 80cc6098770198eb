#!/usr/bin/env python3
"""How long a restarted ecifs takes to serve its containers again (issue 12,
docs/restart.md). Run by scripts/bench-restart.sh; prints one table row per size.

For each size N: a daemon on a fresh state directory, N containers prepared through the
control socket (this process is their creator, so they live while it runs), a reader
that keeps reading one view, then kill -9 and a new daemon on the same directory.
Measured from the kill: when the control socket answers again with N containers, and
when every one of the N mounts has answered a read; and the longest single read the
reader saw across the restart (its stall)."""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path


def request(sock: Path, obj: dict, timeout: float = 30.0) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock))
        s.sendall(json.dumps(obj).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    reply = json.loads(data)
    if not reply.get("ok", False):
        raise RuntimeError(f"{obj['op']}: {reply}")
    return reply


class Daemon:
    def __init__(self, bin_dir: Path, base: Path):
        self.bin, self.state, self.sock = bin_dir / "ecifs", base / "state", base / "ecifs.sock"
        self.log = open(base / "ecifs.log", "ab")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([str(self.bin), "--foreground", "--state-dir", str(self.state),
                                      "--socket", str(self.sock), "--log-level", "warn"],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                     start_new_session=True)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop_all(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                request(self.sock, {"op": "stop-all"})
            except (OSError, RuntimeError, ValueError):
                os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(60)


def wait_until(check, timeout: float, what: str) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return time.monotonic()
        except (OSError, RuntimeError, ValueError):
            pass
        time.sleep(0.002)
    raise RuntimeError(f"timed out waiting for {what}")


class Reader(threading.Thread):
    """Reads one view again and again; keeps the longest read and counts failures."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path, self.stop, self.longest, self.reads, self.fails = path, False, 0.0, 0, 0

    def run(self) -> None:
        while not self.stop:
            started = time.monotonic()
            try:
                if not self.path.read_bytes():
                    self.fails += 1
            except OSError:
                self.fails += 1
            self.longest = max(self.longest, time.monotonic() - started)
            self.reads += 1


def measure(bin_dir: Path, base: Path, count: int) -> dict:
    base.mkdir(mode=0o755)
    daemon = Daemon(bin_dir, base)
    daemon.start()
    try:
        wait_until(lambda: request(daemon.sock, {"op": "list"}), 10, "the daemon")
        ids = [f"bench-{i}" for i in range(count)]
        for cid in ids:
            request(daemon.sock, {"op": "prepare", "id": cid, "creator_pid": os.getpid()})
        # A prepared container has no init: its emulated sysctls are what it can read.
        views = [daemon.state / "containers" / cid / "proc" / "sys" / "kernel" / "panic" for cid in ids]
        reader = Reader(views[0])
        reader.start()
        time.sleep(0.5)
        reader.longest = 0.0
        killed = time.monotonic()
        daemon.kill()
        daemon.start()
        listed = wait_until(lambda: len(request(daemon.sock, {"op": "list"})["containers"]) == count, 120,
                            "the list")
        for view in views:
            view.read_bytes()
        all_read = time.monotonic()
        time.sleep(0.5)
        reader.stop = True
        reader.join()
        return {"containers": count, "to_socket_ms": (listed - killed) * 1000,
                "to_all_views_ms": (all_read - killed) * 1000, "longest_read_ms": reader.longest * 1000,
                "reader_reads": reader.reads, "reader_failures": reader.fails}
    finally:
        daemon.stop_all()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin-dir", type=Path, required=True)
    p.add_argument("--work", type=Path, required=True, help="an empty directory for the runs")
    p.add_argument("--containers", type=int, nargs="+", default=[100, 1000])
    p.add_argument("--json", type=Path, help="write the rows here")
    args = p.parse_args()
    rows = [measure(args.bin_dir, args.work / f"n{n}", n) for n in args.containers]
    print("| containers | kill -9 to socket answering | to every view answering | longest read across it | "
          "failed reads |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['containers']} | {r['to_socket_ms']:.0f} ms | {r['to_all_views_ms']:.0f} ms | "
              f"{r['longest_read_ms']:.0f} ms | {r['reader_failures']} of {r['reader_reads']} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if all(r["reader_failures"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
