"""/proc/sys in real user-namespaced runc containers: each container's own sysctls,
never the host kernel's (issue 3, "done means" 1-5)."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

# Sysctls any test here writes inside a container: the host must keep every one.
TOUCHED = [
    "kernel/panic", "kernel/pid_max", "kernel/cap_last_cap", "kernel/printk",
    "net/ipv4/ip_forward", "net/core/somaxconn", "vm/overcommit_memory", "vm/swappiness",
    "vm/max_map_count", "fs/file-max", "fs/inotify/max_user_watches", "kernel/shmmax",
    "net/ipv4/tcp_keepalive_time", "kernel/core_pattern", "net/netfilter/nf_conntrack_max",
    "net/netfilter/nf_conntrack_tcp_timeout_established", "net/netfilter/nf_conntrack_tcp_timeout_close_wait",
]


def host_values() -> dict:
    values = {}
    for name in TOUCHED:
        path = Path("/proc/sys") / name
        values[name] = path.read_text() if path.exists() else None
    return values


@pytest.fixture
def host_unchanged():
    before = host_values()
    yield
    assert host_values() == before


def sysctl_n(c, name: str) -> str:
    return c.exec(f"sysctl -n {name}").strip()


@pytest.mark.asan
def test_emulated_write_is_the_containers_own(containers, host_unchanged):
    host_panic = Path("/proc/sys/kernel/panic").read_text().strip()
    a = containers.start()
    b = containers.start()
    a.exec("sysctl -w kernel.panic=7")
    assert sysctl_n(a, "kernel.panic") == "7"
    assert a.exec("cat /proc/sys/kernel/panic") == "7\n"
    assert sysctl_n(b, "kernel.panic") == host_panic
    # A vector: the kernel's tab-separated format.
    a.exec("echo '3 4 1 7' > /proc/sys/kernel/printk")
    assert a.exec("cat /proc/sys/kernel/printk") == "3\t4\t1\t7\n"


def test_namespaced_write_reaches_the_callers_network_namespace(containers, host_unchanged):
    # A new network namespace starts with init_net's IPv4 settings (devconf_inherit_init_net
    # 0): the host's value, which is 1 wherever dockerd has run. A writes the other one.
    host_forward = Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()
    written = "0" if host_forward == "1" else "1"
    # Root of a "small VM": all capabilities in its own user namespace (unshare -n needs
    # CAP_SYS_ADMIN there).
    a = containers.start(extra_caps=["CAP_SYS_ADMIN", "CAP_NET_ADMIN"])
    b = containers.start()
    assert sysctl_n(a, "net.ipv4.ip_forward") == host_forward
    a.exec(f"sysctl -w net.ipv4.ip_forward={written}")
    assert sysctl_n(a, "net.ipv4.ip_forward") == written
    assert sysctl_n(b, "net.ipv4.ip_forward") == host_forward
    # A shell in a new network namespace inside A sees its own (fresh) value.
    assert a.exec("unshare -n sysctl -n net.ipv4.ip_forward").strip() == host_forward
    assert sysctl_n(a, "net.ipv4.ip_forward") == written
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == host_forward


# Opens of namespaced sysctls, in the container's own namespaces. The kernel decides by
# its own rules, not mode bits: a net sysctl needs CAP_NET_ADMIN in the network
# namespace's owner (tcp_fastopen_key is 0600; somaxconn 0644 is writable only so).
RIGHTS_PROBE = (
    "for f in net/ipv4/tcp_fastopen_key net/core/somaxconn kernel/hostname; do "
    "  busybox cat /proc/sys/$f >/dev/null 2>/tmp/err && echo \"$f read: ok\" || echo \"$f read: $(cat /tmp/err)\"; "
    "  v=$(cat /proc/sys/$f 2>/dev/null || echo 0); "
    "  busybox sh -c \"echo $v > /proc/sys/$f\" 2>/tmp/err && echo \"$f write: ok\" || echo \"$f write: $(cat /tmp/err)\"; "
    "done"
)


def writable_proc_sys(config: dict) -> None:
    """runc mounts /proc/sys read-only (readonlyPaths): without that, the kernel itself
    answers each write, as it answers the view's."""
    config["linux"]["readonlyPaths"].remove("/proc/sys")


