"""The configured publishers, built once before anything is delivered.

Credentials are read from the ``env`` mapping the command passes in, never
from ``os.environ`` here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import boto3
from botocore.exceptions import BotoCoreError

from jobs.config import Config
from jobs.publishers import (
    Artifact,
    EmailPublisher,
    LocalPublisher,
    PublisherConfigError,
    S3Publisher,
)


def local_publisher(config: Config) -> LocalPublisher:
    """The ``publish.local`` publisher; reports are staged there even when it is no target."""
    return LocalPublisher(config.publish.local)


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


@dataclass
class Publishers:
    """The configured publishers, in delivery order."""

    local: LocalPublisher | None
    s3: S3Publisher | None
    email: EmailPublisher | None


def make_publishers(
    config: Config, *, env: Mapping[str, str], session: boto3.session.Session | None = None
) -> Publishers:
    """Builds every configured publisher first, so missing settings fail before any delivery."""
    publish = config.publish
    targets = set(publish.targets)
    s3: S3Publisher | None = None
    if "s3" in targets:
        assert publish.s3 is not None  # the config validator guarantees it
        s3 = S3Publisher(publish.s3, session=session or aws_session(env))
    email: EmailPublisher | None = None
    if "email" in targets:
        assert publish.email is not None
        link_provider = None
        if s3 is not None:
            storage = s3

            def link_provider(artifact: Artifact, seconds: int) -> str:
                return storage.presigned_url(artifact.key, seconds)

        email = EmailPublisher(publish.email, env=env, link_provider=link_provider)
    local = local_publisher(config) if "local" in targets else None
    return Publishers(local, s3, email)
