"""pytest plugin: Debian's Pushgateway, scraped by a real Prometheus, both on loopback.

``pushgateway_stack`` (session) yields a ``PushgatewayStack``: the Pushgateway's
``push_url`` and the ``prometheus_url`` of a Prometheus that scrapes it every
second (``honor_labels``, as a Pushgateway scrape must be configured).
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers.prometheus import _free_port, _require, _stop, _tail, _wait_ready

__all__ = ["PushgatewayStack", "pushgateway_stack"]


@dataclass(frozen=True)
class PushgatewayStack:
    push_url: str
    prometheus_url: str

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = f"{self.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=10) as answer:
            payload = json.load(answer)
        assert payload["status"] == "success", payload
        return list(payload["data"]["result"])

    def wait_for(self, promql: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The query's result once it is non-empty (Prometheus scrapes every second)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.query(promql)
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.5)


def _start(argv: list[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=cwd
        )


@pytest.fixture(scope="session")
def pushgateway_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PushgatewayStack]:
    pushgateway = _require("prometheus-pushgateway")
    prometheus = _require("prometheus")
    root = tmp_path_factory.mktemp("pushgateway")
    push_port = _free_port()
    push_url = f"http://127.0.0.1:{push_port}"
    push_log = root / "pushgateway.log"
    gateway = _start(
        [
            pushgateway,
            f"--web.listen-address=127.0.0.1:{push_port}",
            f"--persistence.file={root / 'pushgateway.data'}",
        ],
        push_log,
        root,
    )
    scraper: subprocess.Popen[bytes] | None = None
    try:
        _wait_ready(gateway, push_url, push_log)
        config = root / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: pushgateway\n    honor_labels: true\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{push_port}']\n"
        )
        prom_port = _free_port()
        prometheus_url = f"http://127.0.0.1:{prom_port}"
        prom_log = root / "prometheus.log"
        scraper = _start(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={root / 'data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            prom_log,
            root,
        )
        _wait_ready(scraper, prometheus_url, prom_log)
    except RuntimeError as exc:
        pytest.fail(f"{exc}\n{_tail(push_log)}", pytrace=False)
    try:
        yield PushgatewayStack(push_url, prometheus_url)
    finally:
        if scraper is not None:
            _stop(scraper)
        _stop(gateway)
