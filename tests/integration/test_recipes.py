"""The Kubernetes recipe (packaging/examples/kubernetes): there is no kubelet or API
server here, so the manifests are checked as far as this machine allows: each parses as
YAML, carries what the API server requires of its kind, and names what the other
recipes define (the RuntimeClass's handler is the containerd runtime of
packaging/examples/containerd; the pod asks for that class and a user namespace).
Docker's, Podman's and containerd's recipes run real engines in tests/engines."""
from __future__ import annotations

import tomllib

import yaml

from conftest import REPO

EXAMPLES = REPO / "packaging" / "examples"
K8S = EXAMPLES / "kubernetes"


def manifest(name: str) -> dict:
    docs = list(yaml.safe_load_all((K8S / name).read_text()))
    assert len(docs) == 1, name
    doc = docs[0]
    for key in ("apiVersion", "kind", "metadata"):
        assert key in doc, f"{name}: no {key}"
    assert doc["metadata"].get("name"), f"{name}: no metadata.name"
    return doc


def containerd_runtimes() -> dict:
    config = tomllib.loads((EXAMPLES / "containerd" / "ecifs.toml").read_text())
    return config["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]


def test_the_runtime_class_names_the_containerd_runtime():
    rc = manifest("runtimeclass.yaml")
    assert (rc["apiVersion"], rc["kind"]) == ("node.k8s.io/v1", "RuntimeClass")
    assert rc["handler"] in containerd_runtimes()
    assert rc["scheduling"]["nodeSelector"] == {"ecifs.io/runtime": "ready"}


def test_the_pod_runs_under_the_class_in_a_user_namespace():
    rc, pod = manifest("runtimeclass.yaml"), manifest("pod.yaml")
    assert (pod["apiVersion"], pod["kind"]) == ("v1", "Pod")
    spec = pod["spec"]
    assert spec["runtimeClassName"] == rc["metadata"]["name"]
    assert spec["hostUsers"] is False  # the container's root is not the host's
    for c in spec["containers"]:
        assert c["name"] and c["image"]
        assert c["resources"]["limits"]["memory"]  # what its /proc/meminfo will show


def test_the_daemonset_installs_the_package_and_the_containerd_drop_in():
    ds = manifest("daemonset.yaml")
    assert (ds["apiVersion"], ds["kind"]) == ("apps/v1", "DaemonSet")
    spec = ds["spec"]
    # The API server rejects a selector its template's labels do not match.
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    pod = spec["template"]["spec"]
    volumes = {v["name"] for v in pod["volumes"]}
    for c in pod["initContainers"] + pod["containers"]:
        assert c["name"] and c["image"]
        assert {m["name"] for m in c.get("volumeMounts", [])} <= volumes
    install = "\n".join(pod["initContainers"][0]["command"])
    # Where the containerd recipe says its drop-in goes, and the package installed in
    # the host's namespaces.
    dropin = (EXAMPLES / "containerd" / "ecifs.toml").read_text().splitlines()[0].split()[1].rstrip(",")
    assert dropin == "/etc/containerd/conf.d/ecifs.toml"
    assert "/host" + dropin in install
    assert "apt-get install -y /var/lib/ecifs-installer/ecifs.deb" in install
    assert "nsenter --target 1 --mount" in install
