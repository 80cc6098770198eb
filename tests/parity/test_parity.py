"""Whatever works under plain runc works the same under ecifs-runc, except the values
ecifs means to change (rules.txt). One test per workload of workloads.py; the known
bugs (known_bugs.txt) are strict xfails until their fix lands."""
from __future__ import annotations

import fnmatch
import json
import re

import pytest

import parity
from workloads import WORKLOADS

# runc's own failure (no container ran): a workload that fails this way under runc
# tests nothing.
RUNC_FAILED = re.compile(r"^(runc run failed|ERRO\[|time=\"[^\"]*\" level=error)", re.M)


def check(session, w: parity.Workload, a: parity.Outcome, b: parity.Outcome) -> str | None:
    unfair = parity.same_config(a, b)
    assert unfair is None, f"{w.name}: the runtimes were given different config.json:\n{unfair}"
    assert a.exit != "timeout", f"{w.name}: timed out under {a.runtime} ({w.timeout}s):\n{a.stdout}\n{a.stderr}"
    assert not RUNC_FAILED.search(a.stderr), f"{w.name}: no container ran under {a.runtime}:\n{a.stderr}"
    return parity.compare(session.rules, w, a, b)


def test_parity(parity_session, workload):
    a, b = parity_session.outcomes(workload)
    report = check(parity_session, workload, a, b)
    if report:
        pytest.fail(report, pytrace=False)


# ---------------------------------------------------------------------------------
# the harness itself

# Differences planted under ecifs only (its container has FUSE mounts in its
# mountinfo, runc's has none), each in a workload whose name brings its real rules
# along: the comparison must report every one.
UNDER_ECIFS = "grep -q ' - fuse' /proc/self/mountinfo"
PLANTED = [
    (parity.Workload("cu-cat-meminfo", f"cat /proc/meminfo; {UNDER_ECIFS} && echo 'Planted:   1 kB'"),
     "+Planted:   1 kB"),
    (parity.Workload("cu-cat-meminfo", "cat /proc/meminfo | { " + UNDER_ECIFS +
                     " && sed 's/^Hugepagesize: .*/Hugepagesize:    4096 kB/' || cat; }"),
     "+Hugepagesize:    4096 kB"),
    (parity.Workload("bb-free", f"busybox free; {UNDER_ECIFS} && exit 3; exit 0"), "+3"),
    (parity.Workload("procps-uptime", f"uptime; {UNDER_ECIFS} && echo 'uptime: planted' >&2; true"),
     "+uptime: planted"),
]


def test_harness_catches_planted_differences(parity_session):
    if parity_session.runtimes[0] == parity_session.runtimes[1]:
        pytest.skip("--baseline: both sides are runc")
    pairs = parity_session.run_pairs([w for w, _ in PLANTED], keep=False)
    for (w, expected), (a, b) in zip(PLANTED, pairs):
        report = check(parity_session, w, a, b)
        assert report is not None, f"the planted difference in {w.name} ({w.script!r}) was not reported"
        assert f"workload {w.name!r}" in report and expected in report, report


def test_unequal_configs_are_caught():
    """Both runtimes must get the same config.json: same_config must see any other change."""
    def outcome(runtime: str, cid: str, cfg: dict) -> parity.Outcome:
        return parity.Outcome(runtime, cid, "0", "", "", 0.0, json.dumps(cfg).replace("ID", cid))

    cfg = {"linux": {"cgroupsPath": "/ID", "resources": {"memory": {"limit": 1}}}, "hostname": "h"}
    other = json.loads(json.dumps(cfg))
    other["linux"]["resources"]["memory"]["limit"] = 2
    assert parity.same_config(outcome("runc", "c1", cfg), outcome("ecifs-runc", "c2", cfg)) is None
    assert parity.same_config(outcome("runc", "c1", cfg), outcome("ecifs-runc", "c2", other)) is not None


def test_rules_scope_real_workloads():
    names = [w.name for w in WORKLOADS]
    assert len(names) == len(set(names)), "duplicate workload names"
    for r in parity.load_rules():
        for glob in r.workloads:
            assert fnmatch.filter(names, glob), f"rules.txt:{r.line}: {r.name}: {glob!r} matches no workload"


def test_known_bugs_name_real_workloads():
    names = {w.name for w in WORKLOADS}
    for name in parity.load_known_bugs():
        assert name in names, f"known_bugs.txt names {name!r}, which is no workload"


def test_every_rule_is_used(parity_session, request):
    """A rule that matches nothing in a full run is stale (or its scope is wrong)."""
    if request.config.getoption("quick") or len(parity_session.workloads) != len(WORKLOADS):
        pytest.skip("only meaningful when the whole corpus ran")
    if parity_session.runtimes[0] == parity_session.runtimes[1]:
        pytest.skip("--baseline: the rules for ecifs's side do not apply")
    parity_session.run_all()
    rules = parity.load_rules()
    for w in parity_session.workloads:
        a, b = parity_session.outcomes(w)
        parity.normalise(rules, w.name, a)
        parity.normalise(rules, w.name, b)
    unused = [f"{r.name} (line {r.line})" for r in rules if r.uses == 0]
    assert not unused, f"rules that matched nothing: {unused}"


def test_host_sysctls_unchanged(parity_session):
    from conftest import host_sysctls
    parity_session.run_all()
    assert host_sysctls() == parity_session.host_before
