from __future__ import annotations

import base64
import hashlib
import socket
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from pydantic import ValidationError

from jobs.publishers import Artifact, PublishError, S3Publisher, S3PublishError, S3Settings
from tests.servers.seaweedfs import S3Server

PDF = b"%PDF-1.7\n" + hashlib.sha256(b"capplan").digest() * 500 + b"\n%%EOF\n"
META = {
    "period": "2026-10",
    "generated-at": "2026-11-01T02:00:00Z",
    "config-hash": "3f2a9c",
    "data-watermark": "2026-10-31T23:59:00Z",
}


def artifact(key: str, body: bytes = PDF) -> Artifact:
    return Artifact(key, body, "application/pdf", META)


def publisher(server: S3Server, **overrides: Any) -> S3Publisher:
    raw: dict[str, Any] = {
        "endpoint_url": server.endpoint_url,
        "region": server.region,
        "bucket": server.bucket,
        "prefix": "capplan-reports",
        "max_attempts": 2,
        "connect_timeout_seconds": 1,
        "read_timeout_seconds": 10,
    }
    raw.update(overrides)
    return S3Publisher(S3Settings.model_validate(raw))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    "field", ["aws_access_key_id", "aws_secret_access_key", "access_key", "secret-key"]
)
def test_settings_refuse_credentials_and_point_to_aws_chain(field: str) -> None:
    with pytest.raises(ValidationError) as info:
        S3Settings.model_validate({"bucket": "reports", field: "AKIAEXAMPLE"})
    message = str(info.value)
    assert field in message
    assert "standard AWS chain" in message
    assert "AKIAEXAMPLE" not in message


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"bucket": "Bad_Bucket"}, "not a valid S3 bucket name"),
        ({"bucket": "reports", "endpoint_url": "localhost:9000"}, "http:// or https://"),
        ({"bucket": "reports", "addressing_style": "auto"}, "addressing_style"),
        ({"bucket": "reports", "prefix": "a/../b"}, "prefix"),
        ({"bucket": "reports", "sse_kms_key_id": "k"}, "aws:kms"),
        ({"bucket": "reports", "max_attempts": 0}, "max_attempts"),
    ],
)
def test_settings_name_the_bad_field(raw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        S3Settings.model_validate(raw)


def test_upload_reads_back_identical_with_metadata_and_md5(s3_env: S3Server) -> None:
    pub = publisher(s3_env)
    sent_md5: list[bytes | str | None] = []

    def capture(request: Any, **_: Any) -> None:
        sent_md5.append(request.headers.get("Content-MD5"))

    pub.client.meta.events.register("before-send.s3.PutObject", capture)
    key = "monthly/2026-10/capacity-monthly-2026-10.pdf"
    result = pub.put(artifact(key))

    object_key = f"capplan-reports/{key}"
    assert result.status == "uploaded"
    assert result.target == f"s3://{s3_env.bucket}/{object_key}"
    md5 = hashlib.md5(PDF).digest()
    assert sent_md5 == [base64.b64encode(md5)]

    got = s3_env.client().get_object(Bucket=s3_env.bucket, Key=object_key)
    assert got["Body"].read() == PDF
    assert got["ContentType"] == "application/pdf"
    assert got["ETag"].strip('"') == md5.hex()
    assert got["Metadata"] == {**META, "content-md5": md5.hex()}


def test_republish_same_bytes_is_unchanged_new_bytes_uploaded(s3_env: S3Server) -> None:
    pub = publisher(s3_env)
    key = "quarterly/2026-Q3/capacity-quarterly-2026-Q3.pdf"
    puts: list[int] = []
    pub.client.meta.events.register("before-send.s3.PutObject", lambda **_: puts.append(1))

    assert pub.put(artifact(key)).status == "uploaded"
    assert pub.put(artifact(key)).status == "unchanged"
    assert len(puts) == 1

    assert pub.put(artifact(key, PDF + b"rev2")).status == "uploaded"
    body = s3_env.client().get_object(Bucket=s3_env.bucket, Key=f"capplan-reports/{key}")["Body"]
    assert body.read() == PDF + b"rev2"


def test_server_side_encryption_is_requested(s3_env: S3Server) -> None:
    pub = publisher(s3_env, server_side_encryption="AES256", prefix="")
    pub.put(artifact("annual/2026/capacity-annual-2026.pdf"))
    head = s3_env.client().head_object(
        Bucket=s3_env.bucket, Key="annual/2026/capacity-annual-2026.pdf"
    )
    assert head["ServerSideEncryption"] == "AES256"


@pytest.mark.parametrize("wrong", ["secret", "both"])
def test_wrong_credentials_are_refused_with_clear_error(
    s3_env: S3Server, monkeypatch: pytest.MonkeyPatch, wrong: str
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    if wrong == "both":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY")
    key = f"monthly/2026-09/wrong-{wrong}.pdf"
    with pytest.raises(S3PublishError) as info:
        publisher(s3_env).put(artifact(key))

    error = info.value
    assert "access denied" in str(error)
    assert "AWS credentials" in str(error)
    assert (error.bucket, error.key) == (s3_env.bucket, f"capplan-reports/{key}")
    assert error.endpoint == s3_env.endpoint_url
    assert isinstance(error.__cause__, ClientError)
    with pytest.raises(ClientError):
        s3_env.client().head_object(Bucket=s3_env.bucket, Key=f"capplan-reports/{key}")


def test_missing_credentials_say_where_they_are_looked_for(
    s3_env: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(PublishError, match=r"no usable AWS credentials.*AWS_ACCESS_KEY_ID"):
        publisher(s3_env).put(artifact("monthly/2026-08/x.pdf"))


def test_missing_bucket_is_an_error_not_created(s3_env: S3Server) -> None:
    # SeaweedFS answers AccessDenied (AWS: NoSuchBucket) to a key without Admin rights.
    with pytest.raises(S3PublishError, match="s3://capplan-missing/") as info:
        publisher(s3_env, bucket="capplan-missing").put(artifact("monthly/2026-08/x.pdf"))
    assert info.value.bucket == "capplan-missing"
    names = [b["Name"] for b in s3_env.client().list_buckets()["Buckets"]]
    assert "capplan-missing" not in names


def test_storage_down_fails_after_bounded_retries(s3_env: S3Server) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    pub = publisher(s3_env, endpoint_url=endpoint, max_attempts=3, connect_timeout_seconds=0.5)
    sends: list[int] = []
    pub.client.meta.events.register("before-send.s3.*", lambda **_: sends.append(1))

    started = time.monotonic()
    with pytest.raises(S3PublishError, match=r"unreachable.*3 attempt") as info:
        pub.put(artifact("monthly/2026-10/down.pdf"))
    assert time.monotonic() - started < 15
    assert len(sends) == 3
    assert info.value.endpoint == endpoint
    assert isinstance(info.value.__cause__, EndpointConnectionError)


def test_presigned_url_downloads_the_object(s3_env: S3Server) -> None:
    pub = publisher(s3_env)
    key = "monthly/2026-07/capacity-monthly-2026-07.pdf"
    pub.put(artifact(key))
    url = pub.presigned_url(key, 600)
    assert url.startswith(f"{s3_env.endpoint_url}/{s3_env.bucket}/capplan-reports/")
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == PDF

    tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(tampered, timeout=10)
    assert info.value.code == 403
    info.value.close()


def test_presigned_url_expiry_is_bounded(s3_env: S3Server) -> None:
    with pytest.raises(ValueError, match="expires_seconds"):
        publisher(s3_env).presigned_url("a.pdf", 8 * 24 * 3600)
