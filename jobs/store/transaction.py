"""One transaction for a whole write, whether the caller passes an engine or a connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine


@contextmanager
def writing(bind: Engine | Connection) -> Iterator[Connection]:
    """A connection in a transaction: the caller's own (it commits), or a new one committed here."""
    if isinstance(bind, Connection):
        yield bind
        return
    with bind.begin() as connection:
        yield connection
