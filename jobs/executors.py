"""Running independent tasks in-process, on a local process pool, or on a Dask cluster."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Literal, TypeVar

from jobs.errors import CapplanError

T = TypeVar("T")
R = TypeVar("R")

Executor = Literal["process", "dask"]


def _warm_worker() -> None:
    # Importing Prophet (and silencing cmdstan) once per worker, not per task.
    import forecasting.model  # noqa: F401


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def run_all(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    workers: int | None = None,
    executor: Executor = "process",
    scheduler: str | None = None,
    on_done: Callable[[int], None] | None = None,
) -> list[R]:
    """Results in the order of ``items``; ``fn`` must not raise for an item that is just bad."""
    if executor == "dask":
        if not scheduler:
            raise CapplanError("--executor dask needs --scheduler ADDRESS (e.g. tcp://host:8786)")
        return _run_dask(fn, items, scheduler, on_done)
    count = min(workers or default_workers(), len(items))
    if count <= 1:
        results = []
        for item in items:
            results.append(fn(item))
            if on_done is not None:
                on_done(1)
        return results
    out: list[R | None] = [None] * len(items)
    with ProcessPoolExecutor(max_workers=count, initializer=_warm_worker) as pool:
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
