"""Fixtures of the parity harness: one ecifs daemon for the session, the corpus run in
fresh containers under both runtimes (a few at a time), and cleanup that runs even when
a test fails: no container, cgroup, mount or daemon is left, and the host's sysctls are
what they were.

$ECIFS_PARITY_KEEP=DIR writes every run's stdout, stderr and exit code to DIR
(WORKLOAD.RUNTIME.{out,err,exit}) and the daemon's log to DIR/ecifs.log, for a closer look.

Options: --quick (the quick subset), --jobs N (containers at a time, default 4, or
$ECIFS_PARITY_JOBS), --baseline (plain runc against plain runc: shows what differs
between two runs of the same runtime, i.e. what a rule must cover that is not ecifs's).
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import parity  # noqa: E402
from workloads import WORKLOADS, WRITTEN_SYSCTLS  # noqa: E402

it = parity.it
SELECTED = pytest.StashKey[list]()


def pytest_addoption(parser):
    g = parser.getgroup("parity")
    g.addoption("--quick", action="store_true", help="run only the workloads marked quick")
    g.addoption("--jobs", type=int, default=int(os.environ.get("ECIFS_PARITY_JOBS", "4")),
                help="containers run at a time (default 4)")
    g.addoption("--baseline", action="store_true",
                help="plain runc against plain runc (what varies between two runs of one runtime)")


def corpus(config) -> list:
    return [w for w in WORKLOADS if w.quick or not config.getoption("quick")]


def pytest_generate_tests(metafunc):
    if "workload" in metafunc.fixturenames:
        ws = corpus(metafunc.config)
        metafunc.parametrize("workload", ws, ids=[w.name for w in ws])


def pytest_configure(config):
    # timeout(1) and CI stop a run with SIGTERM: make it an interrupt, so that pytest
    # tears the session down (containers, daemon, mounts) instead of dying.
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupt)


def pytest_collection_modifyitems(config, items):
    bugs = {} if config.getoption("baseline") else parity.load_known_bugs()
    for item in items:
        w = item.callspec.params.get("workload") if hasattr(item, "callspec") else None
        if w is not None and w.name in bugs:
            item.add_marker(pytest.mark.xfail(strict=True, reason=bugs[w.name]))


def pytest_collection_finish(session):
    """The workloads of the tests that will run (after -k and --deselect)."""
    selected = []
    for item in session.items:
        w = item.callspec.params.get("workload") if hasattr(item, "callspec") else None
        if w is not None:
            selected.append(w)
    session.config.stash[SELECTED] = selected


def host_sysctls() -> dict:
    values = {}
    for key in WRITTEN_SYSCTLS:
        try:
            values[key] = Path("/proc/sys", key.replace(".", "/")).read_text()
        except OSError as e:
            values[key] = f"<{e.strerror}>"
    values["hostname"] = os.uname().nodename
    hashsize = Path("/sys/module/nf_conntrack/parameters/hashsize")  # sys-hashsize writes it
    if hashsize.exists():
        values["nf_conntrack hashsize"] = hashsize.read_text()
    return values


class Session:
    """The selected workloads, each run once per runtime; run all at once on first use."""

    def __init__(self, runner: parity.Runner, workloads: list, jobs: int, baseline: bool, host_before: dict):
        self.runner = runner
        self.host_before = host_before  # the host's sysctls at the start
        self.workloads = workloads
        self.jobs = max(1, jobs)
        self.runtimes = ("runc", "runc") if baseline else parity.RUNTIMES
        self.rules = parity.load_rules()
        self.results: dict = {}
        self.failure: BaseException | None = None
        self.ran = False
        self.wall = 0.0
        self._lock = threading.Lock()

    def run_pairs(self, workloads: list, keep: bool = True) -> list:
        """[(Outcome under the first runtime, under the second)] in the order given; both
        runs of a workload are submitted together."""
        pool = ThreadPoolExecutor(self.jobs)
        try:
            futures = [(pool.submit(self.runner.run, w, self.runtimes[0], keep),
                        pool.submit(self.runner.run, w, self.runtimes[1], keep)) for w in workloads]
            return [(a.result(), b.result()) for a, b in futures]
        finally:
            # On an interrupt, runs not yet started are dropped; the running ones end
            # within their timeout.
            pool.shutdown(wait=True, cancel_futures=True)

    def run_all(self) -> None:
        with self._lock:
            if not self.ran:
                self.ran = True  # once: a harness failure is not retried by every test
                t0 = time.monotonic()
                try:
                    pairs = self.run_pairs(self.workloads)
                    self.results = {w.name: pair for w, pair in zip(self.workloads, pairs)}
                except Exception as e:
                    self.failure = e
                self.wall = time.monotonic() - t0
        if self.failure is not None:
            raise RuntimeError(f"the parity run failed: {self.failure!r}") from self.failure

    def outcomes(self, w) -> tuple:
        self.run_all()
        return self.results[w.name]


TIMING = pytest.StashKey[tuple]()
DAEMON_LOG = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def parity_session(request):
    baseline = request.config.getoption("baseline")
    missing = [str(p) for p in (it.ECIFS, it.ECIFSCTL, it.ECIFS_RUNC) if not os.access(p, os.X_OK)]
    if missing and not baseline:
        pytest.fail(f"ecifs binaries missing (ECIFS_BIN_DIR={it.BIN_DIR}): {missing}; build with "
                    "scripts/build.sh", pytrace=False)
    base = Path(tempfile.mkdtemp(prefix=parity.BASE_PREFIX, dir="/tmp"))
    os.chmod(base, 0o755)
    (base / parity.OWNER_FILE).write_text(f"{os.getpid()}\n")
    before = host_sysctls()
    daemon = it.Daemon(base)
    mgr = it.Containers(base, daemon.socket, daemon)
    session = None
    keep = os.environ.get("ECIFS_PARITY_KEEP")
    try:
        if not baseline:
            daemon.start(log_level="info")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
        runner = parity.Runner(mgr, parity.build_payload(base / "payload"), Path(keep) if keep else None)
        cfg = request.config
        session = Session(runner, cfg.stash.get(SELECTED, []), cfg.getoption("jobs"), baseline, before)
        yield session
    finally:
        request.config.stash[DAEMON_LOG] = daemon.log_tail(60) if daemon.proc is not None else ""
        if keep and daemon.log_path.exists():
            shutil.copyfile(daemon.log_path, Path(keep) / "ecifs.log")
        problems = teardown(base, daemon, mgr, before)
        if session is not None and session.results:
            request.config.stash[TIMING] = (len(session.workloads), session.jobs, session.wall,
                                            sorted((o for pair in session.results.values() for o in pair),
                                                   key=lambda o: -o.seconds)[:5])
        assert not problems, "parity cleanup: " + "; ".join(problems)


def teardown(base: Path, daemon, mgr, host_before: dict) -> list[str]:
    """Every step runs even if one before it failed; returns what was wrong."""
    problems: list[str] = []

    def attempt(what: str, fn) -> None:
        try:
            problems.extend(fn() or [])
        except Exception as e:  # noqa: BLE001 -- keep cleaning
            problems.append(f"{what}: {e!r}")

    attempt("deleting the containers", mgr.cleanup)
    attempt("stopping the daemon", daemon.cleanup)

    def mounts() -> list[str]:
        left = it.mounts_under(base)
        return [f"mounts left under {base}: {left}"] if left else []

    def cgroups() -> list[str]:
        left = it.cgroup_dirs(it.NAME_PREFIX)
        for p in left:
            it.remove_cgroup_tree(p)
        return [f"cgroups left: {[str(p) for p in left]}"] if left else []

    def host() -> list[str]:
        after = host_sysctls()
        changed = {k: (v, after.get(k)) for k, v in host_before.items() if after.get(k) != v}
        return [f"the host's sysctls changed (before, after): {changed}"] if changed else []

    attempt("mounts", mounts)
    attempt("cgroups", cgroups)
    attempt("the host's sysctls", host)
    attempt("removing the session directory", lambda: it.safe_rmtree(base))
    return problems


def pytest_terminal_summary(terminalreporter, config):
    timing = config.stash.get(TIMING, None)
    if timing:
        count, jobs, wall, slowest = timing
        terminalreporter.write_line(
            f"parity: {count} workloads x 2 runtimes in {wall:.0f}s ({jobs} at a time); slowest runs: "
            + ", ".join(f"{o.workload} ({o.runtime}) {o.seconds:.1f}s" for o in slowest))
    log = config.stash.get(DAEMON_LOG, "")
    if log and (terminalreporter.stats.get("failed") or terminalreporter.stats.get("error")):
        terminalreporter.write_sep("-", "the ecifs daemon's last log lines")
        terminalreporter.write_line(log)
