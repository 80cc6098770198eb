"""A daemon crash never breaks a running container (issue 12, docs/restart.md): the fd
holder keeps every FUSE connection and seccomp notify fd, a new daemon serves them again,
and the containers' readers see no failed or empty read across a kill -9."""
from __future__ import annotations

import ctypes
import fcntl
import json
import mmap
import os
import select
import signal
import socket
import struct
import subprocess
import time

import pytest

from conftest import MiB, fuse_mounts_under, pid_alive, wait_for

# Each container reads every file twice per turn: read(2) (coreutils cat, Python's
# open().read()) and sendfile(2) (busybox cat), and counts failed and empty reads and
# the longest single read (the stall a restart costs a reader).
READER = r"""
import json, os, sys, time
files = sys.argv[1:]
r, w = os.pipe()
reads = fails = 0
worst = 0.0
errors = []
while not os.path.exists("/tmp/stop"):
    for f in files:
        started = time.monotonic()
        try:
            with open(f, "rb") as fh:
                if not fh.read():
                    raise OSError("empty read(2)")
            fd = os.open(f, os.O_RDONLY)
            try:
                sent = os.sendfile(w, fd, 0, 65536)
            finally:
                os.close(fd)
            if not sent or not os.read(r, 1 << 20):
                raise OSError("empty sendfile(2)")
        except OSError as e:
            fails += 1
            if len(errors) < 20:
                errors.append(f"{f}: {e}")
        worst = max(worst, time.monotonic() - started)
        reads += 1
    with open("/tmp/reader.new", "w") as out:
        json.dump({"reads": reads, "fails": fails, "worst": worst, "errors": errors}, out)
    os.rename("/tmp/reader.new", "/tmp/reader.json")
with open("/tmp/reader.done", "w") as out:
    out.write("done")
"""

FILES = ["/proc/meminfo", "/proc/uptime", "/proc/stat",
         "/proc/sys/kernel/hostname",  # namespaced: an executor in the container's namespaces
         "/proc/sys/kernel/panic"]     # emulated: the container's own value
# product_uuid only where the host has DMI (a view covers the kernel's own file).
IDENTITY = ("for f in /proc/sys/kernel/random/boot_id /sys/devices/virtual/dmi/id/product_uuid "
            "/proc/sys/kernel/panic; do [ -e $f ] && cat $f; done; true")


def progress(c) -> dict:
    try:
        return json.loads((c.bundle / "rootfs" / "tmp" / "reader.json").read_text())
    except (OSError, ValueError):
        return {"reads": 0, "fails": 0, "worst": 0.0, "errors": []}


