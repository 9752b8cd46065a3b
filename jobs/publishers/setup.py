"""The configured publishers, built once before anything is delivered.

Credentials are read from the ``env`` mapping the command passes in, never
from ``os.environ`` here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from jobs.config import Config
from jobs.publishers import Publisher, find

#: The configured targets, in delivery order.
Publishers = Sequence[Publisher]


def make_publishers(config: Config, *, env: Mapping[str, str]) -> Publishers:
    """Builds every target first, so missing settings fail before any delivery."""
    targets = sorted(config.publish.targets, key=lambda name: find(name).order)
    built: dict[str, Publisher] = {}
    for name in targets:
        settings = config.publish.settings(name)
        assert settings is not None  # the config validator guarantees it
        built[name] = find(name).build(settings, env=env, built=dict(built))
    return list(built.values())
