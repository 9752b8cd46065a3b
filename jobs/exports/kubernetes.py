"""Strategic-merge patches for the Deployments and StatefulSets behind each service.

One patch per workload: the container's requests (the recommendation) and
limits (with ``rightsizing.limit_headroom``), and ``replicas`` for
horizontally scaled services. Which workload, container and namespace a
service is is configuration (``services.<name>.kubernetes``); the default is a
Deployment and a container named after the service in ``default``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

from jobs.errors import CapplanError
from jobs.exports.quantities import mebibytes, millicores, one_line
from jobs.exports.sizing import ServiceSizing


@dataclass(frozen=True)
class Workload:
    kind: str
    name: str
    namespace: str
    container: str


@dataclass(frozen=True)
class Patch:
    workload: Workload
    filename: str
    text: str

    def apply_command(self, path: str) -> str:
        w = self.workload
        return (
            f"kubectl patch {w.kind.lower()} {w.name} -n {w.namespace} "
            f"--type strategic --patch-file {path}"
        )


def _quantities(cpu: float | None, memory_gb: float | None, factor: float) -> dict[str, str]:
    out = {}
    if cpu is not None:
        out["cpu"] = f"{millicores(cpu * factor)}m"
    if memory_gb is not None:
        out["memory"] = f"{mebibytes(memory_gb * factor)}Mi"
    return out


def _body(sizing: ServiceSizing, workload: Workload, headroom: float) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if sizing.replicas is not None:
        spec["replicas"] = sizing.replicas
    if sizing.cpu_cores is not None or sizing.memory_gb is not None:
        resources = {
            "requests": _quantities(sizing.cpu_cores, sizing.memory_gb, 1.0),
            "limits": _quantities(sizing.cpu_cores, sizing.memory_gb, headroom),
        }
        container = {"name": workload.container, "resources": resources}
        spec["template"] = {"spec": {"containers": [container]}}
    return {
        "apiVersion": "apps/v1",
        "kind": workload.kind,
        "metadata": {"name": workload.name, "namespace": workload.namespace},
        "spec": spec,
    }


def kubernetes_patches(
    sizings: Sequence[ServiceSizing],
    workloads: Mapping[str, Workload],
    as_of: datetime,
    limit_headroom: float,
) -> list[Patch]:
    """One patch per service with a recommendation, in the sizings' order."""
    patches = []
    for sizing in sizings:
        workload = workloads[sizing.service]
        header = [f"# capplan right-sizing of {sizing.service} as of {as_of.isoformat()}"]
        header.extend(f"# {note}" for note in sizing.notes)
        body = yaml.safe_dump(_body(sizing, workload, limit_headroom), sort_keys=False)
        filename = f"{workload.namespace}.{workload.kind.lower()}.{workload.name}.yaml"
        patches.append(Patch(workload, filename, "\n".join(header) + "\n" + body))
    return patches


def as_stream(patches: Sequence[Patch]) -> str:
    """All patches as one multi-document YAML stream (for standard output)."""
    return "---\n".join(patch.text for patch in patches)


_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class KubernetesNameError(CapplanError):
    exit_code = 2


def valid_name(name: str) -> bool:
    return len(name) <= 63 and _NAME.fullmatch(name) is not None


def quoted(name: str) -> str:
    return json.dumps(one_line(name, 60))
