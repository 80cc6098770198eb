"""The parity harness: run a workload in a fresh container under plain runc and under
ecifs-runc with the same config.json, normalise what ecifs means to change (rules.txt),
compare exit code, stdout and stderr.

The containers, bundles and daemon come from the integration tests' helpers
(tests/integration/conftest.py and ecifs_bundle.py), imported, not copied.
"""
from __future__ import annotations

import difflib
import fnmatch
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
INTEGRATION = HERE.parent / "integration"
RULES_FILE = HERE / "rules.txt"
KNOWN_BUGS_FILE = HERE / "known_bugs.txt"
PAYLOAD = HERE / "payload"
BASE_PREFIX = "ecifs-parity-"  # the session's directory: /tmp/ecifs-parity-XXXXXXXX
OWNER_FILE = "session.pid"      # in it: the pid of the pytest process that made it


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# The integration tests' conftest, under a name of its own (pytest has this directory's
# conftest as "conftest"): Daemon, Containers, new_name, mount and cgroup helpers.
it = _load("ecifs_integration_conftest", INTEGRATION / "conftest.py")
ecifs_bundle = it.ecifs_bundle


def _compile_moby_profile():
    """test_trapper.compile_moby_profile (Docker's default profile compiled as Docker
    does for a container's capabilities); test_trapper imports `conftest`, which must be
    the integration one while it loads."""
    saved = sys.modules.get("conftest")
    sys.modules["conftest"] = it
    try:
        trapper = _load("ecifs_integration_test_trapper", INTEGRATION / "test_trapper.py")
    finally:
        if saved is not None:
            sys.modules["conftest"] = saved
        else:
            del sys.modules["conftest"]
    return trapper.compile_moby_profile


compile_moby_profile = _compile_moby_profile()

RUNTIMES = ("runc", "ecifs-runc")
MEMORY_LIMIT = 256 * it.MiB
CPUS = 1.0
HOSTNAME = "parity"
PAYLOAD_IN_CONTAINER = "/parity"


# ---------------------------------------------------------------------------------
# configurations: the same config.json for both runtimes

# Docker's defaults (moby oci/defaults.go): capabilities are make_config's default list.
DOCKER_MASKED = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                 "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                 "/sys/firmware", "/sys/devices/virtual/powercap"]
DOCKER_READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
# Every capability runc 1.1 knows (the kernel's 0..40), for a "system container":
# root of its own user namespace with all of them there.
ALL_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
            "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
            "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
            "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
            "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
            "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
            "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
            "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
            "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"]


def _common(cfg: dict, payload_dir: Path) -> None:
    cfg["hostname"] = HOSTNAME
    linux = cfg["linux"]
    # A cgroup namespace, as Docker gives on cgroup v2: the container's cgroup paths
    # (which name the container id) do not show in /proc/self/cgroup.
    linux["namespaces"].append({"type": "cgroup"})
    cfg["mounts"].append({"destination": PAYLOAD_IN_CONTAINER, "type": "bind", "source": str(payload_dir),
                          "options": ["rbind", "ro", "nosuid", "nodev"]})


