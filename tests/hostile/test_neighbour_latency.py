"""Issue 11, item 4: a container that floods the views with 16 reader threads slows
itself, not its neighbour. The neighbour's meminfo reads are timed idle and during the
flood, in one run (timings on this 2-core VM are noisy: only the ratio is compared)."""
from __future__ import annotations

import threading
import time

from conftest import MiB, assert_daemon_serves, build_probe, install, wait_for

THREADS = 16
READS = 2000
ROUNDS = 3
# What a flood can reach: rendered files, a namespaced sysctl (an executor exchange each),
# and a sysfs view.
FLOOD_FILES = ["/proc/meminfo", "/proc/stat", "/proc/loadavg", "/proc/uptime", "/proc/cpuinfo",
               "/proc/sys/kernel/hostname", "/proc/sys/net/core/somaxconn", "/sys/devices/system/cpu/online"]


def median_us(c, probe: str) -> float:
    out = c.exec(f"{probe} measure /proc/meminfo {READS}", timeout=120)
    fields = dict(f.split("=") for f in out.split())
    assert fields["failed"] == "0", out
    return float(fields["median_us"])


def flood_round(flooder, neighbour, probe: str, flood_probe: str, round_no: int) -> tuple[float, float, dict]:
    """The neighbour's median idle, then during a flood that runs until it is measured."""
    idle = median_us(neighbour, probe)
    stop = flooder.bundle / "rootfs" / "tmp" / f"stop-flood-{round_no}"  # the flooder's /tmp
    flood_out: list[str] = []
    flood = threading.Thread(target=lambda: flood_out.append(flooder.exec(
        f"{flood_probe} flood /tmp/{stop.name} {THREADS} {' '.join(FLOOD_FILES)}", timeout=120)))
    flood.start()
    try:
        assert wait_for(lambda: stop.with_suffix(".ready").exists() or not flood.is_alive(), 60)
        time.sleep(0.5)  # the flood's threads are all reading
        during = median_us(neighbour, probe)
    finally:
        stop.touch()
        flood.join(150)
    assert flood_out, "the flood did not finish"
    reads = dict(f.split("=") for f in flood_out[0].split())
    assert reads["failed"] == "0", flood_out[0]
    assert int(reads["reads"]) > READS, f"the flood ended before the neighbour's reads: {flood_out[0]}"
    return idle, during, reads


def test_a_flood_slows_the_flooder_not_its_neighbour(daemon, containers, work_dir):
    flooder = containers.start(memory=256 * MiB)
    neighbour = containers.start(memory=256 * MiB)
    binary = build_probe(work_dir, "read_latency")
    probe, flood_probe = install(neighbour, binary), install(flooder, binary)
    ratios = []
    for round_no in range(ROUNDS):
        idle, during, reads = flood_round(flooder, neighbour, probe, flood_probe, round_no)
        ratios.append(during / idle)
        print(f"round {round_no + 1}: neighbour's meminfo median idle {idle:.0f} us, during a {THREADS}-thread "
              f"flood {during:.0f} us ({during / idle:.2f}x); the flood read {reads['reads']} times")
    # A busy machine can slow one round's reads for reasons of its own (timings are
    # noisy here): the flood's own effect shows in every round, so the best one counts.
    print(f"neighbour during a flood / idle: {', '.join(f'{r:.2f}x' for r in ratios)}; best {min(ratios):.2f}x")
    assert min(ratios) <= 3
    assert_daemon_serves(daemon)