def start_readers(containers, count: int) -> list:
    started = []
    for i in range(count):
        c = containers.start(memory=128 * MiB)
        c.exec(f"sysctl -w kernel.panic={i + 3} >/dev/null")
        (c.bundle / "rootfs" / "tmp" / "reader.py").write_text(READER)
        r = containers.shim("exec", "-d", c.id, "python3", "/tmp/reader.py", *FILES,
                            capture_output=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert r.returncode == 0
        started.append(c)
    for c in started:
        assert wait_for(lambda: progress(c)["reads"] > 0, 30), c.id
    return started


def identities(cs) -> dict:
    return {c.id: c.exec(IDENTITY) for c in cs}


def wait_for_more_reads(cs, at_least: int = 50) -> None:
    marks = {c.id: progress(c)["reads"] for c in cs}
    for c in cs:
        assert wait_for(lambda: progress(c)["reads"] >= marks[c.id] + at_least, 60), (c.id, progress(c))


def stop_readers(cs) -> list[dict]:
    for c in cs:
        (c.bundle / "rootfs" / "tmp" / "stop").write_text("")
    for c in cs:
        assert wait_for(lambda: (c.bundle / "rootfs" / "tmp" / "reader.done").exists(), 30), c.id
    return [progress(c) for c in cs]


def kill_and_restart(daemon, gap: float) -> None:
    daemon.kill()
    daemon.proc.wait(10)
    time.sleep(gap)  # the readers wait in the kernel meanwhile
    daemon.start()


def report(results: list[dict], label: str) -> None:
    reads = sum(r["reads"] for r in results)
    fails = sum(r["fails"] for r in results)
    worst = max(r["worst"] for r in results)
    print(f"{label}: {len(results)} containers, {reads} reads, {fails} failed or empty, "
          f"longest read {worst * 1000:.0f} ms")
    assert fails == 0, [r["errors"] for r in results if r["fails"]]


@pytest.mark.parametrize("kills", [1, 10], ids=["kill-9", "10-kills-200ms-apart"])
def test_readers_never_fail_across_kills(daemon, containers, kills):
    cs = start_readers(containers, 20)
    before = identities(cs)
    for _ in range(kills):
        kill_and_restart(daemon, gap=0.5 if kills == 1 else 0.2)
    wait_for_more_reads(cs)
    report(stop_readers(cs), f"{kills} kill(s)")
    assert identities(cs) == before  # boot_id, product_uuid, the container's kernel.panic
    listed = daemon.listing()
    assert all(c.id in listed for c in cs)


def test_a_container_that_ended_while_no_daemon_ran_is_forgotten(daemon, containers):
    gone, kept = containers.start(memory=128 * MiB), containers.start(memory=128 * MiB)
    daemon.kill()
    daemon.proc.wait(10)
    pid = gone.pid
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not pid_alive(pid), 10)
    daemon.start()
    listed = daemon.listing()
    assert gone.id not in listed and kept.id in listed, listed
    assert not fuse_mounts_under(daemon.containers_dir / gone.id)
    assert kept.exec("head -n 1 /proc/meminfo") == "MemTotal:         131072 kB\n"


def test_a_container_created_while_no_daemon_runs_is_refused_cleanly(daemon, containers):
    daemon.kill()
    daemon.proc.wait(10)
    c = containers.start(memory=128 * MiB, check=False)
    r = containers.runc_ids()
    assert c.id not in r, r
    print((containers.dir / f"{c.id}.out").read_text())
    daemon.start()
    assert c.id not in daemon.listing()


def test_the_inits_trapped_calls_are_answered_after_a_restart(daemon, containers):
    """The init's seccomp notify fd (handed over once, at create) is served again: its
    busybox free (sysinfo(2), trapped) keeps showing the container's memory."""
    loop = "while :; do busybox free > /tmp/free.new && mv /tmp/free.new /tmp/free.out; sleep 0.1; done"
    c = containers.start(memory=128 * MiB, args=["sh", "-c", loop])
    out = c.bundle / "rootfs" / "tmp" / "free.out"

    def total() -> int | None:
        try:
            return int(out.read_text().splitlines()[1].split()[1])
        except (OSError, IndexError, ValueError):
            return None

    assert wait_for(lambda: total() == 131072, 10), total()
    kill_and_restart(daemon, gap=0.5)
    out.unlink()
    assert wait_for(lambda: total() is not None, 10)
    assert total() == 131072
    assert "seccomp_notify_fds" in json.dumps(daemon.ctl_json("inspect", c.id))
    assert daemon.ctl_json("inspect", c.id)["container"]["seccomp_notify_fds"] >= 1


def test_an_upgrade_is_sigterm_and_the_new_binary(daemon, containers, tmp_path):
    """An upgrade in place: SIGTERM to the old daemon (it leaves the containers, and the
    requests it had not answered, to the next one), then the new binary on the same state
    directory. Here the "new binary" is a copy at another path."""
    cs = start_readers(containers, 20)
    before = identities(cs)
    new_bin = tmp_path / "ecifs-next"
    new_bin.mkdir()
    for name in ("ecifs", "ecifsctl"):
        (new_bin / name).write_bytes((daemon.bin_dir / name).read_bytes())
        (new_bin / name).chmod(0o755)
    assert daemon.stop(signal.SIGTERM) == 0, daemon.log_tail()
    daemon.bin_dir = new_bin
    daemon.start()
    assert os.readlink(f"/proc/{daemon.pid}/exe") == str(new_bin / "ecifs")
    wait_for_more_reads(cs)
    report(stop_readers(cs), "SIGTERM + new binary")
    assert identities(cs) == before


