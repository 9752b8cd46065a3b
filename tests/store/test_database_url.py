"""Database URLs: only what works is accepted, nothing echoes a password, nothing hangs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from jobs.errors import error_text
from jobs.store import open_store
from jobs.store.database import (
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_STATEMENT_TIMEOUT_SECONDS,
    create_store_engine,
    database_failure,
)
from tests.conftest import REPO, Capplan
from tests.servers.postgres import _as_server_user, _bin_dir, _free_port

SECRET = "Secret9pw"


def run_capplan(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "jobs.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("url", "mistake"),
    [
        (f"postgres://capplan:{SECRET}@db.example.org/capplan", "'postgres://' is not supported"),
        (f"postgresql+psycopg2://capplan:{SECRET}@db.example.org/capplan", "'psycopg2'"),
        (f"postgresql+psycopg://capplan:{SECRET}@db.example.org:port/capplan", "port is not a"),
        (f"postgresql+psycopg://capplan:{SECRET}@db.example.org:70000/c", "port 70000 is out of"),
        (f"capplan:{SECRET}@db.example.org/capplan", "not a URL"),
        (f"mysql://capplan:{SECRET}@db.example.org/capplan", "'mysql' is not supported"),
        (f"postgresql+psycopg://capplan:{SECRET}@h/c?connect_timeout=soon", "connect_timeout"),
        (f"postgresql+psycopg://capplan:{SECRET}@h/c?statement_timeout=-1", "statement_timeout"),
        (f"postgresql://capplan:{SECRET}/with-slash@h/c?statement_timeout=x", "statement_timeout"),
    ],
)
def test_malformed_url_names_the_mistake_and_masks_the_password(
    capplan: Capplan, url: str, mistake: str
) -> None:
    result = Capplan(url)("schedule", expect=2)
    assert result.stdout == ""
    assert "Traceback" not in result.output and SECRET not in result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: invalid database URL ") and mistake in line
    assert "capplan:***@" in line
    assert "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DBNAME" in line
    assert "sqlite:///" in line


def test_refused_connection_is_one_line(capplan: Capplan) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    url = f"postgresql+psycopg://capplan:{SECRET}@127.0.0.1:{port}/capplan"
    line = one_error_line(run_capplan("--database", url, "schedule"))
    assert line == f"Error: cannot connect to 127.0.0.1:{port} (database capplan) as capplan: " + (
        "Connection refused"
    )


@pytest.fixture(scope="module")
def password_server() -> Iterator[tuple[int, str]]:
    """A PostgreSQL server of its own that checks passwords (the shared one trusts all)."""
    bin_dir = _bin_dir()
    prefix, give = _as_server_user()
    root = Path(tempfile.mkdtemp(prefix="capplan-pgauth-"))
    root.chmod(0o755)
    data, sockets, pwfile = root / "data", root / "sockets", root / "pw"
    for path in (data, sockets):
        path.mkdir()
        give(path)
    pwfile.write_text(SECRET + "\n")
    log = root / "log"
    log.touch()
    for path in (pwfile, log):
        give(path)
    subprocess.run(
        [
            *prefix,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "capplan",
            "--no-sync",
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
        ],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-t", "60"]
    subprocess.run(
        [*pg_ctl, "-o", options, "-l", str(log), "start"], check=True, capture_output=True
    )
    try:
        yield port, f"postgresql+psycopg://capplan:{SECRET}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def test_wrong_password_is_one_line(password_server: tuple[int, str]) -> None:
    port, url = password_server
    Capplan(url)("schedule")  # the right password works
    wrong = url.replace(SECRET, "Wrong7pw")
    line = one_error_line(run_capplan("--database", wrong, "schedule"))
    assert line == (
        f"Error: cannot connect to 127.0.0.1:{port} (database postgres) as capplan: "
        'password authentication failed for user "capplan"'
    )


def test_server_side_refusal_is_one_line(postgres_url: str) -> None:
    url = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
    line = one_error_line(run_capplan("--database", url, "schedule"))
    assert "cannot connect to 127.0.0.1:" in line and "as capplan:" in line
    assert line.endswith('database "no_such_database" does not exist')


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()
    for connection in held:
        connection.close()


def test_silent_server_fails_within_the_connect_timeout(silent_server: int) -> None:
    url = f"postgresql+psycopg://capplan:{SECRET}@127.0.0.1:{silent_server}/capplan"
    started = time.monotonic()
    result = run_capplan("--database", f"{url}?connect_timeout=2", "schedule", timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    line = one_error_line(result)
    assert f"cannot connect to 127.0.0.1:{silent_server}" in line and "timeout" in line
    assert SECRET not in line
    assert elapsed < 15, elapsed  # 2 s plus interpreter start-up on a busy machine


def test_silent_server_default_timeout(silent_server: int) -> None:
    url = f"postgresql+psycopg://capplan@127.0.0.1:{silent_server}/capplan"
    started = time.monotonic()
    result = run_capplan("--database", url, "schedule", timeout=120)
    elapsed = time.monotonic() - started
    assert result.returncode == 1 and "timeout" in one_error_line(result)
    assert DEFAULT_CONNECT_TIMEOUT_SECONDS <= elapsed < DEFAULT_CONNECT_TIMEOUT_SECONDS + 15


def test_statement_timeout_is_set_by_default_and_configurable(postgres_url: str) -> None:
    engine = open_store(postgres_url)
    with engine.connect() as connection:
        default = connection.execute(text("SHOW statement_timeout")).scalar_one()
        name = connection.execute(text("SHOW application_name")).scalar_one()
    engine.dispose()
    assert default == f"{DEFAULT_STATEMENT_TIMEOUT_SECONDS // 60}min"
    assert name == "capplan"

    engine = create_store_engine(f"{postgres_url}?statement_timeout=1")
    with engine.connect() as connection:
        assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "1s"
    engine.dispose()
    url = f"{postgres_url}?statement_timeout=1"
    capplan = Capplan(url)
    capplan("schedule")  # the option is not passed on to libpq, which would refuse it


def test_a_long_statement_is_cut_off_with_one_line(postgres_url: str) -> None:
    engine = create_store_engine(f"{postgres_url}?statement_timeout=1")
    with pytest.raises(DBAPIError) as caught, engine.connect() as connection:
        connection.execute(text("SELECT pg_sleep(5)"))
    engine.dispose()
    assert database_failure(caught.value) == (
        "database error: canceling statement due to statement timeout"
    )
    assert error_text(caught.value) == database_failure(caught.value)  # what ledgers record


def test_postgresql_without_driver_uses_psycopg(postgres_url: str) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    Capplan(plain)("schedule")


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[list[Path]]:
    """Files made read-only for this process, root included (which ignores file modes)."""
    made: list[Path] = []
    yield made
    for path in made:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=False)
        path.chmod(0o644)


def _make_read_only(path: Path, made: list[Path]) -> None:
    path.chmod(0o444)
    made.append(path)
    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
        if done.returncode != 0:
            # Root ignores file modes; without chattr this test would prove nothing.
            pytest.fail(f"as root a file is read-only only with chattr +i: {done.stderr!r}")


def test_read_only_sqlite_file_is_refused(tmp_path: Path, read_only: list[Path]) -> None:
    database = tmp_path / "capplan.db"
    url = f"sqlite:///{database}"
    Capplan(url)("schedule")
    for path in tmp_path.glob("capplan.db*"):
        _make_read_only(path, read_only)
    result = run_capplan("--database", url, "ingest", "--csv", "/dev/null")
    assert result.returncode == 2
    line = one_error_line(result)
    assert (
        line == f"Error: the SQLite database {database} is read-only; capplan needs to write to it"
    )
