#!/usr/bin/python3
"""pyprobe: what Python programs do with /proc and /sys, for the parity workloads
(tests/parity; bound read-only at /parity/pyprobe.py in every container).

  pyprobe.py walk [--depth N] [--skip NAME]... [--content] ROOT...
      every entry below each ROOT, one line each: path, type, mode, owner, and for a
      file the outcome of reading it (empty / N lines / ERRNO); --content prints the
      text of each file read as well. pid directories of /proc are skipped.
  pyprobe.py read-then-sendfile PATH     read(2) it, then sendfile(2) it to stdout
  pyprobe.py sendfile-then-read PATH     the reverse
  pyprobe.py read-then-splice PATH       read(2) it, then splice(2) it through a pipe
  pyprobe.py splice-then-read PATH       the reverse
  pyprobe.py threads-read N PATH...      N threads read each PATH at once
  pyprobe.py threads-sysinfo N           N threads call sysinfo(2) at once (ctypes)
  pyprobe.py threads-write N PATH TEXT   N threads write TEXT to PATH at once
  pyprobe.py mount-on-fd SOURCE DIR FSTYPE|- FLAG,...
      mount(2) onto DIR named as /proc/self/fd/N of an O_PATH descriptor of it, as runc
      mounts a procfs and systemd binds; prints rc=0 or the errno's name
"""
from __future__ import annotations

import ctypes
import errno
import os
import stat
import sys
import threading


def err_name(e: OSError) -> str:
    return errno.errorcode.get(e.errno, str(e.errno))


# ---- walk -------------------------------------------------------------------------

KINDS = [(stat.S_ISDIR, "dir"), (stat.S_ISREG, "file"), (stat.S_ISLNK, "link"),
         (stat.S_ISCHR, "chr"), (stat.S_ISBLK, "blk"), (stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "sock")]
# Files a read of which blocks or never ends.
NEVER_READ = {"/proc/kmsg", "/proc/self/pagemap", "/proc/thread-self/pagemap"}


def kind(mode: int) -> str:
    return next((name for test, name in KINDS if test(mode)), "?")


def read_outcome(path: str, content: bool) -> str:
    if path in NEVER_READ:
        return "not read"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        return f"open {err_name(e)}"
    try:
        data = b""
        while len(data) < 1 << 20:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        return f"read {err_name(e)}"
    finally:
        os.close(fd)
    if not data:
        return "empty"
    lines = data.count(b"\n")
    text = f"{lines} lines" if data.endswith(b"\n") else "data"
    if content:
        text += "\n" + data.decode(errors="replace").rstrip("\n")
    return text


def walk(roots: list[str], depth: int, skip: set[str], content: bool) -> None:
    def visit(path: str, level: int) -> None:
        try:
            st = os.lstat(path)
        except OSError as e:
            print(f"{path} lstat {err_name(e)}")
            return
        line = f"{path} {kind(st.st_mode)} {stat.S_IMODE(st.st_mode):04o} {st.st_uid}:{st.st_gid}"
        if stat.S_ISLNK(st.st_mode):
            try:
                print(f"{line} -> {os.readlink(path)}")
            except OSError as e:
                print(f"{line} readlink {err_name(e)}")
            return
        if stat.S_ISREG(st.st_mode):
            print(f"{line} {read_outcome(path, content)}")
            return
        print(line)
        if not stat.S_ISDIR(st.st_mode) or level >= depth:
            return
        try:
            names = sorted(os.listdir(path))
        except OSError as e:
            print(f"{path} listdir {err_name(e)}")
            return
        for name in names:
            if name in skip or (path == "/proc" and name.isdigit()):
                continue
            visit(os.path.join(path, name), level + 1)

    for root in roots:
        visit(root, 0)


# ---- sendfile and splice ------------------------------------------------------------

def by_read(path: str) -> bytes:
    with open(path, "rb", buffering=0) as f:
        return f.read()


def by_sendfile(path: str) -> bytes:
    r, w = os.pipe()
    fd = os.open(path, os.O_RDONLY)
    out = b""
    try:
        while True:
            n = os.sendfile(w, fd, None, 65536)
            if n == 0:
                break
            out += os.read(r, n)
    finally:
        os.close(fd)
        os.close(r)
        os.close(w)
    return out


