"""S3-compatible object storage via boto3.

Credentials come only from the standard AWS chain (environment, shared config
and credentials files, ``AWS_PROFILE``, container or instance roles); the
settings refuse access keys so they never end up in a config file.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from jobs.publishers.base import (
    Artifact,
    Publisher,
    PublisherConfigError,
    PublishError,
    PublisherSettings,
    PublishResult,
    ReportDelivery,
)
from jobs.publishers.settings import S3Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import PutObjectRequestTypeDef

# SigV4 presigned URLs cannot outlive seven days.
MAX_PRESIGN_SECONDS = 7 * 24 * 3600

_ACCESS_DENIED_CODES = frozenset(
    {
        "403",
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "InvalidClientTokenId",
    }
)
# Stored with every object so "unchanged" can be decided even where the ETag is
# not the MD5 of the body (SSE-KMS on AWS, some S3-compatible servers).
MD5_METADATA_KEY = "content-md5"


class S3PublishError(PublishError):
    def __init__(self, bucket: str, key: str, endpoint: str, reason: str) -> None:
        self.bucket = bucket
        self.key = key
        self.endpoint = endpoint
        super().__init__("s3", f"s3://{bucket}/{key} at {endpoint}", reason)


def aws_session(env: Mapping[str, str]) -> boto3.session.Session:
    """A boto3 session on the standard AWS credential chain, keys and profile taken from ``env``."""
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    try:
        if key and secret:
            return boto3.session.Session(
                aws_access_key_id=key,
                aws_secret_access_key=secret,
                aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
            )
        profile = env.get("AWS_PROFILE")
        # Otherwise the rest of the chain: shared files, container or instance role.
        return boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()
    except BotoCoreError as exc:
        raise PublisherConfigError(f"s3: cannot set up AWS credentials: {exc}") from exc


class S3Publisher(Publisher):
    name: ClassVar[str] = "s3"
    order: ClassVar[int] = 20  # before email, whose download links point here

    def __init__(self, settings: S3Settings, *, session: boto3.session.Session | None = None):
        """``session`` defaults to a fresh one, i.e. the standard AWS credential chain."""
        self.settings = settings
        session = session or boto3.session.Session()
        config = Config(
            region_name=settings.region,
            signature_version="s3v4",
            connect_timeout=settings.connect_timeout_seconds,
            read_timeout=settings.read_timeout_seconds,
            # total_max_attempts counts the first try; botocore's "max_attempts" would not.
            retries={"mode": "standard", "total_max_attempts": settings.max_attempts},
            s3={"addressing_style": settings.addressing_style},
            # Integrity is checked with our own Content-MD5; the newer default
            # CRC trailers are rejected by several S3-compatible servers.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self.client: S3Client = session.client(
            "s3", endpoint_url=settings.endpoint_url, config=config
        )

    @classmethod
    def build(
        cls,
        settings: PublisherSettings,
        *,
        env: Mapping[str, str],
        built: Mapping[str, Publisher],
    ) -> S3Publisher:
        assert isinstance(settings, S3Settings)  # the registration names S3Settings
        return cls(settings, session=aws_session(env))

    @property
    def endpoint(self) -> str:
        return self.settings.endpoint_url or f"AWS S3 ({self.settings.region})"

    def object_key(self, key: str) -> str:
        return f"{self.settings.prefix}/{key}" if self.settings.prefix else key

    def publish(self, delivery: ReportDelivery) -> list[PublishResult]:
        return [self.put(artifact) for artifact in delivery.artifacts]

    def put(self, artifact: Artifact) -> PublishResult:
        """Upload ``artifact`` unless an object with the same bytes is already there."""
        bucket, key = self.settings.bucket, self.object_key(artifact.key)
        target = f"s3://{bucket}/{key}"
        digest = hashlib.md5(artifact.body, usedforsecurity=False).digest()
        md5_hex = digest.hex()
        try:
            existing = self._existing_md5(bucket, key)
            if md5_hex in existing:
                # The stored object keeps its original metadata: its generated-at
                # is when these very bytes were first produced.
                return PublishResult(self.name, target, "unchanged", f"md5 {md5_hex}")
            request: PutObjectRequestTypeDef = {
                "Bucket": bucket,
                "Key": key,
                "Body": artifact.body,
                "ContentType": artifact.content_type,
                "ContentMD5": base64.b64encode(digest).decode("ascii"),
                "Metadata": {**artifact.metadata, MD5_METADATA_KEY: md5_hex},
            }
            if self.settings.server_side_encryption:
                request["ServerSideEncryption"] = self.settings.server_side_encryption
            if self.settings.sse_kms_key_id:
                request["SSEKMSKeyId"] = self.settings.sse_kms_key_id
            response = self.client.put_object(**request)
        except (BotoCoreError, ClientError) as exc:
            raise S3PublishError(bucket, key, self.endpoint, self._reason(exc)) from exc
        etag = response.get("ETag", "").strip('"')
        # With SSE-KMS (and for multipart objects) the ETag is not an MD5 at all.
        looks_like_md5 = re.fullmatch(r"[0-9a-f]{32}", etag) is not None
        if self.settings.server_side_encryption != "aws:kms" and looks_like_md5 and etag != md5_hex:
            raise S3PublishError(
                bucket, key, self.endpoint, f"stored ETag {etag} does not match MD5 {md5_hex}"
            )
        return PublishResult(
            self.name, target, "uploaded", f"{len(artifact.body)} bytes, md5 {md5_hex}"
        )

    def presigned_url(self, key: str, expires_seconds: int) -> str:
        """A time-limited GET link to the object stored for artifact ``key``."""
        if not 1 <= expires_seconds <= MAX_PRESIGN_SECONDS:
            raise ValueError(f"expires_seconds must be within 1..{MAX_PRESIGN_SECONDS}")
        bucket, object_key = self.settings.bucket, self.object_key(key)
        try:
            return self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": bucket, "Key": object_key},
                ExpiresIn=expires_seconds,
            )
        except (BotoCoreError, ClientError) as exc:
            raise S3PublishError(bucket, object_key, self.endpoint, self._reason(exc)) from exc

    def _existing_md5(self, bucket: str, key: str) -> set[str]:
        try:
            head = self.client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return set()
            raise
        found = {head.get("ETag", "").strip('"'), head.get("Metadata", {}).get(MD5_METADATA_KEY)}
        return {value for value in found if value}

    def _reason(self, exc: BotoCoreError | ClientError) -> str:
        attempts = f"after up to {self.settings.max_attempts} attempt(s)"
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return (
                f"no usable AWS credentials ({exc}); set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an instance/pod role"
            )
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = error.get("Code", "?")
            message = error.get("Message", "")
            if code in _ACCESS_DENIED_CODES:
                return (
                    f"access denied ({code}: {message}); check the AWS credentials "
                    "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE), that bucket "
                    f"{self.settings.bucket!r} exists and that the policy allows the write"
                )
            if code == "NoSuchBucket":
                return f"bucket {self.settings.bucket!r} does not exist"
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= 500:
                return f"server error {code}: {message} {attempts}"
            return f"{code}: {message}"
        if isinstance(exc, ConnectionError | HTTPClientError):
            return f"endpoint unreachable or not answering {attempts}: {exc}"
        return f"{type(exc).__name__}: {exc}"