def docker_config(cfg: dict, payload_dir: Path) -> None:
    """`docker run` with userns-remap: Docker's capabilities, masked and read-only
    paths, default seccomp profile and read-only cgroup mount."""
    _common(cfg, payload_dir)
    linux = cfg["linux"]
    linux["maskedPaths"] = list(DOCKER_MASKED)
    linux["readonlyPaths"] = list(DOCKER_READONLY)
    linux["seccomp"] = compile_moby_profile(cfg["process"]["capabilities"]["bounding"])
    cfg["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                          "options": ["ro", "nosuid", "noexec", "nodev", "relatime"]})


def system_config(cfg: dict, payload_dir: Path) -> None:
    """A "system container": every capability inside its user namespace, no masked or
    read-only paths, no seccomp profile of its own (ecifs-runc adds its trap rules)."""
    _common(cfg, payload_dir)
    cfg["process"]["capabilities"] = {k: list(ALL_CAPS) for k in ("bounding", "effective", "permitted")}
    cfg["linux"]["maskedPaths"] = []
    cfg["linux"]["readonlyPaths"] = []


def system_masked_config(cfg: dict, payload_dir: Path) -> None:
    """A system container that keeps Docker's masked and read-only paths."""
    system_config(cfg, payload_dir)
    cfg["linux"]["maskedPaths"] = list(DOCKER_MASKED)
    cfg["linux"]["readonlyPaths"] = list(DOCKER_READONLY)


CONFIGS = {"docker": docker_config, "system": system_config, "system-masked": system_masked_config}


# ---------------------------------------------------------------------------------
# workloads


@dataclass(frozen=True)
class Workload:
    name: str
    script: str             # run as `sh -c SCRIPT` as the container's process
    config: str = "docker"  # a key of CONFIGS
    quick: bool = False     # part of the --quick subset
    timeout: float = 60

    def __post_init__(self):
        assert re.fullmatch(r"[a-z0-9][a-z0-9.-]*", self.name), f"bad workload name {self.name!r}"
        assert self.config in CONFIGS, f"{self.name}: unknown config {self.config!r}"


# ---------------------------------------------------------------------------------
# rules

STREAMS = ("exit", "stdout", "stderr")
NUMBER = re.compile(r"\d+(?:\.\d+)?")
SIDES = {"both": RUNTIMES, "runc": ("runc",), "ecifs": ("ecifs-runc",)}


class RulesError(ValueError):
    pass


@dataclass
class Rule:
    """NAME SIDE STREAMS WORKLOADS s<d>REGEX<d>REPLACEMENT<d>[FLAGS] -- REASON

    FLAGS: s (DOTALL); n (within each match every number becomes REPLACEMENT); w (within
    each match every blank goes: the padding of columns sized to their widest figure)."""
    name: str
    sides: tuple
    streams: tuple
    workloads: tuple
    pattern: re.Pattern
    replacement: str
    reason: str
    line: int
    flags: str = ""
    uses: int = 0  # substitutions made so far (test_every_rule_is_used)

    def applies(self, workload: str, runtime: str, stream: str) -> bool:
        return (runtime in self.sides and stream in self.streams
                and any(fnmatch.fnmatchcase(workload, g) for g in self.workloads))

    def apply(self, text: str) -> str:
        if "n" in self.flags or "w" in self.flags:
            out, n = self.pattern.subn(self._each, text)
        else:
            out, n = self.pattern.subn(self.replacement, text)
        self.uses += n
        return out

    def _each(self, m: re.Match) -> str:
        """Flags n and w: within the match, every number becomes REPLACEMENT (n), then
        every blank goes (w); the rest of the match stays."""
        text = m.group(0)
        if "n" in self.flags:
            text = NUMBER.sub(lambda _: self.replacement, text)
        if "w" in self.flags:
            text = re.sub(r"[ \t]+", "", text)
        return text


def _split_substitution(text: str, where: str) -> tuple[str, str, str, str]:
    """s<d>REGEX<d>REPL<d>FLAGS rest -> (regex, repl, flags, rest)."""
    if len(text) < 4 or text[0] != "s":
        raise RulesError(f"{where}: expected s<d>REGEX<d>REPLACEMENT<d>, got {text[:30]!r}")
    d = text[1]
    parts = text[2:].split(d, 2)
    if len(parts) != 3:
        raise RulesError(f"{where}: the substitution needs three '{d}' delimiters")
    regex, repl, tail = parts
    flags, _, rest = tail.partition(" ")
    return regex, repl, flags, rest.strip()


def parse_rules(text: str, source: str = "rules.txt") -> list[Rule]:
    rules, names = [], set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}:{number}"
        fields = line.split(None, 4)
        if len(fields) != 5:
            raise RulesError(f"{where}: expected NAME SIDE STREAMS WORKLOADS s/REGEX/REPL/ -- REASON")
        name, side, streams, workloads, rest = fields
        if name in names:
            raise RulesError(f"{where}: rule {name} defined twice")
        names.add(name)
        if side not in SIDES:
            raise RulesError(f"{where}: side must be one of {sorted(SIDES)}, not {side!r}")
        stream_list = tuple(streams.split(","))
        if not set(stream_list) <= set(STREAMS):
            raise RulesError(f"{where}: streams must be among {STREAMS}, not {streams!r}")
        regex, repl, flags, rest = _split_substitution(rest, where)
        if not rest.startswith("--") or not rest[2:].strip():
            raise RulesError(f"{where}: every rule ends with '-- REASON'")
        re_flags = re.MULTILINE
        for f in flags:
            if f == "s":
                re_flags |= re.DOTALL
            elif f not in "nw":
                raise RulesError(f"{where}: unknown flag {f!r} (known: s, n, w)")
        try:
            pattern = re.compile(regex, re_flags)
        except re.error as e:
            raise RulesError(f"{where}: bad regex {regex!r}: {e}") from None
        rules.append(Rule(name, SIDES[side], stream_list, tuple(workloads.split(",")), pattern,
                          repl, rest[2:].strip(), number, flags=flags))
    return rules