@pytest.mark.parametrize("caps", [[], ["CAP_NET_ADMIN"]], ids=["without-net-admin", "with-net-admin"])
def test_namespaced_sysctls_are_opened_with_the_callers_rights(containers, host_unchanged, caps):
    # ecifs's helper must not lend the caller its own capabilities (issue 11 item 6).
    c = containers.start(extra_caps=caps)
    plain = containers.start_plain(extra_caps=caps, edit_config=writable_proc_sys)
    ours = c.exec(RIGHTS_PROBE)
    theirs = containers.runc("exec", plain.id, "sh", "-c", RIGHTS_PROBE).stdout
    assert ours == theirs
    if caps:
        assert "net/core/somaxconn write: ok" in ours and "tcp_fastopen_key read: ok" in ours
    else:
        assert ("net/ipv4/tcp_fastopen_key read: cat: can't open '/proc/sys/net/ipv4/tcp_fastopen_key': "
                "Permission denied") in ours
        assert "net/core/somaxconn write: sh: can't create /proc/sys/net/core/somaxconn: Permission denied" in ours


@pytest.mark.xfail(strict=True, reason="issue 9 item 1, left: a view whose rendering fails has i_size 0, "
                   "so a splice reader (busybox cat) sees an empty file where the kernel gives EIO")
def test_a_read_error_reaches_a_splice_reader(containers):
    # stable_secret: EIO until one is set, to whoever may open it.
    c = containers.start(extra_caps=["CAP_NET_ADMIN"])
    r = c.mgr.shim("exec", c.id, "busybox", "cat", "/proc/sys/net/ipv6/conf/lo/stable_secret")
    assert r.returncode != 0 and "Input/output error" in r.stderr, (r.returncode, r.stdout, r.stderr)


def write_error(c, path: str, value: str) -> str:
    """Write with busybox's echo, which names the errno (dash's says "I/O error" for all)."""
    r = c.mgr.shim("exec", c.id, "busybox", "sh", "-c", f"echo {value} > {path}")
    assert r.returncode != 0, f"writing {value!r} to {path} succeeded"
    return r.stderr


def test_bad_writes_get_the_kernels_errors(containers, host_unchanged):
    c = containers.start()
    before = c.exec("cat /proc/sys/kernel/panic")
    assert "Invalid argument" in write_error(c, "/proc/sys/kernel/panic", "abc")
    assert c.exec("cat /proc/sys/kernel/panic") == before
    r = c.mgr.shim("exec", c.id, "sysctl", "-w", "kernel.panic=abc")
    assert r.returncode != 0 and "Invalid argument" in r.stderr, r.stderr
    # pid_max: 301..4194304 on 64-bit.
    pid_max = c.exec("cat /proc/sys/kernel/pid_max")
    assert "Invalid argument" in write_error(c, "/proc/sys/kernel/pid_max", "99999999")
    assert "Invalid argument" in write_error(c, "/proc/sys/kernel/pid_max", "100")
    assert c.exec("cat /proc/sys/kernel/pid_max") == pid_max
    c.exec("echo 65536 > /proc/sys/kernel/pid_max")
    assert c.exec("cat /proc/sys/kernel/pid_max") == "65536\n"
    # Read-only: mode 0444, so root in the container is refused.
    assert c.exec("stat -c %a /proc/sys/kernel/cap_last_cap").strip() == "444"
    r = c.mgr.shim("exec", c.id, "sh", "-c", "echo 5 > /proc/sys/kernel/cap_last_cap")
    assert r.returncode != 0 and "Permission denied" in r.stderr, r.stderr
    cap_last_cap = c.exec("cat /proc/sys/kernel/cap_last_cap")
    r = c.mgr.shim("exec", c.id, "sysctl", "-w", "kernel.cap_last_cap=5")
    assert "kernel.cap_last_cap" in r.stderr, r.stderr  # procps reports it, exit status 0
    assert c.exec("cat /proc/sys/kernel/cap_last_cap") == cap_last_cap