SECCOMP_IOCTL_NOTIF_RECV = 0xC0502100  # _IOWR('!', 0, struct seccomp_notif): 80 bytes


def held_fds(daemon) -> dict[str, int]:
    """Copies of what the daemon's fd holder keeps, by key (its `list`)."""
    out = {}
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.settimeout(5)
        s.connect(str(daemon.state_dir / "holder.sock"))
        s.send(b"list")
        while True:
            msg, fds, _, _ = socket.recv_fds(s, 512, 1)
            if msg == b"end":
                return out
            assert msg.startswith(b"fd ") and len(fds) == 1, msg
            out[msg[3:].decode()] = fds[0]


def take_the_inits_call_and_die(daemon, c, keep) -> str:
    """Plays a daemon that takes the init's next trapped call (after the test touches
    /tmp/go) and dies before answering it: with the daemon stopped, the call is received
    from the notify fd the holder keeps, `keep(fds, received, fields)` keeps it where a
    daemon would, and the daemon is killed. Returns the call's pending file (it may not
    exist: how it was kept is keep's)."""
    os.kill(daemon.pid, signal.SIGSTOP)
    fds = held_fds(daemon)
    try:
        key = f"seccomp:{c.id}:0"  # the init's: handed over at create
        assert key in fds, sorted(fds)
        (c.bundle / "rootfs" / "tmp" / "go").write_text("")
        poller = select.poll()
        poller.register(fds[key], select.POLLIN)
        assert poller.poll(10_000), "no trapped call came"
        received = bytearray(80)
        fcntl.ioctl(fds[key], SECCOMP_IOCTL_NOTIF_RECV, received)
        nid, pid, _flags, nr, arch, _ip, *args = struct.unpack("=QIIiIQ6Q", bytes(received))
        keep(fds, received, (nid, pid, arch, nr, *args))
    except BaseException:
        os.kill(daemon.pid, signal.SIGCONT)  # a failed test leaves no daemon stopped
        raise
    finally:
        for fd in fds.values():
            os.close(fd)
    os.kill(daemon.pid, signal.SIGKILL)
    daemon.proc.wait(10)
    return daemon.state_dir / "records" / "pending" / f"{key}.{nid}"


def pending_line(fields) -> str:
    return " ".join(str(v) for v in fields) + "\n"


# What the init does when the test touches /tmp/go: a trapped call, its output kept.
TRAPPED = {
    # sysinfo(2), answered by the daemon: the container's memory
    "sysinfo": ("busybox free > /tmp/out.new", lambda out: int(out.splitlines()[1].split()[1]) == 131072),
    # mount(2) of a procfs: made by a mount helper with the views on it
    "mount-proc": ("mkdir -p /mnt/p && mount -t proc proc /mnt/p && head -n 1 /mnt/p/meminfo > /tmp/out.new",
                   lambda out: out == "MemTotal:         131072 kB\n"),
}


