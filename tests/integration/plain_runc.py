"""One bundle run twice, under plain runc and through ecifs-runc, for tests whose point is
parity: the same command in both must give the same result, except for the values ecifs
means to change.

The plain container is started first, from the bundle's config.json as the test made it
(runc reads it at create time); then ecifs-runc edits config.json and starts its own. Both
share the rootfs (files a test puts there are seen by both) and run with the same --root,
so the `containers` fixture deletes both at the end. Each gets a cgroup of its own.
"""
from __future__ import annotations

import copy
import subprocess

import ecifs_bundle
from conftest import Container, Containers, new_name


def start_pair(containers: Containers, **bundle_kw) -> tuple[Container, Container]:
    """(ecifs, plain): `sleep infinity` of one bundle through ecifs-runc and plain runc."""
    cid = new_name("c")
    plain_id = f"{cid}-runc"
    bundle = containers.make_bundle(cid, **bundle_kw)
    config = ecifs_bundle.read_config(bundle)
    plain_config = copy.deepcopy(config)
    plain_config["linux"]["cgroupsPath"] = f"/{plain_id}"
    ecifs_bundle.write_config(bundle, plain_config)
    containers.ids.append(plain_id)
    _run(containers, bundle, plain_id, plain=True)
    ecifs_bundle.write_config(bundle, config)
    containers.ids.append(cid)
    _run(containers, bundle, cid, plain=False)
    return Container(containers, cid, bundle), Container(containers, plain_id, bundle)


def _run(containers: Containers, bundle, cid: str, plain: bool) -> None:
    out_path = containers.dir / f"{cid}.out"
    with open(out_path, "w") as out:
        if plain:
            r = subprocess.run(["runc", "--root", str(containers.root), "run", "-d", "-b", str(bundle), cid],
                               stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, timeout=60,
                               env=containers.env())
        else:
            r = containers.shim("run", "-d", "-b", str(bundle), cid, capture_output=False,
                                stdout=out, stderr=subprocess.STDOUT)
    runtime = "runc" if plain else "ecifs-runc"
    assert r.returncode == 0, containers._diag(f"{runtime} run {cid}", r.returncode,
                                               out_path.read_text(errors="replace"))


def run_both(ecifs: Container, plain: Container, script: str) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """The script under each: (exit code, stdout, stderr) of ecifs's, then plain runc's."""
    results = []
    for c in (ecifs, plain):
        r = c.mgr.shim("exec", c.id, "sh", "-c", script)
        results.append((r.returncode, r.stdout, r.stderr))
    return results[0], results[1]
