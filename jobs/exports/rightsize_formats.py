"""The output formats of ``capplan rightsize``: a small registry looked up by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from forecasting.rightsizing.fleet import Recommendation
from jobs.config import Config
from jobs.errors import CapplanError
from jobs.exports import compose, kubernetes
from jobs.exports.sizing import per_service


@dataclass(frozen=True)
class Rendered:
    """What a format produced: files to write under ``--out``, or one stream for stdout.

    ``directory``: ``--out`` names a folder that receives every file; otherwise
    ``--out`` is the one file. ``apply(name, path)`` is the command that applies
    the file ``name`` once written at ``path``.
    """

    files: tuple[tuple[str, str], ...]
    stream: str
    directory: bool = False
    apply: Callable[[str, str], str] | None = None


Renderer = Callable[[Sequence[Recommendation], Config, datetime], Rendered]


class UnknownFormatError(CapplanError):
    exit_code = 2


def _plain(fmt: str) -> Renderer:
    def render(recs: Sequence[Recommendation], config: Config, as_of: datetime) -> Rendered:
        from jobs.planning import render_recommendations

        text = render_recommendations(recs, as_of, fmt)
        text = text if text.endswith("\n") else text + "\n"
        return Rendered(((f"rightsize.{fmt}", text),), text)

    return render


def _compose(recs: Sequence[Recommendation], config: Config, as_of: datetime) -> Rendered:
    sizings = per_service(recs, config.costs.currency)
    text = compose.compose_override(sizings, as_of, config.rightsizing.limit_headroom)
    return Rendered(
        ((compose.DEFAULT_FILENAME, text),), text, apply=lambda _, path: compose.apply_command(path)
    )


def workloads(config: Config) -> dict[str, kubernetes.Workload]:
    out = {}
    for name, service in config.services.items():
        k = service.kubernetes
        out[name] = kubernetes.Workload(k.kind, k.name or name, k.namespace, k.container or name)
    return out


def _kubernetes(recs: Sequence[Recommendation], config: Config, as_of: datetime) -> Rendered:
    sizings = per_service(recs, config.costs.currency)
    found = workloads(config)
    unnamed = [
        s.service
        for s in sizings
        if not kubernetes.valid_name(found[s.service].name)
        or not kubernetes.valid_name(found[s.service].container)
    ]
    if unnamed:
        raise kubernetes.KubernetesNameError(
            "services.<name>.kubernetes: set name and container for services whose names are "
            f"not Kubernetes names: {', '.join(kubernetes.quoted(n) for n in unnamed)}"
        )
    patches = kubernetes.kubernetes_patches(
        sizings, found, as_of, config.rightsizing.limit_headroom
    )
    by_name = {p.filename: p for p in patches}
    return Rendered(
        tuple((p.filename, p.text) for p in patches),
        kubernetes.as_stream(patches),
        directory=True,
        apply=lambda name, path: by_name[name].apply_command(path),
    )


FORMATS: dict[str, Renderer] = {
    "table": _plain("table"),
    "json": _plain("json"),
    "csv": _plain("csv"),
    "compose": _compose,
    "kubernetes": _kubernetes,
}


def find(name: str) -> Renderer:
    try:
        return FORMATS[name]
    except KeyError:
        raise UnknownFormatError(
            f"unknown format {name!r}; choose one of {', '.join(FORMATS)}"
        ) from None