def load_rules() -> list[Rule]:
    return parse_rules(RULES_FILE.read_text(), RULES_FILE.name)


def parse_known_bugs(text: str, source: str = "known_bugs.txt") -> dict[str, str]:
    """WORKLOAD ITEMS -- WHAT DIFFERS  ->  {workload: "ITEMS: WHAT DIFFERS"}

    ITEMS: comma-separated, each ISSUE.ITEM (e.g. 9.1: issue 9, item 1) or new:NAME (a
    difference found by this harness that no issue names yet; README.md of the harness
    lists them)."""
    bugs = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"(\S+)\s+(\S+)\s+--\s+(.+)", line)
        if not m:
            raise RulesError(f"{source}:{number}: expected WORKLOAD ITEMS -- WHAT DIFFERS")
        name, items, what = m.groups()
        if name in bugs:
            raise RulesError(f"{source}:{number}: {name} listed twice")
        names = []
        for item in items.split(","):
            if re.fullmatch(r"\d+\.\d+", item):
                issue, n = item.split(".")
                names.append(f"issue {issue} item {n}")
            elif re.fullmatch(r"new:[a-z0-9-]+", item):
                names.append(item)
            else:
                raise RulesError(f"{source}:{number}: item {item!r} is neither ISSUE.ITEM nor new:NAME")
        bugs[name] = f"{', '.join(names)}: {what}"
    return bugs


def load_known_bugs() -> dict[str, str]:
    return parse_known_bugs(KNOWN_BUGS_FILE.read_text(), KNOWN_BUGS_FILE.name)


# ---------------------------------------------------------------------------------
# outcomes and comparison


@dataclass
class Outcome:
    runtime: str
    container_id: str
    exit: str      # the exit code, or "timeout"
    stdout: str
    stderr: str
    seconds: float
    config_json: str = field(repr=False, default="")  # as written, before the runtime saw it
    workload: str = ""

    def stream(self, name: str) -> str:
        return {"exit": self.exit, "stdout": self.stdout, "stderr": self.stderr}[name]


def normalise(rules: list[Rule], workload: str, o: Outcome, applied: set | None = None) -> str:
    """The text compared: each stream with the rules that apply to it (the names of the
    rules that changed something are added to `applied`)."""
    parts = []
    for stream in STREAMS:
        text = o.stream(stream)
        for r in rules:
            if r.applies(workload, o.runtime, stream):
                before = r.uses
                text = r.apply(text)
                if applied is not None and r.uses != before:
                    applied.add(r.name)
        parts.append(f"--- {stream}\n{text}" + ("" if text.endswith("\n") or not text else "\n"))
    return "".join(parts)


def _raw(o: Outcome, limit: int = 150) -> str:
    out = [f"exit: {o.exit}   ({o.seconds:.1f}s, container {o.container_id})"]
    for stream in ("stdout", "stderr"):
        lines = o.stream(stream).splitlines()
        out.append(f"--- {stream} ({len(lines)} lines)")
        out += lines[:limit]
        if len(lines) > limit:
            out.append(f"... {len(lines) - limit} more lines")
    return "\n".join(out)


