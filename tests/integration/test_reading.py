"""Every way of reading gets the whole file, against a real mount (issue 2, "done
means" 7). A pseudo-container: prepare + start with ecifsctl, init = a `sleep` of ours.

As the kernel's seq_file does, one pass over a file is one snapshot (the reads at
offsets after 0 see the content the pass began with) and a read at offset 0 starts a new
pass, rendered again (top and vmstat seek back to 0 and expect fresh figures). meminfo and
uptime change between passes, so bytes are compared across passes only for the files
whose content is fixed (STABLE); every pass of every file is checked for its shape."""
from __future__ import annotations

import os
import re
import stat
import subprocess
import time
from pathlib import Path

import pytest

from conftest import meminfo_field, run_as

pytestmark = pytest.mark.asan

FILES = ["proc/meminfo", "proc/uptime", "sys/devices/system/cpu/online"]
STABLE = ["proc/cpuinfo", "sys/devices/system/cpu/online"]
DIRS = ["proc", "sys", "sys/devices", "sys/devices/system", "sys/devices/system/cpu"]
BIG = 1 << 20


def read_chunks(fd: int, size: int) -> bytes:
    out = b""
    while chunk := os.read(fd, size):
        assert len(chunk) <= size
        out += chunk
    return out


def new_pass(fd: int) -> bytes:
    """The whole content again, from offset 0: a new pass, rendered again."""
    return os.pread(fd, BIG, 0)


def check_shape(path: Path, data: bytes) -> None:
    text = data.decode()
    assert text.endswith("\n"), repr(text)
    name = path.name
    if name == "meminfo":
        host_keys = [line.split(":")[0] for line in Path("/proc/meminfo").read_text().splitlines()]
        assert [line.split(":")[0] for line in text.splitlines()] == host_keys
        assert all(re.match(r"^[A-Za-z0-9_()]+:\s+\d+( kB)?$", line) for line in text.splitlines())
        assert len(data) > 1000  # more than a first line: the whole file
    elif name == "uptime":
        assert re.fullmatch(r"\d+\.\d\d \d+\.\d\d\n", text), repr(text)
    elif name == "cpuinfo":
        assert text.startswith("processor\t: 0\n"), text[:100]
        assert text.endswith("\n\n"), text[-100:]
    elif name == "online":
        assert re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*\n", text), repr(text)


@pytest.fixture
def files(pseudo):
    return [pseudo.path(f) for f in FILES + ["proc/cpuinfo"]]


def is_stable(path: Path) -> bool:
    return any(str(path).endswith(f) for f in STABLE)


def test_mount_is_where_prepare_said(daemon, pseudo):
    assert pseudo.mount == daemon.containers_dir / pseudo.id
    assert os.path.ismount(pseudo.mount)
    assert all(p.exists() for p in (pseudo.path(f) for f in FILES))


@pytest.mark.parametrize("chunk", [1, 7, 4096, 65536], ids=lambda n: f"{n}B")
def test_read_in_chunks(files, chunk):
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            data = read_chunks(fd, chunk)
            assert os.read(fd, chunk) == b""  # EOF stays EOF
            check_shape(path, data)
            again = new_pass(fd)
            check_shape(path, again)
            if is_stable(path):
                assert data == again, path
        finally:
            os.close(fd)


def test_one_big_read_and_python_read(files):
    for path in files:
        with open(path, "rb", buffering=0) as f:
            data = f.read()
            again = new_pass(f.fileno())
        check_shape(path, data)
        check_shape(path, again)
        if is_stable(path):
            assert data == again
        check_shape(path, path.read_bytes())