@pytest.mark.parametrize("kept_in", ["ring", "file"])
@pytest.mark.parametrize("call", sorted(TRAPPED))
def test_a_trapped_call_taken_by_a_daemon_that_died_is_answered_by_the_next(daemon, containers, call, kept_in):
    """The kernel delivers a notification once. Here the test plays the daemon that took
    it and died before answering: with the daemon stopped, it takes the init's trapped
    call from the notify fd the holder keeps, into the shared memory the holder keeps
    beside it (ring: where the daemon's receive lands, seccomp/call_ring.hpp; nothing else
    written), or into a file of STATE/records/pending (file: how a daemon without that
    memory keeps it). The next daemon answers it: the caller, which waited all along,
    completes as if nothing happened. (A mount helper the dead daemon had started undoes
    its mount when no verdict comes, seccomp/mount_helper.cpp, so the call is made once.)"""
    script, check = TRAPPED[call]
    loop = (f"while :; do if [ -e /tmp/go ]; then rm /tmp/go; {script} && mv /tmp/out.new /tmp/out; fi; "
            "sleep 0.05; done")
    c = containers.start(memory=128 * MiB, args=["sh", "-c", loop], extra_caps=["CAP_SYS_ADMIN"])
    rootfs_tmp = c.bundle / "rootfs" / "tmp"

    def keep(fds, received, fields):
        if kept_in == "file":
            pending = daemon.state_dir / "records" / "pending" / f"seccomp:{c.id}:0.{fields[0]}"
            return pending.write_text(pending_line(fields))
        ring_key = f"calls:{c.id}:0"
        assert ring_key in fds, sorted(fds)
        with mmap.mmap(fds[ring_key], 64 * 128) as ring:
            assert not any(ring[:]), "the ring holds a call already"
            ring[:80] = received  # slot 0, as the kernel writes it there for the daemon

    pending = take_the_inits_call_and_die(daemon, c, keep)
    time.sleep(0.3)
    out = rootfs_tmp / "out"
    assert not out.exists()  # the caller still waits
    daemon.start()
    assert wait_for(out.exists, 10), daemon.log_tail()
    assert check(out.read_text()), out.read_text()
    assert not pending.exists()
    assert "taking up trapped call" in daemon.log_tail(400)


def loadavg_1min(c) -> float:
    return float(c.exec("cat /proc/loadavg").split()[0])


def test_the_load_average_goes_on_across_a_restart(daemon, containers):
    """The load average is folded every 5 s from what it was: a restart neither resets
    it nor makes it jump (its state is on disk after every fold)."""
    busy = containers.start(memory=128 * MiB, cpus=1.0)
    busy.exec("sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &")
    assert wait_for(lambda: loadavg_1min(busy) >= 0.15, 25)
    before = loadavg_1min(busy)
    kill_and_restart(daemon, gap=0.2)
    after = loadavg_1min(busy)
    # At most one fold may come between the two reads: with one task running, a fold
    # adds at most 0.08 to a 1-min average below 1.
    assert before <= after <= before + 0.09, (before, after)


def mount_id_at(pid: int, mount_point: str) -> int | None:
    """The id of the top mount at `mount_point` in the mount namespace of `pid`."""
    found = None
    for line in open(f"/proc/{pid}/mountinfo").read().splitlines():
        fields = line.split()
        if fields[4] == mount_point:
            found = int(fields[0])  # a later line is a mount on top of an earlier one
    return found