def compare(rules: list[Rule], w: Workload, a: Outcome, b: Outcome) -> str | None:
    """None if the normalised outcomes are equal; else a report naming the workload
    with a unified diff of the normalised texts and both raw outputs."""
    applied: set = set()
    na, nb = normalise(rules, w.name, a, applied), normalise(rules, w.name, b, applied)
    if na == nb:
        return None
    diff = "".join(difflib.unified_diff(na.splitlines(True), nb.splitlines(True),
                                        f"{a.runtime} (normalised)", f"{b.runtime} (normalised)", n=2))
    names = ", ".join(r.name for r in rules if r.name in applied) or "none"
    return (f"workload {w.name!r} differs between {a.runtime} and {b.runtime}\n"
            f"config: {w.config}\nscript: {w.script}\nrules that changed something: {names}\n\n"
            f"{diff}\n"
            f"=== {a.runtime}, raw\n{_raw(a)}\n\n=== {b.runtime}, raw\n{_raw(b)}\n")


# ---------------------------------------------------------------------------------
# running


class Runner:
    """Runs workloads in fresh containers (`RUNTIME run`, foreground, one per run)
    through an integration-test Containers manager (its --root, names, cleanup)."""

    def __init__(self, mgr, payload_dir: Path, keep_dir: Path | None = None):
        self.mgr = mgr
        self.payload_dir = payload_dir
        self.keep_dir = keep_dir  # if set, every outcome is written there too

    def bundle(self, w: Workload, cid: str) -> Path:
        edit = CONFIGS[w.config]
        return self.mgr.make_bundle(cid, memory=MEMORY_LIMIT, cpus=CPUS, args=["sh", "-c", w.script],
                                    edit_config=lambda cfg: edit(cfg, self.payload_dir))

    def command(self, runtime: str) -> list[str]:
        binary = str(self.mgr.bin_dir / "ecifs-runc") if runtime == "ecifs-runc" else "runc"
        return [binary, "--root", str(self.mgr.root)]

    def run(self, w: Workload, runtime: str, keep: bool = True) -> Outcome:
        cid = it.new_name("p")
        self.mgr.ids.append(cid)
        bundle = self.bundle(w, cid)
        config_json = (bundle / "config.json").read_text()
        t0 = time.monotonic()
        try:
            r = subprocess.run([*self.command(runtime), "run", "-b", str(bundle), cid],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=w.timeout,
                               env=self.mgr.env())
            exit_, out, err = str(r.returncode), r.stdout, r.stderr
        except subprocess.TimeoutExpired as e:
            exit_, out, err = "timeout", e.stdout or b"", e.stderr or b""
        seconds = time.monotonic() - t0
        self.remove(cid)
        it.safe_rmtree(bundle)
        o = Outcome(runtime, cid, exit_, out.decode(errors="replace"), err.decode(errors="replace"),
                    seconds, config_json, w.name)
        if keep and self.keep_dir is not None:
            self.keep(w, o)
        return o

    def keep(self, w: Workload, o: Outcome) -> None:
        stem = self.keep_dir / f"{w.name}.{o.runtime}"
        Path(f"{stem}.out").write_text(o.stdout)
        Path(f"{stem}.err").write_text(o.stderr)
        Path(f"{stem}.exit").write_text(o.exit + "\n")

    def remove(self, cid: str) -> None:
        """A foreground `run` deletes its container when the process exits; after a
        timeout it is still there. (`state`, not `list`: a list fails when another
        run's container goes away while it looks.)"""
        if self.mgr.runc("state", cid).returncode == 0:
            self.mgr.runc("kill", cid, "KILL")
            self.mgr.shim("delete", "-f", cid, timeout=30)


