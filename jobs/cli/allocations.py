"""``capplan allocations [--service S] [--format table|json]``."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from jobs.cli.context import AppContext
from jobs.cli.options import format_option, now_utc, service_option
from jobs.errors import CapplanError, shown


class UnknownServiceError(CapplanError):
    exit_code = 2


def _since(effective_from: int) -> str | None:
    """None for the first recorded value: it stands for all time before any change."""
    if effective_from == 0:
        return None
    return datetime.fromtimestamp(effective_from, tz=UTC).isoformat().replace("+00:00", "Z")


@click.command("allocations")
@service_option(repeatable=False)
@format_option(["table", "json"])
@click.pass_obj
def allocations(app: AppContext, service: str | None, fmt: str) -> None:
    """Allocation history: each value, when it took effect and where it came from.

    A change to the configuration's services is recorded first, in force from now.
    """
    from jobs.store.allocations import allocation_records, sync_from_config

    config, engine = app.config, app.engine()
    recorded = sync_from_config(engine, config, now_utc())
    records = allocation_records(engine, service)
    if service is not None and not records:
        raise UnknownServiceError(
            f"--service: no allocation recorded for {shown(service)} "
            f"(services: {', '.join(sorted(config.services))})"
        )
    in_force = {(r.service, r.resource): r for r in records}  # the last one wins
    records.sort(key=lambda r: (r.service, r.resource))  # stable: time order within
    if fmt == "json":
        payload = [
            {
                "service": r.service,
                "resource": r.resource,
                "value": r.value,
                "effective_from": _since(r.effective_from),
                "source": r.source,
                "in_force": in_force[(r.service, r.resource)] is r,
            }
            for r in records
        ]
        click.echo(json.dumps({"allocations": payload}, indent=2))
        return
    if recorded:
        click.echo(f"recorded {recorded} allocation(s) from the configuration")
    header = f"{'service':<12} {'resource':<10} {'value':>8}  {'effective from':<20}  source"
    click.echo(header)
    click.echo("-" * (len(header) + 12))
    for r in records:
        since = _since(r.effective_from) or "first recorded"
        mark = "  (in force)" if in_force[(r.service, r.resource)] is r else ""
        click.echo(f"{r.service:<12} {r.resource:<10} {r.value:>8g}  {since:<20}  {r.source}{mark}")


COMMANDS = (allocations,)