def test_the_mounts_a_container_made_are_still_its_own_after_a_restart(daemon, containers):
    """The mounts a container made through the trapper are its to unmount, as under plain
    runc, also after a kill -9: the next daemon knows them (STATE/records/ID.mounts.json)
    and the fd holder kept each mount namespace they are in (which pins their ids). The
    runtime's views stay locked. One namespace is the init's; another is a nested one
    (unshare -m) whose shell waits across the restart."""
    c = containers.start(memory=128 * MiB, extra_caps=["CAP_SYS_ADMIN"])
    assert c.exec("mkdir -p /mnt/p /mnt/q && mount -t proc proc /mnt/p && head -n 1 /mnt/p/meminfo") == \
        "MemTotal:         131072 kB\n"
    nested = ("mount -t proc proc /mnt/q && head -n 1 /mnt/q/meminfo > /tmp/q.out; "
              "while [ ! -e /tmp/q.stop ]; do sleep 0.05; done; umount /mnt/q; echo $? > /tmp/q.umount")
    r = containers.shim("exec", "-d", c.id, "unshare", "-m", "sh", "-c", nested,
                        capture_output=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert r.returncode == 0
    tmp = c.bundle / "rootfs" / "tmp"
    assert wait_for((tmp / "q.out").exists, 10)
    assert (tmp / "q.out").read_text() == "MemTotal:         131072 kB\n"
    held = held_fds(daemon)
    for fd in held.values():
        os.close(fd)
    assert len([k for k in held if k.startswith(f"mntns:{c.id}:")]) == 2, sorted(held)

    kill_and_restart(daemon, gap=0.2)

    assert not c.exec("umount /proc/meminfo 2>&1; echo rc=$?", check=False).endswith("rc=0\n")  # a view: locked
    assert c.exec("umount /mnt/p; echo rc=$?") == "rc=0\n"
    assert mount_id_at(c.pid, "/mnt/p") is None
    (tmp / "q.stop").write_text("")
    assert wait_for((tmp / "q.umount").exists, 10)
    assert (tmp / "q.umount").read_text() == "0\n"
    # The nested namespace is let go once no process of the container is in it (at the
    # next trapped mount call); the init's stays held.
    c.exec("mount -t proc proc /mnt/p && umount /mnt/p")
    held = held_fds(daemon)
    for fd in held.values():
        os.close(fd)
    assert [k for k in held if k.startswith(f"mntns:{c.id}:")] == \
        [f"mntns:{c.id}:{os.stat(f'/proc/{c.pid}/ns/mnt').st_ino}"]


def detach_in(pid: int, path: str) -> None:
    """umount2(path, MNT_DETACH) in the mount namespace of `pid`, from a child of ours.
    Not umount(8): it would stat the views on the mount, FUSE files of a stopped daemon."""
    child = os.fork()
    if child == 0:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
            ok = libc.setns(fd, CLONE_NEWNS) == 0 and libc.umount2(path.encode(), MNT_DETACH) == 0
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


CLONE_NEWNS, MNT_DETACH = 0x00020000, 2


@pytest.mark.parametrize("carried_out", [True, False], ids=["carried-out", "not-yet"])
def test_an_unmount_the_dead_daemon_allowed_is_made_once(daemon, containers, carried_out):
    """An unmount cannot be undone, so its helper waits for the daemon to write down
    which mount it is about to unmount (STATE/records/pending, "unmounting") before it
    does. Here the test plays a daemon that took a umount(2), allowed it and died: the
    umount made (carried-out) or not (not-yet). The next daemon answers the waiting
    caller 0 both times, as plain runc would, and does not unmount a second time (which
    would be EINVAL, or take a mount below)."""
    loop = ("mkdir -p /mnt/p && mount -t proc proc /mnt/p && mount -t proc proc /mnt/p && touch /tmp/ready; "
            "while :; do if [ -e /tmp/go ]; then rm /tmp/go; umount /mnt/p; echo $? > /tmp/out.new; "
            "mv /tmp/out.new /tmp/out; fi; sleep 0.05; done")
    c = containers.start(memory=128 * MiB, args=["sh", "-c", loop], extra_caps=["CAP_SYS_ADMIN"])
    rootfs_tmp = c.bundle / "rootfs" / "tmp"
    assert wait_for((rootfs_tmp / "ready").exists, 10)
    below, top = [int(line.split()[0]) for line in open(f"/proc/{c.pid}/mountinfo") if line.split()[4] == "/mnt/p"]

    def keep(_fds, _received, fields):
        mnt_ns = os.stat(f"/proc/{c.pid}/ns/mnt").st_ino
        pending = daemon.state_dir / "records" / "pending" / f"seccomp:{c.id}:0.{fields[0]}"
        pending.write_text(pending_line(fields) + f"unmounting {mnt_ns} {top}\n")
        if carried_out:  # as the dead daemon's helper did
            detach_in(c.pid, "/mnt/p")

    pending = take_the_inits_call_and_die(daemon, c, keep)
    out = rootfs_tmp / "out"
    assert not out.exists()  # the caller still waits
    daemon.start()
    assert wait_for(out.exists, 10), daemon.log_tail()
    assert out.read_text() == "0\n"
    left = [int(line.split()[0]) for line in open(f"/proc/{c.pid}/mountinfo") if line.split()[4] == "/mnt/p"]
    assert left == [below]  # the top one went, once
    assert not pending.exists()
