#!/usr/bin/python3
"""Stress workloads for ecifs through real runc containers (issue 13; STRESS.md).

    stress.py [WORKLOAD ...] [--quick] [--containers N] [--threads T] [--duration S]
              [--concurrency C] [--kills K] [--levels L] [--soak DURATION]
              [--json FILE] [--plot FILE.png]

WORKLOAD: churn readers sysctl-storm trap-storm oom nested restart mixed all
(default: all). Each workload gets its own daemon; it prints its figures and a
verdict, and the run ends with a table and one verdict line (PASS or FAIL).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import re
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

import harness
from harness import it
from workloads import DEFAULTS, QUICK, WORKLOADS

ALL = list(WORKLOADS)


def duration(text: str) -> float:
    """"90", "90s", "30m", "2h" -> seconds."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r}")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="stress.sh", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workloads", nargs="*", metavar="WORKLOAD", help="default: all")
    p.add_argument("--quick", action="store_true", help="every workload at small sizes (< 3 min on 2 cores)")
    p.add_argument("--containers", type=int, help="containers per workload (churn: in all)")
    p.add_argument("--threads", type=int, help="threads per container")
    p.add_argument("--duration", type=duration, help="seconds per workload (not churn)")
    p.add_argument("--concurrency", type=int, default=4, help="churn: containers at a time (4)")
    p.add_argument("--kills", type=int, default=3, help="restart: daemon SIGKILLs (3)")
    p.add_argument("--levels", type=int, default=3, help="nested: namespace levels (3)")
    p.add_argument("--soak", type=duration, metavar="DURATION",
                   help="run mixed for DURATION (e.g. 30m), figures every minute")
    p.add_argument("--json", type=Path, metavar="FILE", help="write every figure as JSON")
    p.add_argument("--plot", type=Path, metavar="FILE.png", help="latency and daemon RSS over time")
    a = p.parse_args(argv)
    names = a.workloads or ["all"]
    if a.soak:
        names = ["mixed"]
    for n in names:
        if n != "all" and n not in WORKLOADS:
            p.error(f"unknown workload {n!r} (one of: {' '.join(ALL)} all)")
    a.names = ALL if "all" in names else names
    if a.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            p.error("--plot needs matplotlib: apt-get install python3-matplotlib (scripts/setup.sh does)")
    if a.quick:
        a.concurrency = min(a.concurrency, 3)
        a.kills = min(a.kills, 2)
        a.levels = min(a.levels, 2)
    return a


def sizes(a: argparse.Namespace, name: str) -> argparse.Namespace:
    s = copy.copy(a)
    containers, threads, secs = (QUICK if a.quick else DEFAULTS)[name]
    s.containers = a.containers or containers
    s.threads = a.threads or threads
    s.duration = a.soak or a.duration or secs
    return s


def mib(n: int) -> str:
    return f"{n / it.MiB:.1f}"


