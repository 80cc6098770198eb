"""Issue 11, item 5: a container that makes its reads fail as fast as it can does not
grow the daemon's log without bound, even at --log-level debug, and its neighbour's
lines still reach the log. The same flood first found a crash: a READ replied under
its handle's lock, and the RELEASE that followed freed that lock (fs/operations.cpp)."""
from __future__ import annotations

from conftest import MiB, assert_daemon_serves, build_probe, install

READS = 20_000
# An unset stable_secret fails every read (EIO) in the caller's network namespace, to
# whoever may open it (CAP_NET_ADMIN there).
FAILING = "/proc/sys/net/ipv6/conf/lo/stable_secret"


def test_twenty_thousand_failing_reads_grow_the_log_little(make_daemon, work_dir):
    from conftest import integration

    daemon = make_daemon(log_level="debug")
    containers = integration.Containers(work_dir, daemon.socket, daemon)
    try:
        flooder = containers.start(memory=256 * MiB, extra_caps=["CAP_NET_ADMIN"])
        neighbour = containers.start(memory=256 * MiB, extra_caps=["CAP_NET_ADMIN"])
        probe = install(flooder, build_probe(work_dir, "read_flood"))
        before = daemon.log_path.stat().st_size
        out = flooder.exec(f"{probe} {FAILING} {READS}", timeout=300)
        assert out.startswith(f"{READS} of {READS} failed (Input/output error)"), out
        neighbour.exec(f"cat {FAILING} || true")
        grown = daemon.log_path.stat().st_size - before
        print(f"daemon log grew {grown} bytes for {READS} failing reads at --log-level debug")
        assert grown <= 1 * MiB
        log = daemon.log_tail(400)
        assert f"container {neighbour.id}: reading inode" in log, "the neighbour's line is not logged"
        assert_daemon_serves(daemon)
    finally:
        problems = containers.cleanup()
        assert not problems, "; ".join(problems)
