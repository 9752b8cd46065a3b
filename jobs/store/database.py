"""Engine creation: SQLite in WAL mode by default, or PostgreSQL through psycopg 3.

Only these two are supported (the SQL is written and tested for them). A URL
is checked before anything connects, and no message here carries a password.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from jobs.errors import StoreError

DEFAULT_DATABASE_URL = "sqlite:///capplan.db"
ACCEPTED_FORMS = (
    "sqlite:///relative/path.db, sqlite:////absolute/path.db or "
    "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DBNAME"
)
# PostgreSQL defaults, overridable in the URL (?connect_timeout=S&statement_timeout=S):
# a server that accepts TCP but never answers must not hang cron jobs.
DEFAULT_CONNECT_TIMEOUT_SECONDS = 10
DEFAULT_STATEMENT_TIMEOUT_SECONDS = 300
_KEEPALIVES = {"keepalives": "1", "keepalives_idle": "30", "keepalives_interval": "10"}
_SQLITE_DRIVERS = ("sqlite", "sqlite+pysqlite")
_POSTGRES_DRIVERS = ("postgresql", "postgresql+psycopg")


class DatabaseURLError(StoreError):
    """A database URL capplan cannot use; nothing was connected to."""

    exit_code = 2


class DatabaseAccessError(StoreError):
    """A database that cannot be used as configured (read-only, unreachable folder)."""

    exit_code = 2


def mask_password(url: str) -> str:
    """``url`` with whatever sits between ``user:`` and the last ``@`` replaced by ``***``."""
    scheme, separator, rest = url.strip().partition("://")
    if not separator:
        scheme, rest = "", scheme
    userinfo, at, host_and_path = rest.rpartition("@")
    user, colon, _password = userinfo.partition(":")
    if not at or not colon:
        return url.strip()
    return f"{scheme}{separator}{user}:***@{host_and_path}"


def _refuse(url: str, mistake: str) -> DatabaseURLError:
    return DatabaseURLError(
        f"invalid database URL {mask_password(url)}: {mistake}; accepted forms: {ACCEPTED_FORMS}"
    )


def parse_database_url(url: str) -> URL:
    """The URL capplan connects to, or a ``DatabaseURLError`` naming the mistake."""
    try:
        parsed = make_url(url.strip())
    except ValueError as exc:  # make_url's int() of the port
        raise _refuse(url, "the port is not a number") from exc
    except ArgumentError as exc:
        raise _refuse(
            url, "not a URL (it needs a scheme such as sqlite:// or postgresql+psycopg://)"
        ) from exc
    name = parsed.drivername
    if name in ("postgres", "postgres+psycopg"):
        raise _refuse(
            url, "the scheme 'postgres://' is not supported, write 'postgresql+psycopg://'"
        )
    if name.startswith("postgresql+") and name not in _POSTGRES_DRIVERS:
        driver = name.partition("+")[2]
        raise _refuse(url, f"driver '{driver}' is not supported, write 'postgresql+psycopg://'")
    if name not in (*_SQLITE_DRIVERS, *_POSTGRES_DRIVERS):
        raise _refuse(url, f"'{name}' is not supported: capplan stores in SQLite or PostgreSQL")
    if name in _POSTGRES_DRIVERS:
        if parsed.port is not None and not 1 <= parsed.port <= 65535:
            raise _refuse(url, f"port {parsed.port} is out of range (1-65535)")
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _seconds(parsed: URL, query: dict[str, str | tuple[str, ...]], key: str, default: int) -> int:
    value = query.pop(key, str(default))
    if not isinstance(value, str) or not value.isdigit():
        raise _refuse(
            parsed.render_as_string(hide_password=True),
            f"{key} must be a whole number of seconds (0: no limit)",
        )
    return int(value)


def _postgres_connect_args(parsed: URL) -> tuple[URL, dict[str, Any]]:
    query = dict(parsed.query)
    statement = _seconds(parsed, query, "statement_timeout", DEFAULT_STATEMENT_TIMEOUT_SECONDS)
    connect = _seconds(parsed, query, "connect_timeout", DEFAULT_CONNECT_TIMEOUT_SECONDS)
    args: dict[str, Any] = {"connect_timeout": connect}
    for key, default in (*_KEEPALIVES.items(), ("application_name", "capplan")):
        if key not in query:
            args[key] = default
    options = f"-c statement_timeout={statement * 1000}"
    extra = query.pop("options", None)
    if isinstance(extra, str):
        options = f"{options} {extra}"
    args["options"] = options
    return parsed.set(query=query), args


def _tune_sqlite(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # WAL lets report jobs read while an ingest writes; busy_timeout makes
    # concurrent cron jobs wait for the lock instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _check_sqlite_file(path: Path) -> None:
    # WAL needs to write the file and create -wal/-shm next to it, even to read.
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseAccessError(
            f"cannot create the folder of the SQLite database {path}: {exc.strerror}"
        ) from exc
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise DatabaseAccessError(
            f"the SQLite database {path} is read-only; capplan needs to write to it"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DatabaseAccessError(
            f"the folder of the SQLite database {path} is read-only; capplan needs to "
            "create its journal files there"
        )


def create_store_engine(url: str) -> Engine:
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _check_sqlite_file(Path(parsed.database).expanduser())
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    parsed, connect_args = _postgres_connect_args(parsed)
    return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)


def check_connection(engine: Engine) -> None:
    """Connects once, so that an unreachable server is reported as such, in one line."""
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        raise StoreError(connection_failure(engine.url, exc)) from exc


def _reason(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip()
    if isinstance(cause, sqlite3.Error) or "sqlite" in type(cause).__module__:
        return text.splitlines()[0] if text else type(cause).__name__
    # libpq: 'connection failed: connection to server at "h", port p failed: FATAL:  why'
    parts = [line.strip() for line in text.splitlines() if line.strip()]
    first = parts[0] if parts else type(cause).__name__
    first = first.rsplit(" failed: ", 1)[-1]
    return re.sub(r"^(FATAL|ERROR):\s+", "", first).removeprefix("connection failed: ")


def connection_failure(url: URL, exc: BaseException) -> str:
    """'cannot connect to host:port as user: why', with no password or SQL in it."""
    if url.get_backend_name() == "sqlite":
        return f"cannot open the SQLite database {url.database}: {_reason(exc)}"
    host = url.host or "the local socket"
    port = url.port or 5432
    user = url.username or "the current user"
    reason = _reason(exc)
    if "timeout expired" in reason:
        reason = f"{reason} (?connect_timeout=SECONDS in the database URL sets the limit)"
    return f"cannot connect to {host}:{port} (database {url.database}) as {user}: {reason}"


# Driver texts of a connection that went away (the server restarted, a backend
# was terminated, the network dropped): SQLAlchemy flags them, a raw driver
# error (COPY on the driver's own connection) is recognised by its text.
_LOST = (
    "terminating connection",
    "server closed the connection",
    "connection is closed",
    "consuming input failed",
    "connection is lost",
    "ssl syscall error",
)


def _connection_lost(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    cause = getattr(exc, "orig", None) or exc
    return any(marker in str(cause).lower() for marker in _LOST)


def database_failure(exc: BaseException, url: URL | None = None) -> str:
    """One line for a database error in the middle of a command: no SQL, no parameters."""
    if _connection_lost(exc):
        where = f" at {url.host}:{url.port or 5432}" if url is not None and url.host else ""
        return f"lost the connection to the database{where}: {_reason(exc)}; re-run to continue"
    return f"database error: {_reason(exc)}"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