def print_report(r: dict) -> None:
    print(f"\n== {r['workload']}: {r['seconds']} s, {r['ops']} operations ({r['ops_per_s']:.1f}/s), "
          f"{r['errors']} errors ({r['errors_per_s']:.2f}/s)")
    print(f"  {'operation':44} {'ok':>8} {'expected':>8} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, o in r["per_op"].items():
        print(f"  {name[:44]:44} {o['ok']:>8} {o['expected']:>8} {o['errors']:>6} "
              f"{o['p50_ms']:>8.2f} {o['p99_ms']:>8.2f} {o['max_ms']:>8.1f}")
        for m in o["messages"]:
            print(f"      error: {m}")
    d = r["daemon"]
    print(f"  daemon    {'RSS MiB':>8} {'fds':>5} {'threads':>7} {'helpers':>7}")
    for when in ("before", "peak", "after"):
        f = d.get(when) or {}
        if f:
            print(f"  {when:9} {mib(f['rss']):>8} {f['fds']:>5} {f['threads']:>7} {f['helpers']:>7}")
    print(f"  leftovers: {len(r['leftovers'])}")
    for x in r["leftovers"]:
        print(f"    {x}")
    for n in r["notes"]:
        print(f"  note: {n}")
    print(f"  verdict: {r['verdict']}" + (f" ({'; '.join(r['problems'])})" if r["problems"] else ""))


def print_table(reports: list[dict]) -> None:
    print(f"\n{'workload':14} {'s':>6} {'ops':>8} {'ops/s':>8} {'errors':>6} {'p99 ms':>8} {'max ms':>8} "
          f"{'RSS MiB b/peak/a':>18} {'fds b/p/a':>12} {'left':>4}  verdict")
    for r in reports:
        p99 = max((o["p99_ms"] for o in r["per_op"].values()), default=0.0)
        mx = max((o["max_ms"] for o in r["per_op"].values()), default=0.0)
        d = [r["daemon"].get(k) or {} for k in ("before", "peak", "after")]
        rss = "/".join(mib(f["rss"]) if f else "-" for f in d)
        fds = "/".join(str(f["fds"]) if f else "-" for f in d)
        print(f"{r['workload']:14} {r['seconds']:>6} {r['ops']:>8} {r['ops_per_s']:>8.1f} {r['errors']:>6} "
              f"{p99:>8.1f} {mx:>8.1f} {rss:>18} {fds:>12} {len(r['leftovers']):>4}  {r['verdict']}")


def plot(reports: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (lat, rss) = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    offset = 0.0
    for i, r in enumerate(reports):
        t = [offset + s["t"] for s in r["samples"]]
        color = f"C{i % 10}"  # one colour per workload, its p50 dotted
        lat.plot(t, [s["p99"] * 1e3 for s in r["samples"]], color=color, label=f"{r['workload']} p99")
        lat.plot(t, [s["p50"] * 1e3 for s in r["samples"]], color=color, linestyle=":", label=f"{r['workload']} p50")
        rss.plot(t, [(s["daemon"] or {}).get("rss", float("nan")) / it.MiB for s in r["samples"]],
                 color=color, label=r["workload"])
        offset = t[-1] if t else offset
    lat.set_ylabel("latency per window (ms)")
    lat.set_yscale("log")
    rss.set_ylabel("daemon RSS (MiB)")
    rss.set_xlabel("seconds")
    lat.legend(fontsize="x-small", ncol=4)
    rss.legend(fontsize="x-small", ncol=4)
    fig.tight_layout()
    fig.savefig(path)


def soak_line(run, s: dict) -> None:
    if len(run.samples) % 60 == 0:
        d = s["daemon"] or {}
        print(f"  [{s['t'] / 60:.0f} min] ops {s['ops']} errors {s['errors']} p50 {s['p50'] * 1e3:.2f} ms "
              f"p99 {s['p99'] * 1e3:.2f} ms RSS {mib(d.get('rss', 0))} MiB fds {d.get('fds')} "
              f"threads {d.get('threads')} helpers {d.get('helpers')}", flush=True)


def run_one(work: Path, name: str, a: argparse.Namespace) -> dict:
    s = sizes(a, name)
    print(f"\n-- {name}: containers={s.containers} threads={s.threads} duration={s.duration:g}s"
          + (f" concurrency={s.concurrency}" if name == "churn" else ""), flush=True)
    run = harness.Run(work, name)
    try:
        run.warm_up()
        run.start_sampling(1.0, soak_line if a.soak else None)
        WORKLOADS[name](run, s)
    except Exception as e:  # noqa: BLE001 - a failed workload is a figure too
        run.stats.add("workload", 0.0, "errors", f"{type(e).__name__}: {e}")
        traceback.print_exc()
    finally:
        report = run.finish()
    if report["errors"] or report["verdict"] != "PASS":
        report["daemon_log_tail"] = run.daemon.log_tail(40)
    return report


def main(argv: list[str]) -> int:
    a = parse(argv)
    if os.geteuid() != 0:
        print("stress.py: must run as root", file=sys.stderr)
        return 2

    def on_signal(signum, _frame):
        # Once: a second Ctrl-C must not break the cleanup the first one started.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    work = Path(tempfile.mkdtemp(prefix="ecifs-stress-", dir="/tmp"))
    os.chmod(work, 0o755)
    reports: list[dict] = []
    started = time.monotonic()
    interrupted = False
    try:
        for name in a.names:
            r = run_one(work, name, a)
            reports.append(r)
            print_report(r)
    except KeyboardInterrupt as e:
        interrupted = True
        print(f"\nstress.py: interrupted ({e}); cleaned up", file=sys.stderr)
    finally:
        for run in harness.ACTIVE:  # a run whose own cleanup was cut short
            run.abandon()
        left = it.mounts_under(work)
        cgs = it.cgroup_dirs(it.NAME_PREFIX)
        for p in cgs:
            it.remove_cgroup_tree(p)
        it.safe_rmtree(work)
    wall = time.monotonic() - started
    print_table(reports)
    problems = [f"{r['workload']}: {'; '.join(r['problems'])}" for r in reports if r["verdict"] != "PASS"]
    if left or cgs:
        problems.append(f"left at the end: mounts {left} cgroups {[str(p) for p in cgs]}")
    if interrupted:
        problems.append("interrupted")
    verdict = "PASS" if not problems and reports else "FAIL"
    if a.json:
        a.json.write_text(json.dumps({"verdict": verdict, "problems": problems, "wall_seconds": wall,
                                      "quick": a.quick, "workloads": reports}, indent=1))
    if a.plot and reports:
        plot(reports, a.plot)
    print(f"\nstress: {verdict} ({len(reports)} workloads, {wall:.0f} s)"
          + (f": {' | '.join(problems)}" if problems else ""))
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