def test_pread_at_offsets(files):
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            whole = new_pass(fd)
            n = len(whole)
            assert n > 0
            # Reads after offset 0 belong to the pass that offset 0 began.
            for off in {1, n // 3, n // 2, n - 1}:
                for size in (1, 10, 100, 4096):
                    assert os.pread(fd, size, off) == whole[off:off + size], (path, off, size)
            assert os.pread(fd, 100, n) == b""
            assert os.pread(fd, 100, n + 1) == b""
            assert os.pread(fd, 100, n + 100000) == b""
            # pread does not move the file offset; read() still starts at 0: a new pass.
            again = read_chunks(fd, 65536)
            check_shape(path, again)
            if is_stable(path):
                assert again == whole
                assert os.pread(fd, 10, 0) == whole[:10]
        finally:
            os.close(fd)


def test_lseek_then_read(files):
    path = files[0]
    fd = os.open(path, os.O_RDONLY)
    try:
        whole = new_pass(fd)
        mid = len(whole) // 2
        assert os.lseek(fd, mid, os.SEEK_SET) == mid
        assert read_chunks(fd, 100) == whole[mid:]
        os.lseek(fd, 0, os.SEEK_SET)
        check_shape(path, read_chunks(fd, 3))
    finally:
        os.close(fd)


@pytest.mark.parametrize("target", ["pipe", "file"])
def test_sendfile(files, work_dir, target):
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            if target == "pipe":
                r, w = os.pipe()
                try:
                    total = 0
                    while n := os.sendfile(w, fd, None, 65536):
                        total += n
                    os.close(w)
                    w = -1
                    got = read_chunks(r, 65536)
                finally:
                    os.close(r)
                    if w >= 0:
                        os.close(w)
            else:
                out_path = work_dir / f"sendfile-{os.getpid()}-{path.name}"
                out = os.open(out_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
                try:
                    total = 0
                    while n := os.sendfile(out, fd, None, 65536):
                        total += n
                    got = os.pread(out, BIG, 0)
                finally:
                    os.close(out)
                    os.unlink(out_path)
            assert total == len(got)
            check_shape(path, got)
            # sendfile with an explicit offset: the tail from the middle.
            r, w = os.pipe()
            try:
                mid = len(got) // 2
                tail = b""
                off = mid
                while n := os.sendfile(w, fd, off, 65536):
                    off += n
                    tail += os.read(r, n)
                assert tail == got[mid:]
            finally:
                os.close(r)
                os.close(w)
            if is_stable(path):
                assert new_pass(fd) == got, path
        finally:
            os.close(fd)


def test_splice(files):
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        r, w = os.pipe()
        try:
            got = b""
            while n := os.splice(fd, w, 65536):
                got += os.read(r, n)
            check_shape(path, got)
            got1 = b""
            off = 0
            while n := os.splice(fd, w, 1, offset_src=off):
                off += n
                got1 += os.read(r, n)
            check_shape(path, got1)
            if is_stable(path):
                assert got1 == got == new_pass(fd), path
        finally:
            os.close(r)
            os.close(w)
            os.close(fd)


@pytest.mark.parametrize("tool", [
    ["busybox", "cat"],         # sendfile
    ["cat"],                    # coreutils: read(2), 128 KiB
    ["dd", "bs=1", "status=none"],
    ["busybox", "head", "-c", "1000000"],
])
def test_tools(files, tool):
    for path in files:
        r = subprocess.run([*tool, str(path)] if tool[0] != "dd" else [*tool, f"if={path}"],
                           capture_output=True, timeout=20)
        assert r.returncode == 0, r.stderr
        check_shape(path, r.stdout)


def test_tools_see_consistent_meminfo(pseudo):
    """busybox cat and one big read agree on the container's own figures."""
    path = pseudo.path("proc/meminfo")
    a = subprocess.run(["busybox", "cat", str(path)], capture_output=True, timeout=20).stdout
    b = path.read_bytes()
    assert meminfo_field(a.decode(), "MemTotal") == meminfo_field(b.decode(), "MemTotal")
    assert len(a.splitlines()) == len(b.splitlines())


def test_a_pass_is_one_snapshot_and_offset_0_starts_a_fresh_one(pseudo):
    path = pseudo.path("proc/uptime")
    fd = os.open(path, os.O_RDONLY)
    try:
        first = os.read(fd, 1)
        time.sleep(1.2)
        rest = read_chunks(fd, 65536)
        held = first + rest
        check_shape(path, held)  # not torn: the pass's later reads kept its snapshot
        for fresh in (new_pass(fd), path.read_bytes()):  # same descriptor, new open
            assert float(fresh.split()[0]) >= float(held.split()[0]) + 1.0, (held, fresh)
    finally:
        os.close(fd)


def test_uptime_is_since_init_start(pseudo):
    up = float(pseudo.path("proc/uptime").read_text().split()[0])
    assert 0 <= up < 30


def test_st_size_and_modes(pseudo):
    """stat shows 0 bytes, as procfs does, whatever the content and however the file was
    read (sysfs shows 4096 for an attribute: see the README's differences from runc)."""
    for f in FILES:
        path = pseudo.path(f)
        for _ in range(2):
            st = os.stat(path)
            assert stat.S_ISREG(st.st_mode), f
            assert stat.S_IMODE(st.st_mode) == 0o444, (f, oct(st.st_mode))
            assert st.st_size == 0, (f, st.st_size)
            subprocess.run(["busybox", "cat", str(path)], capture_output=True, check=True, timeout=20)
            path.read_bytes()
    for d in DIRS:
        st = os.stat(pseudo.path(d))
        assert stat.S_ISDIR(st.st_mode), d
        # procfs directories are 0555, sysfs directories 0755.
        allowed = (0o555,) if d == "proc" else (0o555, 0o755)
        assert stat.S_IMODE(st.st_mode) in allowed, (d, oct(st.st_mode))


def test_directory_listing(pseudo):
    assert {"proc", "sys"} <= set(os.listdir(pseudo.mount))
    assert {"meminfo", "uptime"} <= set(os.listdir(pseudo.path("proc")))
    assert "online" in os.listdir(pseudo.path("sys/devices/system/cpu"))
    with os.scandir(pseudo.path("proc")) as it:
        kinds = {e.name: e.is_file() for e in it}
    assert kinds["meminfo"] and kinds["uptime"]
    r = subprocess.run(["ls", "-la", str(pseudo.path("proc"))], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0 and "meminfo" in r.stdout, r.stdout + r.stderr


def test_missing_entries_are_enoent(pseudo):
    for rel in ("proc/nope", "sys/nope", "nope", "proc/meminfo/x"):
        with pytest.raises((FileNotFoundError, NotADirectoryError)):
            os.stat(pseudo.path(rel))


def test_files_are_read_only(pseudo):
    # Like procfs, opening for writing may succeed for root; writing must not.
    for f in FILES:
        try:
            fd = os.open(pseudo.path(f), os.O_WRONLY)
        except OSError:
            continue
        try:
            with pytest.raises(OSError):
                os.write(fd, b"1\n")
        finally:
            os.close(fd)
    with pytest.raises(OSError):
        os.open(pseudo.path("proc/newfile"), os.O_WRONLY | os.O_CREAT, 0o644)
    with pytest.raises(OSError):
        os.mkdir(pseudo.path("proc/newdir"))


@pytest.mark.parametrize("ids", [(100000, 100000), (0, 0), (231072, 231073)])
def test_ownership_is_the_kernels_but_for_the_containers_own(make_pseudo, ids):
    """As in the kernel's procfs and sysfs, the files are the host root's (ids a
    user-namespaced container does not map: it sees nobody); what ecifs keeps as the
    container's own (an emulated sysctl) is its root's, who may write it."""
    p = make_pseudo(*ids)
    for rel in FILES + DIRS + ["proc/sys/kernel/osrelease", "sys/kernel/mm"]:
        st = os.stat(p.path(rel))
        assert (st.st_uid, st.st_gid) == (0, 0), (rel, st.st_uid, st.st_gid)
    st = os.stat(p.path("proc/sys/kernel/panic"))
    assert (st.st_uid, st.st_gid) == ids


def test_other_users_can_read(pseudo):
    """The container's processes are not the daemon's user: the mount must let them in."""
    path = str(pseudo.path("proc/meminfo"))
    ours = Path(path).read_text()

    def read():
        with open(path) as f:
            return f.read()

    for uid in (100000, 65534):
        text = run_as(uid, uid, read)
        assert meminfo_field(text, "MemTotal") == meminfo_field(ours, "MemTotal")
