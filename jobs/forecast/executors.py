"""Running independent tasks in-process, on a local process pool, or on a Dask cluster.

The local pool's workers come from a fork server, never from a plain fork of
the caller: run-due starts the pool while its lease-renewal thread runs, and
forking a threaded process can copy a lock another thread holds. The fork
server imports the heavy modules once (``preload``) and forks every worker
from that state, so a worker starts in milliseconds instead of importing
Prophet again. Workers exit on their own when the process that started the
pool dies (``kill -9`` included), instead of lingering blocked on its queue.
"""

from __future__ import annotations

import ctypes
import importlib
import multiprocessing
import multiprocessing.forkserver
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing.context import BaseContext
from typing import Literal, TypeVar

from jobs.errors import CapplanError

T = TypeVar("T")
R = TypeVar("R")

Executor = Literal["process", "dask"]

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_POLL_SECONDS = 0.5


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def pool_size(workers: int | None, items: int) -> int:
    """Worker processes for ``items`` tasks: never more than there are tasks."""
    return max(1, min(workers or default_workers(), items))


def pool_context(preload: Sequence[str] = ()) -> BaseContext:
    ctx = multiprocessing.get_context("forkserver")
    # Only takes effect if the fork server is not running yet; a running one is reused.
    ctx.set_forkserver_preload(list(preload))
    return ctx


def start_fork_server(preload: Sequence[str] = ()) -> None:
    """Starts the fork server now, so its imports overlap the caller's own work."""
    pool_context(preload)
    multiprocessing.forkserver.ensure_running()


def _exit_with(parent: int, preload: Sequence[str]) -> None:
    """Worker initializer: die with ``parent``, then import what the tasks need."""
    if sys.platform == "linux":
        # The fork server is our parent process; if it dies, so do we.
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # The process that owns the pool is not our parent (the fork server is) and
    # the fork server outlives it while workers hold its "alive" pipe, so the
    # owner is watched directly.
    threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()
    for name in preload:
        importlib.import_module(name)  # already imported when the fork server preloaded it


def _watch(parent: int) -> None:
    try:
        handle = os.pidfd_open(parent)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):
        handle = None  # no pidfd (old kernel, not Linux): poll instead
    if handle is not None:
        select.select([handle], [], [])  # readable once the parent has exited
    else:
        while _alive(parent):
            time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_all(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    workers: int | None = None,
    executor: Executor = "process",
    scheduler: str | None = None,
    on_done: Callable[[int], None] | None = None,
    preload: Sequence[str] = (),
) -> list[R]:
    """Results in the order of ``items``; ``fn`` must not raise for an item that is just bad.

    ``preload``: modules every task imports, loaded once by the pool's fork server.
    """
    if executor == "dask":
        if not scheduler:
            raise CapplanError("--executor dask needs --scheduler ADDRESS (e.g. tcp://host:8786)")
        return _run_dask(fn, items, scheduler, on_done)
    count = pool_size(workers, len(items))
    if count <= 1:
        results = []
        for item in items:
            results.append(fn(item))
            if on_done is not None:
                on_done(1)
        return results
    out: list[R | None] = [None] * len(items)
    with ProcessPoolExecutor(
        max_workers=count,
        mp_context=pool_context(preload),
        initializer=_exit_with,
        initargs=(os.getpid(), tuple(preload)),
    ) as pool:
        futures = {pool.submit(fn, item): index for index, item in enumerate(items)}
        for future in as_completed(futures):
            out[futures[future]] = future.result()
            if on_done is not None:
                on_done(1)
    return [result for result in out if result is not None]


def _run_dask(
    fn: Callable[[T], R],
    items: Sequence[T],
    scheduler: str,
    on_done: Callable[[int], None] | None,
) -> list[R]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    try:
        client = Client(scheduler, timeout="30s")  # type: ignore[no-untyped-call]
    except OSError as exc:
        raise CapplanError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
    try:
        futures = client.map(fn, list(items), pure=False)
        for _ in dask_completed(futures):  # type: ignore[no-untyped-call]
            if on_done is not None:
                on_done(1)
        return list(client.gather(futures))  # type: ignore[no-untyped-call]
    finally:
        client.close()  # type: ignore[no-untyped-call]
