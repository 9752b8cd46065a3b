"""Bulk writes to PostgreSQL: binary COPY into a staging table, then one set-based upsert.

Row-by-row ``INSERT ... RETURNING`` built from Python dictionaries spends its
time in the driver; COPY moves whole numpy columns, and the upsert runs inside
the server in one statement.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, Connection, Float, Integer
from sqlmodel import SQLModel

_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)


def dbapi_connection(connection: Connection) -> Any:
    """The driver's connection under ``connection``, in the same transaction."""
    return connection.connection.driver_connection


def row_count(columns: Mapping[str, Any]) -> int:
    """Rows in ``columns``: arrays, or one str standing for a whole text column."""
    return min((len(v) for v in columns.values() if not isinstance(v, str)), default=0)


def _binary_type(column: Any) -> str | None:
    """numpy's big-endian dtype for a fixed-width column, None for text."""
    if isinstance(column.type, BigInteger):
        return ">i8"
    if isinstance(column.type, Integer):
        return ">i4"
    if isinstance(column.type, Float):
        return ">f8"
    return None


def _encode(names: Sequence[str], kinds: Sequence[str | None], data: Mapping[str, Any]) -> bytes:
    """COPY BINARY tuples for rows whose text columns all hold the same value."""
    rows = row_count(data)
    fields: list[tuple[str, str]] = [(" fields", ">i2")]
    texts: dict[str, bytes] = {}
    for name, kind in zip(names, kinds, strict=True):
        fields.append((f" {name} length", ">i4"))
        if kind is None:
            texts[name] = str(data[name]).encode()
            fields.append((name, f"S{len(texts[name])}"))
        else:
            fields.append((name, kind))
    records = np.empty(rows, dtype=np.dtype(fields))
    records[" fields"] = len(names)
    for name, kind in zip(names, kinds, strict=True):
        if kind is None:
            records[f" {name} length"] = len(texts[name])
            records[name] = texts[name]
        else:
            records[f" {name} length"] = np.dtype(kind).itemsize
            records[name] = data[name]
    return records.tobytes()


def _copy(cursor: Any, table: str, names: Sequence[str], data: Mapping[str, Any]) -> None:
    if row_count(data) == 0:
        return
    model = SQLModel.metadata.tables[table.removeprefix("staging_")]
    kinds = [_binary_type(model.c[name]) for name in names]
    failed: Exception | None = None
    with cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)") as copy:
        # A failed write leaves the block normally: leaving it with an exception on a
        # lost connection makes psycopg log a warning of its own besides the error.
        try:
            copy.write(_HEADER)
            copy.write(_encode(names, kinds, data))
            copy.write(_TRAILER)
        except Exception as exc:
            failed = exc
    if failed is not None:
        raise failed


def copy_insert(connection: Connection, table_name: str, columns: Mapping[str, Any]) -> int:
    """COPY rows straight into the table: for keys known to be absent (about four times
    faster than an upsert). A concurrent writer of the same keys makes it fail, and the
    transaction with it, rather than merge: the store stays consistent, a re-run merges."""
    with dbapi_connection(connection).cursor() as cursor:
        _copy(cursor, table_name, list(columns), columns)
    return row_count(columns)


def copy_upsert(
    connection: Connection,
    table_name: str,
    columns: Mapping[str, Any],
    *,
    update: Sequence[str],
) -> int:
    """Upserts rows given as columns (numpy arrays; text columns as one str for all rows).

    Keys must be distinct. Rows whose ``update`` columns already hold the same
    values are left alone. Returns how many rows were inserted or changed.
    """
    table = SQLModel.metadata.tables[table_name]
    names = list(columns)
    staging = f"staging_{table_name}"
    keys = [column.name for column in table.primary_key.columns]
    listed = ", ".join(names)
    driver = dbapi_connection(connection)
    with driver.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} "
            f"(LIKE {table_name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        cursor.execute(f"TRUNCATE {staging}")
        _copy(cursor, staging, names, columns)
        assignments = ", ".join(f"{name} = EXCLUDED.{name}" for name in update)
        current = ", ".join(f"{table_name}.{name}" for name in update)
        proposed = ", ".join(f"EXCLUDED.{name}" for name in update)
        merge = (
            f"INSERT INTO {table_name} ({listed}) SELECT {listed} FROM {staging} "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {assignments} "
            f"WHERE ({current}) IS DISTINCT FROM ({proposed})"
        )
        cursor.execute(merge)
        return int(cursor.rowcount)


def overlapped(on_server: Callable[[], object], here: Callable[[], None]) -> None:
    """Runs ``on_server`` (database work; the driver releases the GIL while it waits) in
    a thread and ``here`` (work needing no database) in this one, so the client's and
    the server's work overlap; re-raises the first failure once both are done."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            on_server()
        except BaseException as exc:  # handed to the calling thread
            failure.append(exc)

    worker = threading.Thread(target=target, name="capplan-merge")
    worker.start()
    try:
        here()
    finally:
        worker.join()
    if failure:
        raise failure[0]
