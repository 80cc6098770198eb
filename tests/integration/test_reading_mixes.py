"""Mixed readers of one view in a real runc container (issue 9, item 1): read(2) and
sendfile/splice, one after the other in every order, at the same time, and with stat
between an open and its sendfile, each get the whole file; stat shows 0 bytes, as procfs.

Since Linux 6.5 splice and sendfile (busybox cat, Python's shutil) read a FUSE file
through the page cache and stop at the inode's size, while stat shows 0
(fs/operations.hpp, KernelSizes); once a plain `cat` made busybox's `cat` of the same
file read nothing."""
from __future__ import annotations

import json
import re

import pytest

# Views of every kind: emulated sysctl, namespaced sysctl, generated procfs files,
# a renumbered sysfs file and a mirrored one.
FILES = [
    "/proc/sys/kernel/panic",
    "/proc/sys/net/core/somaxconn",
    "/proc/uptime",
    "/proc/stat",
    "/proc/meminfo",
    "/proc/loadavg",
    "/sys/devices/system/cpu/online",
    "/sys/kernel/mm/transparent_hugepage/enabled",
]
# Content that does not change between renderings: compared byte for byte.
FIXED = {"/proc/sys/kernel/panic", "/proc/sys/net/core/somaxconn", "/sys/devices/system/cpu/online",
         "/sys/kernel/mm/transparent_hugepage/enabled"}


def shape_ok(path: str, data: str) -> bool:
    """A whole rendering of `path`: non-empty, no NUL, ends with a newline, its format."""
    if not data or "\0" in data or not data.endswith("\n"):
        return False
    patterns = {
        "/proc/uptime": r"\d+\.\d\d \d+\.\d\d\n",
        "/proc/loadavg": r"\d+\.\d\d \d+\.\d\d \d+\.\d\d \d+/\d+ \d+\n",
        "/sys/devices/system/cpu/online": r"\d+(-\d+)?(,\d+(-\d+)?)*\n",
        "/proc/sys/kernel/panic": r"-?\d+\n",
        "/proc/sys/net/core/somaxconn": r"\d+\n",
    }
    if path in patterns:
        return re.fullmatch(patterns[path], data) is not None
    if path == "/proc/meminfo":
        return data.startswith("MemTotal:") and "SwapTotal:" in data and data.count("\n") > 20
    if path == "/proc/stat":
        return data.startswith("cpu ") and "\nbtime " in data and "\nprocs_blocked " in data
    return True


# One Python run in the container reads every file in each way; it prints JSON.
MIXES = r'''
import json, os, shutil, subprocess, sys
files = json.loads(sys.argv[1])

def read_plain(p):
    with open(p, "rb", buffering=0) as f:
        return f.read().decode()

def sendfile(p, fstat_first=False):
    r, w = os.pipe()
    fd = os.open(p, os.O_RDONLY)
    try:
        if fstat_first:
            os.fstat(fd)
        out = b""
        while n := os.sendfile(w, fd, None, 65536):
            out += os.read(r, n)
        return out.decode()
    finally:
        os.close(fd); os.close(r); os.close(w)

def splice(p):
    r, w = os.pipe()
    fd = os.open(p, os.O_RDONLY)
    try:
        out = b""
        while n := os.splice(fd, w, 65536):
            out += os.read(r, n)
        return out.decode()
    finally:
        os.close(fd); os.close(r); os.close(w)

def copyfile(p):  # fstat, then sendfile
    shutil.copyfile(p, "/tmp/copy")
    with open("/tmp/copy") as f:
        return f.read()

def run(*argv):
    return subprocess.run(argv, capture_output=True, check=True).stdout.decode()

ways = {
    "read": read_plain,
    "coreutils cat": lambda p: run("/usr/bin/cat", p),
    "busybox cat": lambda p: run("busybox", "cat", p),
    "sendfile": sendfile,
    "fstat+sendfile": lambda p: sendfile(p, True),
    "splice": splice,
    "shutil.copyfile": copyfile,
    "dd": lambda p: run("dd", "if=" + p, "bs=64k", "status=none"),
    "busybox dd": lambda p: run("busybox", "dd", "if=" + p, "bs=64k"),
    "head -c": lambda p: run("head", "-c", "1000000", p),
    "cp": lambda p: (run("cp", p, "/tmp/cp"), open("/tmp/cp").read())[1],
    "busybox head -c": lambda p: run("busybox", "head", "-c", "1000000", p),
}
order = json.loads(sys.argv[2])
result = {}
for p in files:
    got = []
    for name in order:
        got.append([name, ways[name](p), os.stat(p).st_size])
    result[p] = got
print(json.dumps(result))
'''

