"""Bulk writes to PostgreSQL: binary COPY into a staging table, then one set-based upsert.

Row-by-row ``INSERT ... RETURNING`` built from Python dictionaries spends its
time in the driver; COPY moves whole numpy columns, and the upsert runs inside
the server in one statement.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import BigInteger, Connection, Float, Integer
from sqlmodel import SQLModel

_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)


def dbapi_connection(connection: Connection) -> Any:
    """The driver's connection under ``connection``, in the same transaction."""
    return connection.connection.driver_connection


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
    rows = len(next(iter(data.values())))
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


def copy_upsert(
    connection: Connection,
    table_name: str,
    columns: Mapping[str, Any],
    *,
    update: Sequence[str],
) -> tuple[int, int]:
    """Upserts rows given as columns (numpy arrays; text columns as one str for all rows).

    Keys must be distinct. Rows whose ``update`` columns already hold the same
    values are left alone. Returns (inserted, inserted + changed).
    """
    table = SQLModel.metadata.tables[table_name]
    names = list(columns)
    kinds = [_binary_type(table.c[name]) for name in names]
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
        with cursor.copy(f"COPY {staging} ({listed}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(_HEADER)
            copy.write(_encode(names, kinds, columns))
            copy.write(_TRAILER)
        assignments = ", ".join(f"{name} = EXCLUDED.{name}" for name in update)
        current = ", ".join(f"{table_name}.{name}" for name in update)
        proposed = ", ".join(f"EXCLUDED.{name}" for name in update)
        cursor.execute(
            f"WITH changed AS (INSERT INTO {table_name} ({listed}) "
            f"SELECT {listed} FROM {staging} "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {assignments} "
            f"WHERE ({current}) IS DISTINCT FROM ({proposed}) "
            # xmax is 0 for a row this statement inserted, set for one it updated.
            "RETURNING (xmax = 0) AS inserted) "
            "SELECT COUNT(*) FILTER (WHERE inserted), COUNT(*) FROM changed"
        )
        row = cursor.fetchone()
    assert row is not None
    return int(row[0]), int(row[1])
