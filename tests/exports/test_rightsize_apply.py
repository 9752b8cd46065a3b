"""rightsize --format compose|kubernetes: files the real tools accept as they are.

The Compose override is checked against the Compose Specification's JSON
schema (the copy check-jsonschema ships); each Kubernetes patch is applied to a
minimal manifest as a strategic merge would and the result validated with
kubernetes-validate.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from jobs.config import Config
from tests.conftest import Capplan
from tests.planning.test_rightsize import AS_OF, stored_usage

KUBERNETES_VERSION = "1.30"


def rightsize(capplan: Capplan, *args: str, config: Path | None = None, expect: int = 0) -> str:
    result = capplan("rightsize", "--as-of", AS_OF.isoformat(), *args, config=config, expect=expect)
    return result.output


def check_compose_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def store_requests(database_url: str, config: Config, level: float = 140.0) -> None:
    import numpy as np
    import pandas as pd

    from jobs.ingest import store_frame
    from jobs.store import open_store

    index = pd.date_range(AS_OF - pd.Timedelta(days=30), AS_OF, freq="5min", inclusive="left")
    values = level + np.random.default_rng(2).normal(0, 3.0, len(index))
    frame = pd.DataFrame(
        {"timestamp": index, "service": "backend", "metric": "requests_per_second", "value": values}
    )
    store_frame(open_store(database_url), config, frame)


def test_compose_override_is_valid_and_carries_the_recommendation(
    capplan: Capplan, database_url: str, config: Config, tmp_path: Path
) -> None:
    stored_usage(database_url, config)
    store_requests(database_url, config)
    out = tmp_path / "override.yml"
    printed = rightsize(capplan, "--format", "compose", "--out", str(out))
    assert f"docker compose -f docker-compose.yml -f {out} up -d" in printed

    checked = check_compose_schema(out)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    text = out.read_text()
    document = yaml.safe_load(text)
    backend = document["services"]["backend"]["deploy"]
    recommended = json_recommendations(capplan)
    cpu = recommended[("backend", "cpu")]
    assert float(backend["resources"]["reservations"]["cpus"]) == pytest.approx(cpu, abs=0.001)
    # Limits keep the runbook's headroom: twice the reservation.
    assert float(backend["resources"]["limits"]["cpus"]) == pytest.approx(2 * cpu, abs=0.002)
    assert backend["replicas"] == int(recommended[("backend", "replicas")])
    frontend_memory = document["services"]["frontend"]["deploy"]["resources"]
    assert frontend_memory["reservations"]["memory"].endswith("M")
    mib = int(frontend_memory["reservations"]["memory"][:-1])
    assert mib == pytest.approx(recommended[("frontend", "memory")] * 1024, abs=1)
    # A comment per service with its reason and cost delta.
    assert "# cpu: increase 2 -> " in text and "USD/month" in text


def json_recommendations(capplan: Capplan) -> dict[tuple[str, str], float]:
    import json

    payload = json.loads(rightsize(capplan, "--format", "json"))
    return {(r["service"], r["resource"]): r["recommended"] for r in payload["recommendations"]}


def test_compose_refuses_a_service_name_compose_would_refuse(
    capplan: Capplan, database_url: str, tmp_path: Path
) -> None:
    from jobs.config import load_config
    from tests.conftest import repo_path

    text = repo_path("examples", "runbook.yaml").read_text()
    hostile = text.replace("  frontend:   {", '  "front end\\n=cmd":   {')
    path = tmp_path / "hostile.yaml"
    path.write_text(hostile)
    config = load_config(path)
    stored_usage_for(database_url, config, "front end\n=cmd")
    out = tmp_path / "override.yml"
    result = rightsize(capplan, "--format", "compose", "--out", str(out), config=path, expect=2)
    assert "not valid Compose service names" in result
    assert '"front end =cmd"' in result
    assert not out.exists()


def stored_usage_for(database_url: str, config: Config, service: str) -> None:
    import numpy as np
    import pandas as pd

    from jobs.ingest import store_frame
    from jobs.store import open_store

    index = pd.date_range(AS_OF - pd.Timedelta(days=30), AS_OF, freq="5min", inclusive="left")
    values = 35.0 + np.random.default_rng(1).normal(0, 1.0, len(index))
    frame = pd.DataFrame(
        {"timestamp": index, "service": service, "metric": "memory_percent", "value": values}
    )
    store_frame(open_store(database_url), config, frame)


def strategic_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """What ``kubectl patch --type strategic`` does for these fields: containers by name."""
    merged = copy.deepcopy(base)
    for key, value in patch.items():
        if key == "containers":
            by_name = {c["name"]: c for c in merged.setdefault("containers", [])}
            for container in value:
                if container["name"] in by_name:
                    by_name[container["name"]].update(
                        strategic_merge(by_name[container["name"]], container)
                    )
                else:
                    merged["containers"].append(container)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = strategic_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def minimal_manifest(kind: str, name: str, namespace: str, container: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": labels},
            **({"serviceName": name} if kind == "StatefulSet" else {}),
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": container, "image": "example/app:1"}]},
            },
        },
    }


def test_kubernetes_patches_validate_once_applied(
    capplan: Capplan, database_url: str, tmp_path: Path
) -> None:
    from tests.conftest import repo_path

    text = repo_path("examples", "runbook.yaml").read_text()
    text = text.replace(
        'description: "API (FastAPI)"}',
        'description: "API (FastAPI)", kubernetes: {name: api, namespace: prod, container: app}}',
    )
    config_path = tmp_path / "k8s.yaml"
    config_path.write_text(text)
    from jobs.config import load_config

    stored_usage(database_url, load_config(config_path))
    store_requests(database_url, load_config(config_path))
    out = tmp_path / "patches"
    printed = rightsize(capplan, "--format", "kubernetes", "--out", str(out), config=config_path)
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [
        "default.deployment.frontend.yaml",
        "prod.deployment.api.yaml",
    ]
    assert f"kubectl patch deployment api -n prod --type strategic --patch-file {out}" in printed
    for path in files:
        patch = yaml.safe_load(path.read_text())
        meta = patch["metadata"]
        containers = patch["spec"]["template"]["spec"]["containers"]
        base = minimal_manifest(
            patch["kind"], meta["name"], meta["namespace"], containers[0]["name"]
        )
        applied = strategic_merge(base, patch)
        kubernetes_validate.validate(applied, KUBERNETES_VERSION, strict=True)
    api = yaml.safe_load((out / "prod.deployment.api.yaml").read_text())
    resources = api["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["requests"]["cpu"].endswith("m")
    requested = int(resources["requests"]["cpu"][:-1])
    assert int(resources["limits"]["cpu"][:-1]) in (
        2 * requested - 1,
        2 * requested,
        2 * requested + 1,
    )
    assert api["spec"]["replicas"] >= 2


def test_kubernetes_stream_without_out(capplan: Capplan, database_url: str, config: Config) -> None:
    stored_usage(database_url, config)
    documents = [d for d in yaml.safe_load_all(rightsize(capplan, "--format", "kubernetes")) if d]
    assert {d["metadata"]["name"] for d in documents} == {"backend", "frontend"}


def test_out_in_a_missing_folder_is_refused_before_any_work(
    capplan: Capplan, tmp_path: Path
) -> None:
    # No usage is stored: the --out check must come first.
    output = rightsize(
        capplan, "--format", "compose", "--out", str(tmp_path / "missing" / "o.yml"), expect=2
    )
    assert "does not exist" in output
    assert "Traceback" not in output


def readme_block(language: str, containing: str) -> str:
    import re

    from tests.conftest import repo_path

    blocks: list[str] = re.findall(
        rf"```{language}\n(.*?)```", repo_path("README.md").read_text(), flags=re.S
    )
    return next(block for block in blocks if containing in block)


def test_the_readme_compose_example_runs_verbatim(
    capplan: Capplan, database_url: str, config: Config, tmp_path: Path
) -> None:
    import shlex
    import textwrap

    import numpy as np
    import pandas as pd

    from jobs.ingest import store_frame
    from jobs.store import open_store

    # The README's command sizes as of now: usage over the last 30 days.
    now = pd.Timestamp.now(tz="UTC").floor("5min")
    index = pd.date_range(now - pd.Timedelta(days=30), now, freq="5min", inclusive="left")
    values = 35.0 + np.random.default_rng(4).normal(0, 1.0, len(index))
    frame = pd.DataFrame(
        {"timestamp": index, "service": "frontend", "metric": "memory_percent", "value": values}
    )
    store_frame(open_store(database_url), config, frame)
    block = textwrap.dedent(readme_block("sh", "capplan rightsize --format compose"))
    command, apply = block.strip().splitlines()
    argv = shlex.split(command)
    assert argv[0] == "capplan"
    result = capplan(*argv[1:])  # the working directory is tmp_path
    written = tmp_path / argv[argv.index("--out") + 1]
    assert check_compose_schema(written).returncode == 0
    assert apply in result.output


def test_the_readme_prometheus_export_snippet_is_valid(tmp_path: Path) -> None:
    from jobs.config import load_config
    from tests.conftest import repo_path

    path = tmp_path / "capplan.yaml"
    snippet = readme_block("yaml", "pushgateway_url")
    path.write_text(repo_path("examples", "runbook.yaml").read_text() + "\n" + snippet)
    settings = load_config(path).publish.prometheus
    assert settings is not None and settings.pushgateway_url == "http://pushgateway:9091"