ORDERS = {
    "coreutils then busybox": ["coreutils cat", "busybox cat", "coreutils cat", "busybox cat"],
    "busybox then coreutils": ["busybox cat", "coreutils cat", "busybox cat"],
    "read then sendfile and splice": ["read", "sendfile", "read", "splice", "read", "busybox cat"],
    "sendfile then read": ["sendfile", "read", "splice", "sendfile", "read"],
    "fstat between open and sendfile": ["read", "fstat+sendfile", "shutil.copyfile", "busybox cat",
                                        "fstat+sendfile", "cp"],
    "dd and head": ["dd", "busybox dd", "busybox cat", "head -c", "busybox head -c", "busybox cat"],
}


@pytest.mark.parametrize("order", ORDERS, ids=list(ORDERS))
def test_every_reader_gets_the_whole_file_in_any_order(containers, order):
    c = containers.start()
    script = c.bundle / "rootfs" / "tmp" / "mixes.py"
    script.write_text(MIXES)
    out = c.exec(f"python3 /tmp/mixes.py '{json.dumps(FILES)}' '{json.dumps(ORDERS[order])}'")
    result = json.loads(out)
    problems = []
    for path, got in result.items():
        first = got[0][1]
        for way, data, size in got:
            if not shape_ok(path, data):
                problems.append(f"{path}: {way} read {data!r}")
            elif path in FIXED and data != first:
                problems.append(f"{path}: {way} read {data!r}, {got[0][0]} read {first!r}")
            if size != 0:  # procfs's size (sysfs shows 4096: see README, differences from runc)
                problems.append(f"{path}: stat shows {size} bytes after {way}")
    assert not problems, "\n".join(problems)


# Readers at once: two busybox cat loops (sendfile) beside a coreutils cat loop of the
# same file, for a few seconds, optionally with a stat loop; every output must be a whole
# rendering.
AT_ONCE = r"""
import json, os, subprocess, sys, threading, time
path, with_stat, end = sys.argv[1], sys.argv[2] == "stat", time.monotonic() + 3
outputs = {}

def reader(name, argv):
    got = outputs.setdefault(name, [])
    while time.monotonic() < end:
        got.append(subprocess.run(argv + [path], capture_output=True).stdout.decode("latin-1"))

def stats():
    while time.monotonic() < end:
        os.stat(path)

threads = [threading.Thread(target=reader, args=(n, a)) for n, a in
           [("busybox cat 1", ["busybox", "cat"]), ("busybox cat 2", ["busybox", "cat"]),
            ("coreutils cat", ["/usr/bin/cat"])]]
if with_stat:
    threads.append(threading.Thread(target=stats))
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(outputs))
"""


def readers_at_once(containers, path: str, with_stat: bool) -> None:
    c = containers.start()
    (c.bundle / "rootfs" / "tmp" / "at_once.py").write_text(AT_ONCE)
    outputs = json.loads(c.exec(f"python3 /tmp/at_once.py {path} {'stat' if with_stat else '-'}", timeout=60))
    assert sorted(outputs) == ["busybox cat 1", "busybox cat 2", "coreutils cat"]
    for reader, got in outputs.items():
        assert got, f"{reader} never finished a read"
        bad = [data for data in got if not shape_ok(path, data)]
        assert not bad, f"{reader}: {len(bad)} of {len(got)} reads not a whole {path}: {bad[:3]!r}"


@pytest.mark.parametrize("path", ["/proc/loadavg", "/proc/uptime", "/proc/stat", "/proc/sys/kernel/panic",
                                  "/sys/devices/system/cpu/online"])
def test_readers_at_once_each_get_a_whole_file(containers, path):
    readers_at_once(containers, path, with_stat=False)


# A stat while a file is open makes the kernel keep i_size only by dropping the reply's
# size (fs/page_cache.hpp): with content of one length, every reader still gets it whole.
@pytest.mark.parametrize("path", ["/proc/sys/kernel/panic", "/sys/devices/system/cpu/online", "/proc/meminfo"])
def test_readers_at_once_with_stat_each_get_a_whole_file(containers, path):
    readers_at_once(containers, path, with_stat=True)
