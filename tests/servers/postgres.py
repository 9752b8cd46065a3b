"""pytest plugin: a throwaway PostgreSQL server (Debian's package) on a loopback port.

PostgreSQL refuses to run as root, so when the suite runs as root (CI) the
server runs as the ``postgres`` account the Debian package creates.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

_INSTALL_HINT = (
    "`make test` installs Debian's postgresql package; or run: apt-get install postgresql"
)


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail(f"PostgreSQL's initdb was not found. {_INSTALL_HINT}", pytrace=False)
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user() -> tuple[list[str], Callable[[Path], None]]:
    if os.geteuid() != 0:
        return [], lambda _path: None
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.fail("running as root needs runuser to start PostgreSQL as 'postgres'")

    def give(path: Path) -> None:
        shutil.chown(path, "postgres", "postgres")

    return [runuser, "-u", "postgres", "--"], give


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = _bin_dir()
    prefix, give = _as_server_user()
    # Not under pytest's tmp_path: its parents are private to the test user,
    # and the server may run as another account.
    root = Path(tempfile.mkdtemp(prefix="capplan-postgres-"))
    root.chmod(0o755)
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    for path in (data, sockets):
        path.mkdir()
        give(path)
    log.touch()
    give(log)
    subprocess.run(
        [
            *prefix,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "--auth=trust",
            "-U",
            "capplan",
            "--encoding=UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            *prefix,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        deadline = time.monotonic() + 30
        while (
            subprocess.run(
                [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                capture_output=True,
            ).returncode
            != 0
        ):
            if time.monotonic() > deadline:
                pytest.fail(f"PostgreSQL did not start:\n{log.read_text()}", pytrace=False)
            time.sleep(0.2)
        yield PostgresServer("127.0.0.1", port, "capplan")
    finally:
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database per test."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50].lower()
    bin_dir = _bin_dir()
    common = ["-h", postgres_server.host, "-p", str(postgres_server.port), "-U", "capplan"]
    subprocess.run([str(bin_dir / "dropdb"), *common, "--if-exists", name], check=True)
    subprocess.run([str(bin_dir / "createdb"), *common, name], check=True)
    return postgres_server.url(name)