def test_random_uuid_and_boot_id(containers):
    a = containers.start()
    b = containers.start()
    uuids = a.exec("for i in 1 2 3 4 5 6 7 8 9 10; do cat /proc/sys/kernel/random/uuid; done").split()
    assert len(uuids) == 10 and len(set(uuids)) == 10
    assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", u) for u in uuids)
    boot_a = a.exec("cat /proc/sys/kernel/random/boot_id; cat /proc/sys/kernel/random/boot_id").split()
    boot_b = b.exec("cat /proc/sys/kernel/random/boot_id").split()
    assert boot_a[0] == boot_a[1]
    assert boot_a[0] != boot_b[0]
    assert boot_a[0] != Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def kernel_view() -> dict:
    """The names and modes the kernel shows a process in new user, network and pid
    namespaces: what a container's /proc/sys must look like."""
    out = subprocess.run(["unshare", "-Urnpf", "--mount-proc", "find", "/proc/sys", "-mindepth", "1",
                          "-printf", "%P %m\\n"], capture_output=True, text=True, check=True).stdout
    return dict(line.rsplit(" ", 1) for line in out.splitlines())


def emulated_rows() -> list[str]:
    """The paths (patterns) docs/sysctl.md lists as emulated."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "sysctl.md").read_text()
    return re.findall(r"^\| `([^`]+)` \| emulated \|", text, re.M)


def test_sysctl_a_and_the_tree_match_the_kernel(containers):
    c = containers.start()
    r = c.mgr.shim("exec", c.id, "sysctl", "-a")
    # The same keys unreadable (root-only files of the host's root) as under plain runc.
    plain = containers.runc("exec", containers.start_plain().id, "sysctl", "-a")
    assert r.returncode == plain.returncode, r.stderr
    assert r.stderr == plain.stderr
    assert len(r.stdout.splitlines()) > 500
    inside = dict(line.rsplit(" ", 1) for line in
                  c.exec("find /proc/sys -mindepth 1 -printf '%P %m\\n'").splitlines())
    expected = kernel_view()
    assert sorted(set(inside) ^ set(expected)) == []
    # An emulated file is the container's own: the mode the initial namespace shows
    # (net/netfilter/nf_conntrack_max is read-only in any other network namespace).
    emulated = set(emulated_rows())
    for path in emulated & set(expected):
        expected[path] = f"{os.stat(Path('/proc/sys') / path).st_mode & 0o7777:o}"
    different = {k: (inside[k], expected[k]) for k in inside if inside[k] != expected[k]}
    assert different == {}


TUNING = """\
# A database host's usual settings (PostgreSQL, Redis, Elasticsearch guides)
vm.overcommit_memory = 1
vm.swappiness = 10
vm.max_map_count = 262144
fs.file-max = 2097152
fs.inotify.max_user_watches = 524288
kernel.shmmax = 68719476736
net.core.somaxconn = 4096
net.ipv4.tcp_keepalive_time = 600
net.ipv4.ip_local_port_range = 10240 65000
"""


def test_sysctl_p_of_a_tuning_file(containers, host_unchanged):
    # The net.* lines need CAP_NET_ADMIN, as the kernel asks of whoever writes them.
    c = containers.start(extra_caps=["CAP_NET_ADMIN"])
    c.exec(f"cat > /tmp/tuning.conf <<'EOF'\n{TUNING}EOF")
    r = c.mgr.shim("exec", c.id, "sysctl", "-p", "/tmp/tuning.conf")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    for line in TUNING.splitlines():
        if "=" not in line or line.startswith("#"):
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        assert " ".join(sysctl_n(c, key).split()) == value, key


def test_ecifsctl_inspect_shows_sysctls_and_policies(daemon, containers):
    c = containers.start()
    c.exec("sysctl -w vm.swappiness=17")
    info = daemon.ctl_json("inspect", c.id)["container"]
    assert info["sysctls"]["vm/swappiness"] == {"value": "17", "policy": "emulated"}


def test_sys_kernel_is_the_hosts_read_only_and_hides_debug_interfaces(containers):
    c = containers.start()
    for name in ("security", "debug", "tracing", "config"):
        if Path("/sys/kernel", name).exists():
            assert c.exec(f"ls -A /sys/kernel/{name} | wc -l").strip() == "0", name
    assert c.exec("cat /sys/kernel/uevent_seqnum").strip().isdigit()
    host_expedited = Path("/sys/kernel/rcu_expedited").read_text()
    assert c.exec("cat /sys/kernel/rcu_expedited") == host_expedited
    r = c.mgr.shim("exec", c.id, "sh", "-c", "echo 1 > /sys/kernel/rcu_expedited")
    assert r.returncode != 0 and "Permission denied" in r.stderr, r.stderr
    assert Path("/sys/kernel/rcu_expedited").read_text() == host_expedited
    # The host's directory listing: the hidden ones are there only where the host has them.
    names = set(c.exec("ls -A /sys/kernel").split())
    host = {p.name for p in Path("/sys/kernel").iterdir()}
    assert names == host


HASHSIZE = Path("/sys/module/nf_conntrack/parameters/hashsize")


@pytest.mark.skipif(not HASHSIZE.exists(), reason="the host kernel has no nf_conntrack module loaded")
def test_conntrack_hashsize_is_the_containers_own(containers):
    host = HASHSIZE.read_text()
    a = containers.start()
    b = containers.start()
    a.exec(f"echo 131072 > {HASHSIZE}")
    assert a.exec(f"cat {HASHSIZE}") == "131072\n"
    assert b.exec(f"cat {HASHSIZE}") == host
    assert "Invalid argument" in write_error(a, str(HASHSIZE), "0")
    assert "Invalid argument" in write_error(a, str(HASHSIZE), "abc")
    assert a.exec(f"cat {HASHSIZE}") == "131072\n"
    assert HASHSIZE.read_text() == host


CONNTRACK_MAX = Path("/proc/sys/net/netfilter/nf_conntrack_max")
CONNTRACK = "/proc/sys/net/netfilter"


@pytest.mark.skipif(not CONNTRACK_MAX.exists(), reason="the host kernel has no nf_conntrack module loaded")
def test_conntrack_max_is_the_containers_own(containers, host_unchanged):
    # Global in the kernel and read-only (0444) outside the initial network namespace:
    # emulated, with the mode and the bounds (proc_dointvec_minmax, 0..INT_MAX) the
    # initial namespace's root has.
    host = CONNTRACK_MAX.read_text()
    a = containers.start()
    b = containers.start()
    assert a.exec(f"stat -c %a {CONNTRACK_MAX}") == f"{CONNTRACK_MAX.stat().st_mode & 0o777:o}\n"
    mine = min(2 * int(host) + 1, 2**31 - 1)
    a.exec(f"sysctl -w net.netfilter.nf_conntrack_max={mine}")
    assert a.exec(f"cat {CONNTRACK_MAX}") == f"{mine}\n"
    assert b.exec(f"cat {CONNTRACK_MAX}") == host
    for bad in ("-1", "2147483648", "abc", "1x"):
        assert "Invalid argument" in write_error(a, str(CONNTRACK_MAX), bad), bad
    assert a.exec(f"cat {CONNTRACK_MAX}") == f"{mine}\n"
    a.exec(f"echo 2147483647 > {CONNTRACK_MAX}")
    assert a.exec(f"cat {CONNTRACK_MAX}") == "2147483647\n"
    assert CONNTRACK_MAX.read_text() == host


# What kube-proxy's conntrack setup does at start (cmd/kube-proxy/app/conntrack.go):
# nf_conntrack_max when it differs; hashsize when below max/4; the TCP timeouts of
# established and close-wait connections (its defaults: 24 h and 1 h).
KUBE_PROXY_CONNTRACK = f"""
set -e
max=$(( $(nproc) * 32768 ))
[ "$(cat {CONNTRACK}/nf_conntrack_max)" = "$max" ] || echo $max > {CONNTRACK}/nf_conntrack_max
[ "$(cat /sys/module/nf_conntrack/parameters/hashsize)" -ge $((max / 4)) ] \
    || echo $((max / 4)) > /sys/module/nf_conntrack/parameters/hashsize
