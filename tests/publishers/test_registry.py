"""A publisher is a module, its settings model and its registration: nothing else.

``OutboxPublisher`` below is such a publisher, registered only for these tests:
the configuration, ``capplan publish`` and delivery take it up from the registry.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from jobs.config import Config, parse_config, runbook_config_text
from jobs.errors import ConfigError
from jobs.periods import ReportPeriod, parse_period
from jobs.publishers import (
    REGISTRY,
    Publisher,
    PublisherSettings,
    PublishResult,
    Registration,
    ReportDelivery,
    find,
)
from jobs.publishers.delivery import publish_bundle, stage_report
from jobs.store import open_store
from tests.conftest import REPO, Capplan

PERIOD = parse_period("monthly", "2026-10")
PDF = b"%PDF-1.7\n" + hashlib.sha256(b"outbox").digest() * 100 + b"\n%%EOF\n"


class OutboxSettings(PublisherSettings):
    label: str
    limit: int = 10


class OutboxPublisher(Publisher):
    """Keeps what it is given in ``delivered``, and who was built before it."""

    name: ClassVar[str] = "outbox"
    order: ClassVar[int] = 15  # after local
    delivered: ClassVar[list[str]] = []

    def __init__(self, settings: OutboxSettings, before: list[str]) -> None:
        self.settings, self.before = settings, before

    @classmethod
    def build(
        cls,
        settings: PublisherSettings,
        *,
        env: Mapping[str, str],
        built: Mapping[str, Publisher],
    ) -> OutboxPublisher:
        assert isinstance(settings, OutboxSettings)
        return cls(settings, list(built))

    def publish(self, delivery: ReportDelivery) -> list[PublishResult]:
        self.delivered.extend(artifact.key for artifact in delivery.artifacts)
        target = f"{self.settings.label} after {', '.join(self.before)}"
        return [PublishResult(self.name, target, "uploaded", f"{len(delivery.artifacts)} files")]


@pytest.fixture
def outbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(
        REGISTRY, "outbox", Registration(OutboxSettings, f"{__name__}:OutboxPublisher")
    )
    OutboxPublisher.delivered.clear()
    yield
    OutboxPublisher.delivered.clear()


def config_with(tmp_path: Path, **publish: Any) -> Config:
    raw = yaml.safe_load(runbook_config_text())
    raw["publish"] = {"local": {"directory": str(tmp_path / "out")}, **publish}
    return parse_config(raw, "test")


@dataclass(frozen=True)
class StubReport:
    period: ReportPeriod
    pdf: bytes
    filename: str
    summary_text: str = "Monthly capacity review 2026-10."
    summary_html: str = "<p>Monthly capacity review 2026-10.</p>"
    extras: tuple[tuple[str, bytes, str], ...] = ()


def test_each_registered_publisher_answers_to_its_name() -> None:
    assert [find(name).name for name in REGISTRY] == list(REGISTRY)


def test_reading_an_s3_configuration_does_not_import_boto3() -> None:
    script = (
        "import sys, yaml\n"
        "from jobs.config import parse_config, runbook_config_text\n"
        "raw = yaml.safe_load(runbook_config_text())\n"
        "raw['publish'] = {'targets': ['local', 's3'], 's3': {'bucket': 'reports'}}\n"
        "assert parse_config(raw, 'test').publish.settings('s3') is not None\n"
        "print('boto3' in sys.modules)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert run.stdout == "False\n"


def test_an_unregistered_publisher_is_refused_with_the_valid_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        config_with(tmp_path, targets=["outbox"], outbox={"label": "tray"})
    message = str(refused.value)
    assert "publish.targets.0: Value error, unknown publisher 'outbox'" in message
    assert "valid publishers: 'local', 's3', 'email'" in message
    assert "publish.outbox: Extra inputs are not permitted" in message


@pytest.mark.usefixtures("outbox")
def test_a_registered_publisher_has_its_section_validated_by_its_model(tmp_path: Path) -> None:
    config = config_with(tmp_path, targets=["outbox", "local"], outbox={"label": "tray"})
    assert config.publish.settings("outbox") == OutboxSettings(label="tray")
    assert config.publish.targets == ["outbox", "local"]

    with pytest.raises(ConfigError) as refused:
        config_with(tmp_path, targets=["outbox"], outbox={"label": "tray", "limit": "many"})
    assert "publish.outbox.limit: Input should be a valid integer" in str(refused.value)
    with pytest.raises(ConfigError, match="'outbox' is listed but the outbox section is missing"):
        config_with(tmp_path, targets=["local", "outbox"])
    with pytest.raises(ConfigError, match=r"valid publishers: 'local', 's3', 'email', 'outbox'"):
        config_with(tmp_path, targets=["ftp"])


@pytest.mark.usefixtures("outbox")
def test_delivery_runs_a_registered_publisher_in_its_order(
    database_url: str, tmp_path: Path
) -> None:
    config = config_with(tmp_path, targets=["outbox", "local"], outbox={"label": "tray"})
    engine = open_store(database_url)
    report = StubReport(PERIOD, PDF, PERIOD.pdf_filename)
    bundle = stage_report(engine, config, report, generated_at=datetime(2026, 11, 1, tzinfo=UTC))

    results = publish_bundle(engine, config, bundle, env={})

    assert [(r.publisher, r.status) for r in results] == [
        ("local", "uploaded"),  # staged just now
        ("local", "uploaded"),
        ("outbox", "uploaded"),
    ]
    assert results[-1].target == "tray after local"
    assert OutboxPublisher.delivered == [
        f"monthly/2026-10/{PERIOD.pdf_filename}",
        "monthly/2026-10/manifest.json",
    ]


@pytest.mark.usefixtures("outbox")
def test_the_publish_command_delivers_to_a_registered_publisher(
    capplan: Capplan, database_url: str, tmp_path: Path
) -> None:
    config = config_with(tmp_path, targets=["local", "outbox"], outbox={"label": "tray"})
    config_path = tmp_path / "capplan.yaml"
    config_path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    report = StubReport(PERIOD, PDF, PERIOD.pdf_filename)
    stage_report(open_store(database_url), config, report, generated_at=datetime.now(UTC))

    result = capplan("publish", "monthly", "--period", "2026-10", config=config_path)

    lines = result.output.splitlines()
    assert [line.split(":")[0] for line in lines] == ["local", "local", "outbox"]
    assert lines[-1] == "outbox: uploaded tray after local (2 files)"
    assert len(OutboxPublisher.delivered) == 2