def by_splice(path: str) -> bytes:
    r, w = os.pipe()
    fd = os.open(path, os.O_RDONLY)
    out = b""
    try:
        while True:
            n = os.splice(fd, w, 65536)
            if n == 0:
                break
            out += os.read(r, n)
    finally:
        os.close(fd)
        os.close(r)
        os.close(w)
    return out


def in_order(path: str, first, second) -> None:
    for how in (first, second):
        try:
            data = how(path)
            print(f"{how.__name__}: {len(data.splitlines())} lines")
            sys.stdout.write(data.decode(errors="replace"))
        except OSError as e:
            print(f"{how.__name__}: {err_name(e)}")


# ---- threads ----------------------------------------------------------------------

def in_threads(count: int, fn) -> None:
    """Run fn() in `count` threads at once; print each distinct outcome with its count."""
    results: list[str] = [""] * count
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn()
        except OSError as e:
            results[i] = err_name(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for outcome in sorted(set(results)):
        print(f"{results.count(outcome)} of {count} threads: {outcome}")


class Sysinfo(ctypes.Structure):
    _fields_ = [("uptime", ctypes.c_long), ("loads", ctypes.c_ulong * 3),
                ("totalram", ctypes.c_ulong), ("freeram", ctypes.c_ulong),
                ("sharedram", ctypes.c_ulong), ("bufferram", ctypes.c_ulong),
                ("totalswap", ctypes.c_ulong), ("freeswap", ctypes.c_ulong),
                ("procs", ctypes.c_ushort), ("pad", ctypes.c_ushort),
                ("totalhigh", ctypes.c_ulong), ("freehigh", ctypes.c_ulong),
                ("mem_unit", ctypes.c_uint), ("_f", ctypes.c_char * 8)]


def sysinfo_call() -> str:
    libc = ctypes.CDLL(None, use_errno=True)
    s = Sysinfo()
    if libc.sysinfo(ctypes.byref(s)) != 0:
        raise OSError(ctypes.get_errno(), "sysinfo")
    return "ok" if s.totalram > 0 and s.mem_unit == 1 else f"odd: totalram={s.totalram} mem_unit={s.mem_unit}"


def read_call(paths: list[str]):
    def fn() -> str:
        return " ".join(by_read(p).decode().strip() for p in paths)
    return fn


def write_call(path: str, text: str):
    def fn() -> str:
        with open(path, "w") as f:
            f.write(text)
        return "ok"
    return fn


MOUNT_FLAGS = {"nosuid": 2, "nodev": 4, "noexec": 8, "bind": 4096, "rec": 16384}


def mount_on_fd(source: str, directory: str, fstype: str, flags: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(directory, os.O_PATH)
    bits = sum(MOUNT_FLAGS[f] for f in flags.split(",") if f)
    rc = libc.mount(source.encode(), f"/proc/self/fd/{fd}".encode(), None if fstype == "-" else fstype.encode(),
                    ctypes.c_ulong(bits), None)
    print("rc=0" if rc == 0 else f"rc={errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno())}")
    os.close(fd)


# ---- main -------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd == "walk":
        depth, skip, content, roots = 99, set(), False, []
        it = iter(args)
        for a in it:
            if a == "--depth":
                depth = int(next(it))
            elif a == "--skip":
                skip.add(next(it))
            elif a == "--content":
                content = True
            else:
                roots.append(a)
        walk(roots, depth, skip, content)
    elif cmd == "read-then-sendfile":
        in_order(args[0], by_read, by_sendfile)
    elif cmd == "sendfile-then-read":
        in_order(args[0], by_sendfile, by_read)
    elif cmd == "read-then-splice":
        in_order(args[0], by_read, by_splice)
    elif cmd == "splice-then-read":
        in_order(args[0], by_splice, by_read)
    elif cmd == "threads-read":
        in_threads(int(args[0]), read_call(args[1:]))
    elif cmd == "threads-sysinfo":
        in_threads(int(args[0]), sysinfo_call)
    elif cmd == "threads-write":
        in_threads(int(args[0]), write_call(args[1], args[2]))
    elif cmd == "mount-on-fd":
        mount_on_fd(*args)
    else:
        print(f"pyprobe: unknown command {cmd}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
