from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from jobs.publishers import (
    REGISTRY,
    Artifact,
    EmailPublisher,
    LocalPublisher,
    LocalSettings,
    PublishError,
    ReportDelivery,
    S3Publisher,
    UnknownPublisherError,
    find,
)

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def delivery(body: bytes = PDF) -> ReportDelivery:
    meta = {"period": "2026-10", "generated-at": "2026-11-01T02:00:00Z"}
    return ReportDelivery(
        kind="monthly",
        period="2026-10",
        subject="Capacity review 2026-10",
        pdf=Artifact("monthly/2026-10/capacity-monthly-2026-10.pdf", body, "application/pdf", meta),
        summary_text="summary",
        summary_html="<p>summary</p>",
        extras=(
            Artifact("monthly/2026-10/manifest.json", b'{"period": "2026-10"}', "application/json"),
        ),
    )


def test_registry_finds_each_publisher_by_name() -> None:
    assert find("local") is LocalPublisher
    assert find("s3") is S3Publisher
    assert find("email") is EmailPublisher
    assert sorted(REGISTRY) == ["email", "local", "s3"]


def test_registry_unknown_name_lists_valid_names() -> None:
    with pytest.raises(UnknownPublisherError) as info:
        find("nope")
    message = str(info.value)
    assert "'nope'" in message
    for name in ("'local'", "'s3'", "'email'"):
        assert name in message


def test_writes_every_artifact_byte_identical(tmp_path: Path) -> None:
    publisher = LocalPublisher(LocalSettings(directory=tmp_path / "out"))
    results = publisher.publish(delivery())

    pdf = tmp_path / "out" / "monthly" / "2026-10" / "capacity-monthly-2026-10.pdf"
    assert pdf.read_bytes() == PDF
    assert (tmp_path / "out" / "monthly" / "2026-10" / "manifest.json").is_file()
    assert [r.status for r in results] == ["uploaded", "uploaded"]
    assert results[0].target == str(pdf)
    assert results[0].publisher == "local"


def test_republishing_same_bytes_is_unchanged_and_new_bytes_replace(tmp_path: Path) -> None:
    publisher = LocalPublisher(LocalSettings(directory=tmp_path))
    publisher.publish(delivery())
    pdf = tmp_path / "monthly" / "2026-10" / "capacity-monthly-2026-10.pdf"
    mtime = pdf.stat().st_mtime_ns

    again = publisher.publish(delivery())
    assert [r.status for r in again] == ["unchanged", "unchanged"]
    assert pdf.stat().st_mtime_ns == mtime

    changed = publisher.publish(delivery(PDF + b"v2"))
    assert [r.status for r in changed] == ["uploaded", "unchanged"]
    assert pdf.read_bytes() == PDF + b"v2"
    assert sorted(p.name for p in pdf.parent.iterdir()) == [
        "capacity-monthly-2026-10.pdf",
        "manifest.json",
    ]


def test_failed_write_keeps_previous_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publisher = LocalPublisher(LocalSettings(directory=tmp_path))
    publisher.publish(delivery())
    pdf = tmp_path / "monthly" / "2026-10" / "capacity-monthly-2026-10.pdf"

    def broken_replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(PublishError, match="No space left on device") as info:
        publisher.put(delivery(b"%PDF-new").pdf)
    assert isinstance(info.value.__cause__, OSError)
    assert pdf.read_bytes() == PDF
    assert sorted(p.name for p in pdf.parent.iterdir()) == [
        "capacity-monthly-2026-10.pdf",
        "manifest.json",
    ]


@pytest.mark.parametrize("key", ["../escape.pdf", "/abs/x.pdf", "a//b.pdf", "a/./b.pdf", "a\\b"])
def test_artifact_keys_must_be_relative_and_normalised(key: str) -> None:
    with pytest.raises(ValueError, match="artifact key"):
        Artifact(key, b"x", "application/pdf")


def test_artifact_metadata_is_frozen_copy() -> None:
    meta = {"period": "2026-10"}
    artifact = Artifact("a.pdf", b"x", "application/pdf", meta)
    meta["period"] = "changed"
    assert artifact.metadata["period"] == "2026-10"


def test_local_settings_reject_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="directry"):
        LocalSettings.model_validate({"directry": "/tmp/x"})
