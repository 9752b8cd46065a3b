from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _warnings_are_errors() -> Iterator[None]:
    # Our own code must not warn; Prophet's internal pandas deprecations are
    # filtered inside the engine, so anything that reaches here is ours.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
