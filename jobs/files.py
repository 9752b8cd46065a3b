"""Writing output files so that readers never see half of one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, body: bytes, mode: int = 0o644) -> None:
    """Write ``body`` to ``path``: readers (and a crash mid-write) see the old file or the new.

    The bytes go to a file beside it, are flushed to disk, then renamed over it —
    what node_exporter's textfile collector and a PDF reader both rely on.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(body)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