def same_config(a: Outcome, b: Outcome) -> str | None:
    """Both runtimes must have been given the same config.json (up to the container id
    in cgroupsPath): the comparison is fair only then."""
    ta = a.config_json.replace(a.container_id, "ID")
    tb = b.config_json.replace(b.container_id, "ID")
    if json.loads(ta) == json.loads(tb):
        return None
    return "".join(difflib.unified_diff(ta.splitlines(True), tb.splitlines(True), a.runtime, b.runtime))


def build_payload(dest: Path) -> Path:
    """The payload directory bound at /parity: pyprobe.py and the static probe."""
    dest.mkdir(mode=0o755, exist_ok=True)
    shutil.copyfile(PAYLOAD / "pyprobe.py", dest / "pyprobe.py")
    subprocess.run(["gcc", "-O2", "-static", "-pthread", "-Wall", "-Wextra", "-Werror", "-o",
                    str(dest / "probe"), str(PAYLOAD / "probe.c")], check=True)
    for p in dest.iterdir():
        p.chmod(0o755)
    return dest


# ---------------------------------------------------------------------------------
# offline: compare what a run kept ($ECIFS_PARITY_KEEP) with the rules as they are now


def kept_outcome(directory: Path, name: str, runtime: str) -> Outcome | None:
    stem = directory / f"{name}.{runtime}"
    if not Path(f"{stem}.exit").exists():
        return None
    return Outcome(runtime, f"(kept {name})", Path(f"{stem}.exit").read_text().strip(),
                   Path(f"{stem}.out").read_text(), Path(f"{stem}.err").read_text(), 0.0, workload=name)


def leftovers(tmp: Path = Path("/tmp")) -> list[str]:
    """Clean what a parity session killed by SIGKILL left (its containers, daemon, mounts,
    cgroups, directory): only directories whose session (OWNER_FILE's pid) is gone.
    Returns what was found."""
    found = []
    for base in sorted(tmp.glob(f"{BASE_PREFIX}*")):
        try:
            owner = int((base / OWNER_FILE).read_text())
            if Path(f"/proc/{owner}").exists():
                continue  # a session still running
        except (OSError, ValueError):
            pass
        found.append(str(base))
        for root in base.glob("*/runc-root"):
            for cid in (p.name for p in root.iterdir() if p.is_dir()):
                subprocess.run(["runc", "--root", str(root), "delete", "-f", cid], capture_output=True)
                found.append(f"container {cid}")
        for pid_dir in Path("/proc").iterdir():  # its daemon and helpers, by pid
            if not pid_dir.name.isdigit():
                continue
            try:
                cmdline = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(base) in cmdline:
                try:
                    os.kill(int(pid_dir.name), signal.SIGKILL)
                    found.append(f"process {pid_dir.name}: {cmdline[:80]}")
                except OSError:
                    pass
        token = next((p.name.split("-")[2] for p in base.glob("ecifs-test-*")), None)
        if token:
            for cg in it.cgroup_dirs(f"ecifs-test-{token}"):
                it.remove_cgroup_tree(cg)
                found.append(f"cgroup {cg}")
        it.safe_rmtree(base)
    return found


def main(argv: list[str]) -> int:
    """parity.py DIR [WORKLOAD...]: the differences left in the outcomes kept in DIR
    ($ECIFS_PARITY_KEEP) with the current rules.txt (no container is run).
    parity.py --cleanup: remove what a killed session left behind (exit 1 if anything)."""
    if argv == ["--cleanup"]:
        found = leftovers()
        for f in found:
            print(f"parity cleanup: {f}")
        return 1 if found else 0
    if not argv:
        print(main.__doc__, file=sys.stderr)
        return 2
    sys.path.insert(0, str(HERE))
    from workloads import WORKLOADS
    directory, names = Path(argv[0]), set(argv[1:])
    rules, differing = load_rules(), 0
    for w in WORKLOADS:
        if names and w.name not in names:
            continue
        a, b = kept_outcome(directory, w.name, RUNTIMES[0]), kept_outcome(directory, w.name, RUNTIMES[1])
        if a is None or b is None:
            continue
        report = compare(rules, w, a, b)
        if report:
            differing += 1
            print(report.split("\n=== ")[0] if not names else report)
    print(f"{differing} workloads differ")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