echo 86400 > {CONNTRACK}/nf_conntrack_tcp_timeout_established
echo 3600 > {CONNTRACK}/nf_conntrack_tcp_timeout_close_wait
cat {CONNTRACK}/nf_conntrack_max /sys/module/nf_conntrack/parameters/hashsize \
    {CONNTRACK}/nf_conntrack_tcp_timeout_established {CONNTRACK}/nf_conntrack_tcp_timeout_close_wait
"""


@pytest.mark.skipif(not CONNTRACK_MAX.exists() or not HASHSIZE.exists(),
                    reason="the host kernel has no nf_conntrack module loaded")
def test_kube_proxy_conntrack_setup(containers, host_unchanged):
    # The two timeouts are per network namespace: the kernel's, in the container's own
    # (kube-proxy runs with CAP_NET_ADMIN: the kernel asks it of whoever writes them).
    a = containers.start(extra_caps=["CAP_NET_ADMIN"])
    b = containers.start()
    before_b = b.exec(f"cat {CONNTRACK}/nf_conntrack_tcp_timeout_established {CONNTRACK}/nf_conntrack_tcp_timeout_close_wait")
    host_hashsize = HASHSIZE.read_text()
    max_, hashsize, established, close_wait = (int(v) for v in a.exec(KUBE_PROXY_CONNTRACK).split())
    assert max_ == int(a.exec("nproc")) * 32768
    assert hashsize == max(int(host_hashsize), max_ // 4)
    assert (established, close_wait) == (86400, 3600)
    assert b.exec(f"cat {CONNTRACK}/nf_conntrack_tcp_timeout_established {CONNTRACK}/nf_conntrack_tcp_timeout_close_wait") == before_b
    assert b.exec(f"cat {CONNTRACK_MAX}") == CONNTRACK_MAX.read_text()
    assert HASHSIZE.read_text() == host_hashsize


def test_pid_namespace_sysctls_are_the_readers_own(daemon, containers):
    """kernel.ns_last_pid is the reader's pid namespace's (issue 11 item 6): the kernel's
    own file is bound back over the /proc/sys view, so the container's read reaches the
    kernel. The view's entry beneath, which the daemon could only answer from its own pid
    namespace (the host's), refuses; the container cannot uncover it."""
    c = containers.start(extra_caps=["CAP_SYS_ADMIN"])
    shell, read = c.exec("sh -c 'echo $$'; cat /proc/sys/kernel/ns_last_pid").split()
    assert int(read) == int(shell) + 1  # cat is the next pid of the container's namespace
    # Its root's to set, as under runc.
    assert c.exec("echo 5000 > /proc/sys/kernel/ns_last_pid; sh -c 'echo $$'") == "5001\n"
    assert c.exec("umount /proc/sys/kernel/ns_last_pid 2>&1; echo rc=$?").endswith("rc=32\n")
    assert int(c.exec("cat /proc/sys/kernel/ns_last_pid")) > 5000
    beneath = daemon.containers_dir / c.id / "proc/sys/kernel/ns_last_pid"
    with pytest.raises(PermissionError):
        beneath.read_text()


def daemon_rss_kib(daemon) -> int:
    status = Path(f"/proc/{daemon.pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))


def test_namespaced_reads_keep_the_daemon_and_its_executors_small(daemon, containers):
    """A namespaced sysctl is read through the container's executor. Each exchange once
    zero-filled a 1 MiB reply buffer, which glibc then kept in the daemon's heap: 2-3 MiB
    more RSS after these reads (STRESS.md, the daemon's RSS plateau); now about 20 KiB."""
    c = containers.start()
    c.exec("cat /proc/meminfo /proc/sys/kernel/panic >/dev/null")  # not namespaced
    before = daemon_rss_kib(daemon)
    lines = c.exec("for i in $(seq 300); do cat /proc/sys/kernel/hostname /proc/sys/net/core/somaxconn; done | wc -l")
    assert lines.strip() == "600"
    growth = daemon_rss_kib(daemon) - before
    assert growth < 512, f"the daemon's RSS grew by {growth} KiB"
    # The executor itself once zero-filled a 1 MiB request buffer: 1.3 MiB of private
    # memory for each executor; now about 0.3 MiB.
    executors = [p for p in Path("/proc").iterdir() if p.name.isdigit() and executor_of(daemon, p)]
    assert executors
    for p in executors:
        anon = int(re.search(r"^RssAnon:\s+(\d+) kB", (p / "status").read_text(), re.M).group(1))
        assert anon < 768, f"executor {p.name}: {anon} KiB of private memory"


def executor_of(daemon, proc: Path) -> bool:
    try:
        ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        return ppid == daemon.pid and b"__ns-executor" in (proc / "cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return False
